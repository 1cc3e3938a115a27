/**
 * Worker threads that run scripts, created lazily (no cost until the first script) and capped at a fixed
 * count; further scripts wait for a free worker in a bounded queue, which a caller leaves as soon as its request
 * ends. Each run has a watchdog: QuickJS interrupts itself at the deadline (or when the run's request ends), and
 * if that does not happen (the script is blocked in a host call, or wasm is stuck) the worker is terminated and
 * replaced. Workers are unref'd and terminated by `close()`, so they never keep the process alive.
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
import { type SidecarError, sidecarError } from "../../../shared/errors.js";

/** Time the sandbox gets to interrupt itself before its worker is terminated. */
const WATCHDOG_GRACE_MS = 200;
/** Slot of a worker's shared flag that tells its sandbox to stop (see protocol.ts). */
const STOP = 1;
const MiB = 1024 * 1024;
/** Output of a script (its result, one call's params) when the pool is given no limit. */
const DEFAULT_OUTPUT_BYTES = 16 * MiB;

export class ScriptFailure extends Error {
  constructor(
    readonly reason: FailureReason | "cancelled",
    message: string,
  ) {
    super(message);
  }
}

/** Runs one SQL call of a script; returns what the script receives (JSON-able, bigint allowed). */
export type SqlHandler = (op: "query" | "execute", sql: string, params: unknown[]) => Promise<unknown>;

export interface Lease {
  /**
   * Runs the script; rejects with ScriptFailure. The time limit starts now. Aborting `signal` stops the script at
   * once (its worker is replaced) and rejects with reason "cancelled".
   */
  run(code: string, input: unknown, onSql: SqlHandler, signal?: AbortSignal): Promise<unknown>;
  release(): void;
}

interface Slot {
  worker: Worker;
  flag: Int32Array;
  reply: MessagePort;
}

/** A caller waiting for a worker. */
interface Waiter {
  take(slot: Slot): boolean;
}

export class ScriptPool {
  private idle: Slot[] = [];
  private count = 0;
  private waiting: Waiter[] = [];
  private wasm: Promise<WebAssembly.Module> | undefined;
  private closed = false;
  private live = new Set<Slot>();

  /**
   * `size` workers at most; `queue` callers may wait for one, more are refused at once with UNAVAILABLE and a
   * Retry-After (the time within which every running script ends).
   */
  constructor(
    readonly limits: ScriptLimits,
    private readonly size: number,
    private readonly queue = Number.POSITIVE_INFINITY,
  ) {}

  /** A worker for one script. A caller whose `signal` aborts while it waits leaves the queue at once. */
  async acquire(signal?: AbortSignal): Promise<Lease> {
    if (this.closed) throw new ScriptFailure("error", "the script pool is closed");
    if (signal?.aborted) throw cancelled(signal);
    const slot = this.idle.pop() ?? (this.count < this.size ? await this.spawn() : await this.wait(signal));
    if (signal?.aborted) {
      this.handOver(slot);
      throw cancelled(signal);
    }
    let done = false;
    let dead = false;
    return {
      run: (code, input, onSql, runSignal) => this.runOn(slot, code, input, onSql, runSignal, () => (dead = true)),
      release: () => {
        if (done) return;
        done = true;
        if (dead) this.discard(slot);
        else this.handOver(slot);
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

  private wait(signal: AbortSignal | undefined): Promise<Slot> {
    if (this.waiting.length >= this.queue) return Promise.reject(this.full());
    return new Promise<Slot>((resolve, reject) => {
      let settled = false;
      const onAbort = () => {
        if (settled) return;
        settled = true;
        const i = this.waiting.indexOf(waiter);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(cancelled(signal!));
      };
      const waiter: Waiter = {
        take: (slot) => {
          if (settled) return false;
          settled = true;
          signal?.removeEventListener("abort", onAbort);
          resolve(slot);
          return true;
        },
      };
      this.waiting.push(waiter);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  private full(): SidecarError {
    const seconds = Math.max(1, Math.ceil(this.limits.timeMs / 1000));
    const err = sidecarError(
      "UNAVAILABLE",
      `all ${this.size} script workers are busy and the queue is full (${this.waiting.length} waiting, --sql-script-queue); retry in ${seconds} s`,
      { retry_after_seconds: seconds },
    );
    err.metadata.set("retry-after", String(seconds));
    return err;
  }

  private async spawn(): Promise<Slot> {
    this.count++;
    try {
      this.wasm ??= loadWasm();
      const wasm = await this.wasm;
      const flag = new Int32Array(new SharedArrayBuffer(8));
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
        resourceLimits: workerHeap(this.outputBytes),
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

  private get outputBytes(): number {
    return this.limits.outputBytes ?? DEFAULT_OUTPUT_BYTES;
  }

  /** The slot goes to the first caller still waiting, else back to the idle list. */
  private handOver(slot: Slot) {
    while (this.waiting.length > 0) if (this.waiting.shift()!.take(slot)) return;
    this.idle.push(slot);
  }

  private discard(slot: Slot) {
    this.live.delete(slot);
    void slot.worker.terminate();
    this.count--;
    // Whoever waits gets a fresh worker in place of the discarded one.
    if (this.waiting.length === 0 || this.closed) return;
    this.spawn().then(
      (fresh) => this.handOver(fresh),
      () => {},
    );
  }

  private runOn(
    slot: Slot,
    code: string,
    input: unknown,
    onSql: SqlHandler,
    signal: AbortSignal | undefined,
    kill: () => void,
  ): Promise<unknown> {
    const mark = newMark();
    const deadline = Date.now() + this.limits.timeMs;
    const { worker } = slot;
    Atomics.store(slot.flag, STOP, 0);
    return new Promise((resolve, reject) => {
      let settled = false;
      let stopping = false;
      const finish = (err: ScriptFailure | undefined, value?: unknown, recycle = false) => {
        if (settled) return;
        settled = true;
        clearTimeout(watchdog);
        worker.off("message", onMessage);
        worker.off("error", onError);
        worker.off("exit", onExit);
        signal?.removeEventListener("abort", onAbort);
        if (recycle) kill();
        if (err) reject(err);
        else resolve(value);
      };
      const answer = (reply: SqlReply) => {
        if (settled) return;
        slot.reply.postMessage(reply);
        Atomics.store(slot.flag, 0, 1);
        Atomics.notify(slot.flag, 0);
      };
      const onMessage = (m: WorkerMessage) => {
        if (stopping) {
          // The script is being stopped: its statements are not run, and how it ended does not matter.
          if (m.type === "sql") answer({ ok: false, message: "the request ended" });
          else finish(stopped(), undefined, (m as DoneMessage).recycle);
          return;
        }
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
          finish(undefined, value, d.recycle);
        } else finish(new ScriptFailure(d.reason, d.message), undefined, d.recycle);
      };
      const onError = (e: Error & { code?: string }) =>
        finish(
          e.code === "ERR_WORKER_OUT_OF_MEMORY"
            ? new ScriptFailure("memory", "the data the script exchanged with the database outgrew its worker")
            : new ScriptFailure("error", "the script's worker failed; it has been replaced"),
          undefined,
          true,
        );
      const onExit = () =>
        finish(new ScriptFailure("error", "the script's worker exited; it has been replaced"), undefined, true);
      // The request ended (answered 408, client gone): the script stops now, not at its own time limit. The
      // sandbox interrupts itself (the worker is kept); the watchdog ends the worker if that does not happen.
      const onAbort = () => {
        if (settled || stopping) return;
        stopping = true;
        Atomics.store(slot.flag, STOP, 1);
        clearTimeout(watchdog);
        watchdog = setTimeout(() => finish(stopped(), undefined, true), WATCHDOG_GRACE_MS);
      };
      let watchdog = setTimeout(() => {
        finish(
          new ScriptFailure("timeout", `script exceeded the time limit of ${this.limits.timeMs} ms`),
          undefined,
          true,
        );
      }, this.limits.timeMs + WATCHDOG_GRACE_MS);
      worker.on("message", onMessage);
      worker.once("error", onError);
      worker.once("exit", onExit);
      if (signal?.aborted) {
        // Nothing was sent to the worker yet: it stays as it is.
        finish(stopped());
        return;
      }
      signal?.addEventListener("abort", onAbort, { once: true });
      const msg: RunMessage = {
        type: "run",
        code,
        input: toMarked(input, mark),
        bigMark: mark,
        deadline,
        limits: { ...this.limits, outputBytes: this.outputBytes },
      };
      worker.postMessage(msg);
    });
  }
}

function stopped(): ScriptFailure {
  return new ScriptFailure("cancelled", "the request ended before the script did");
}

/** The reason a caller gave up, as the error its request ended with. */
function cancelled(signal: AbortSignal): unknown {
  const reason: unknown = signal.reason;
  return reason instanceof ConnectError
    ? reason
    : new ScriptFailure("cancelled", "the request ended before the script ran");
}

/**
 * The worker's own V8 heap, apart from the sandbox's wasm memory: it holds the texts crossing to and from the
 * sandbox (input, SQL results, the result), each bounded by `outputBytes` or the request body limit.
 */
export function workerHeap(outputBytes: number): { maxOldGenerationSizeMb: number; maxYoungGenerationSizeMb: number } {
  return { maxOldGenerationSizeMb: 48 + 4 * Math.ceil(outputBytes / MiB), maxYoungGenerationSizeMb: 16 };
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
