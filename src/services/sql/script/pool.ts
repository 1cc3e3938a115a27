/**
 * Worker threads that run scripts, created lazily (no cost until the first script) and capped at a fixed
 * count; further scripts wait for a free worker. Each run has a watchdog: QuickJS interrupts itself at the
 * deadline, and if that does not happen (the script is blocked in a host call, or wasm is stuck) the worker
 * is terminated and replaced. Workers are unref'd and terminated by `close()`, so they never keep the
 * process alive.
 */
import { readFileSync } from "node:fs";
import { ConnectError } from "@connectrpc/connect";
import { dirname, join } from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { MessageChannel, Worker, type MessagePort } from "node:worker_threads";
import type {
  DoneMessage,
  FailureReason,
  ReadyMessage,
  RunMessage,
  ScriptLimits,
  SqlReply,
  WorkerInit,
  WorkerMessage,
} from "./protocol.js";
import { fromMarked, newMark, toMarked } from "./marked-json.js";

/** Time the sandbox gets to interrupt itself before its worker is terminated. */
const WATCHDOG_GRACE_MS = 200;

export class ScriptFailure extends Error {
  constructor(
    readonly reason: FailureReason,
    message: string,
  ) {
    super(message);
  }
}

/** Runs one SQL call of a script; returns what the script receives (JSON-able, bigint allowed). */
export type SqlHandler = (op: "query" | "execute", sql: string, params: unknown[]) => Promise<unknown>;

export interface Lease {
  /** Runs the script; rejects with ScriptFailure. The time limit starts now. */
  run(code: string, input: unknown, onSql: SqlHandler): Promise<unknown>;
  release(): void;
}

interface Slot {
  worker: Worker;
  flag: Int32Array;
  reply: MessagePort;
}

export class ScriptPool {
  private idle: Slot[] = [];
  private count = 0;
  private waiting: Array<(s: Slot) => void> = [];
  private wasm: Promise<WebAssembly.Module> | undefined;
  private closed = false;
  private live = new Set<Slot>();

  constructor(
    readonly limits: ScriptLimits,
    private readonly size: number,
  ) {}

  async acquire(): Promise<Lease> {
    if (this.closed) throw new ScriptFailure("error", "the script pool is closed");
    const slot =
      this.idle.pop() ??
      (this.count < this.size ? await this.spawn() : await new Promise<Slot>((r) => this.waiting.push(r)));
    let done = false;
    let dead = false;
    return {
      run: (code, input, onSql) =>
        this.runOn(slot, code, input, onSql).catch((err) => {
          if (err instanceof ScriptFailure && (err as ScriptFailure & { killed?: boolean }).killed) dead = true;
          throw err;
        }),
      release: () => {
        if (done) return;
        done = true;
        if (dead) this.discard(slot);
        else this.giveBack(slot);
      },
    };
  }

  /** Workers running a script, started and free, and scripts waiting for one (for metrics and /stats). */
  stats(): { busy: number; idle: number; waiting: number } {
    return { busy: this.count - this.idle.length, idle: this.idle.length, waiting: this.waiting.length };
  }

  async close(): Promise<void> {
    this.closed = true;
    const slots = [...this.live];
    this.idle = [];
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  private async spawn(): Promise<Slot> {
    this.count++;
    try {
      this.wasm ??= loadWasm();
      const wasm = await this.wasm;
      const flag = new Int32Array(new SharedArrayBuffer(4));
      const { port1, port2 } = new MessageChannel();
      const init: WorkerInit = {
        wasm,
        flag: flag.buffer as SharedArrayBuffer,
        reply: port2,
        memoryBytes: this.limits.memoryBytes,
      };
      const [entry, how] = workerEntry();
      const worker = new Worker(entry, {
        ...how,
        workerData: init,
        transferList: [port2],
        resourceLimits: { maxOldGenerationSizeMb: 256 },
      });
      worker.unref();
      const slot = { worker, flag, reply: port1 };
      this.live.add(slot);
      worker.once("exit", () => this.live.delete(slot));
      // Loading the worker's code and instantiating QuickJS (slow on a busy machine) must not eat into the first
      // script's time limit.
      await new Promise<void>((resolve, reject) => {
        const fail = (e: unknown) => {
          worker.off("message", ready);
          void worker.terminate();
          reject(e instanceof Error ? e : new Error("script worker exited while starting"));
        };
        const ready = (m: ReadyMessage) => {
          if (m.type !== "ready") return;
          worker.off("message", ready).off("error", fail).off("exit", fail);
          resolve();
        };
        worker.on("message", ready).once("error", fail).once("exit", fail);
      });
      return slot;
    } catch (err) {
      this.count--;
      throw err;
    }
  }

  private giveBack(slot: Slot) {
    const next = this.waiting.shift();
    if (next) next(slot);
    else this.idle.push(slot);
  }

  private discard(slot: Slot) {
    this.live.delete(slot);
    void slot.worker.terminate();
    this.count--;
    // Someone waiting gets a fresh worker in place of the discarded one.
    const next = this.waiting.shift();
    if (next && !this.closed) this.spawn().then(next, () => this.waiting.unshift(next));
  }

  private runOn(slot: Slot, code: string, input: unknown, onSql: SqlHandler): Promise<unknown> {
    const mark = newMark();
    const deadline = Date.now() + this.limits.timeMs;
    const { worker } = slot;
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (err: ScriptFailure | undefined, value?: unknown, kill = false) => {
        if (settled) return;
        settled = true;
        clearTimeout(watchdog);
        worker.off("message", onMessage);
        worker.off("error", onError);
        worker.off("exit", onExit);
        if (err) {
          if (kill) Object.assign(err, { killed: true });
          reject(err);
        } else resolve(value);
      };
      const answer = (reply: SqlReply) => {
        if (settled) return;
        slot.reply.postMessage(reply);
        Atomics.store(slot.flag, 0, 1);
        Atomics.notify(slot.flag, 0);
      };
      const onMessage = (m: WorkerMessage) => {
        // What comes from the sandbox is the script's to break (it may replace its own JSON.stringify): a bad
        // message fails the script, never the process.
        if (m.type === "sql") {
          let params: unknown[];
          try {
            params = fromMarked(m.params, mark) as unknown[];
            if (!Array.isArray(params)) throw new Error("not an array");
          } catch (e) {
            answer({ ok: false, message: `sql.${m.op}: params could not be read (${(e as Error).message})` });
            return;
          }
          onSql(m.op, m.sql, params).then(
            (v) => answer({ ok: true, json: toMarked(v, mark) }),
            (e: Error) => answer({ ok: false, message: e instanceof ConnectError ? e.rawMessage : e.message }),
          );
          return;
        }
        const d = m as DoneMessage;
        if (d.ok) {
          let value: unknown;
          try {
            value = fromMarked(d.result, mark);
          } catch (e) {
            finish(new ScriptFailure("error", `the script's result could not be read (${(e as Error).message})`));
            return;
          }
          finish(undefined, value);
        } else finish(new ScriptFailure(d.reason, d.message), undefined, d.recycle);
      };
      const onError = (e: Error) =>
        finish(new ScriptFailure("error", `script worker failed: ${e.message}`), undefined, true);
      const onExit = () => finish(new ScriptFailure("error", "script worker exited"), undefined, true);
      const watchdog = setTimeout(() => {
        finish(
          new ScriptFailure("timeout", `script exceeded the time limit of ${this.limits.timeMs} ms`),
          undefined,
          true,
        );
      }, this.limits.timeMs + WATCHDOG_GRACE_MS);
      worker.on("message", onMessage);
      worker.once("error", onError);
      worker.once("exit", onExit);
      const msg: RunMessage = {
        type: "run",
        code,
        input: toMarked(input, mark),
        bigMark: mark,
        deadline,
        limits: this.limits,
      };
      worker.postMessage(msg);
    });
  }
}

/**
 * The worker's entry. Built code runs worker.js directly; from TypeScript sources (tests, bench) a small
 * bootstrap registers tsx's loader inside the worker first, since loaders of the main thread do not apply there.
 */
function workerEntry(): [string | URL, { eval?: boolean }] {
  if (!import.meta.url.endsWith(".ts")) return [new URL("./worker.js", import.meta.url), {}];
  // tsx's CommonJS api cannot register ESM hooks inside a worker, so take its ESM build from the exports map.
  const pkgPath = createRequire(import.meta.url).resolve("tsx/package.json");
  const pkg = JSON.parse(readFileSync(pkgPath, "utf8")) as { exports: Record<string, { import: { default: string } }> };
  const tsx = pathToFileURL(join(dirname(pkgPath), pkg.exports["./esm/api"]!.import.default)).href;
  const entry = new URL("./worker.ts", import.meta.url).href;
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return [boot, { eval: true }];
}

/** The QuickJS wasm, compiled once and shared by every worker. */
async function loadWasm(): Promise<WebAssembly.Module> {
  const fromQuickjs = createRequire(createRequire(import.meta.url).resolve("quickjs-emscripten"));
  const bytes = readFileSync(fromQuickjs.resolve("@jitl/quickjs-wasmfile-release-sync/wasm"));
  const Wasm = (globalThis as unknown as { WebAssembly: { compile(b: Uint8Array): Promise<WebAssembly.Module> } })
    .WebAssembly;
  return Wasm.compile(bytes);
}
