/**
 * The running policy and where it comes from: a file (`--policy`), read at start-up, again on `reload()`
 * (SIGHUP) and when the file changes; or a document given in code. A file that fails to load at start-up is an
 * error; at a reload it is logged (naming the field at fault) and the running policy stays.
 */
import { watch, type FSWatcher } from "node:fs";
import { basename, dirname } from "node:path";
import type { Logger } from "../../shared/log.js";
import { checkPolicy, readPolicyFile, type ServiceMethods } from "./document.js";
import type { PolicyEvents } from "./events.js";
import { compilePolicy, type Policy } from "./policy.js";

export interface PolicySource {
  /** The policy in force. */
  readonly current: Policy;
  /** Reads the file again; resolves true when the new policy is in force, false when the old one stays. */
  reload(): Promise<boolean>;
  close(): void;
}

export interface PolicySourceOptions {
  services: ServiceMethods;
  /** Every service name a rule may name (those this sidecar does not run only warn). */
  known: readonly string[];
  log: Logger;
  events: PolicyEvents;
  /** Watch the file for changes (default true). */
  watch?: boolean;
}

/** A policy given as data in code: checked and compiled once. */
export function staticPolicy(doc: unknown, o: PolicySourceOptions): PolicySource {
  const { doc: checked, warnings } = checkPolicy(doc, o.services, o.known);
  for (const w of warnings) o.log.warn("policy.warning", { warning: w });
  const current = compilePolicy(checked, o.services);
  o.log.info("policy.loaded", { tokens: current.size });
  return { current, reload: async () => true, close() {} };
}

/** Loads the policy file (throwing PolicyError when it is unusable) and keeps it current. */
export async function filePolicy(path: string, o: PolicySourceOptions): Promise<PolicySource> {
  const load = async () => {
    const { doc, warnings } = await readPolicyFile(path, o.services, o.known);
    return { policy: compilePolicy(doc, o.services), warnings };
  };
  const first = await load();
  for (const w of first.warnings) o.log.warn("policy.warning", { file: path, warning: w });
  o.log.info("policy.loaded", { file: path, tokens: first.policy.size });
  let current = first.policy;
  let running: Promise<boolean> | undefined;
  let again = false;

  const reloadOnce = async (): Promise<boolean> => {
    try {
      const next = await load();
      for (const w of next.warnings) o.log.warn("policy.warning", { file: path, warning: w });
      current = next.policy;
      o.log.info("policy.reloaded", { file: path, tokens: current.size });
      o.events.emit("reloaded", { what: "policy", ok: true });
      return true;
    } catch (err) {
      const error = (err as Error).message;
      o.log.error("policy.reload_failed", { file: path, error, kept: "the running policy" });
      o.events.emit("reloaded", { what: "policy", ok: false, error });
      return false;
    }
  };
  // Reloads never overlap; one asked for while another runs happens after it, so the last write always wins.
  const reload = (): Promise<boolean> => {
    if (running) {
      again = true;
      return running;
    }
    running = reloadOnce().finally(() => {
      running = undefined;
      if (again) {
        again = false;
        void reload();
      }
    });
    return running;
  };

  // The directory is watched rather than the file: editors and config tools replace a file by renaming a
  // new one over it, which a watch on the old file would miss. Bursts of events are folded into one reload.
  let watcher: FSWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;
  if (o.watch !== false) {
    const name = basename(path);
    watcher = watch(dirname(path), (_event, file) => {
      if (file !== null && file !== name) return;
      clearTimeout(timer);
      timer = setTimeout(() => void reload(), 100);
    });
    watcher.on("error", (err) => o.log.warn("policy.watch_failed", { file: path, error: err.message }));
    watcher.unref();
  }

  return {
    get current() {
      return current;
    },
    reload,
    close() {
      clearTimeout(timer);
      watcher?.close();
    },
  };
}
