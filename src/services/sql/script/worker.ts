/**
 * A script worker: runs one script at a time in a fresh QuickJS instance (sync build) whose WebAssembly
 * memory has a hard maximum. Nothing but `sql`, `input` and the language itself is reachable from a script:
 * QuickJS has no fetch, fs, timers or process, and no module loader is installed, so `import` fails.
 */
import { parentPort, receiveMessageOnPort, workerData } from "node:worker_threads";
import {
  newQuickJSWASMModuleFromVariant,
  newVariant,
  RELEASE_SYNC,
  type QuickJSContext,
  type QuickJSHandle,
  type QuickJSRuntime,
  type QuickJSWASMModule,
} from "quickjs-emscripten";
import type {
  DoneMessage,
  FailureReason,
  ReadyMessage,
  RunMessage,
  SqlCallMessage,
  SqlReply,
  WorkerInit,
} from "./protocol.js";

const init = workerData as WorkerInit;
// @types/node declares WebAssembly's types but not its constructors (they live in the DOM lib).
const Wasm = (
  globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number; maximum: number }) => object } }
).WebAssembly;
const flag = new Int32Array(init.flag);
/** Slot of `flag` the pool sets when the running script is to stop (see protocol.ts). */
const STOP = 1;
const PAGE = 65_536;
// QuickJS's wasm module needs this much memory to start; the cap is never set below it.
const MIN_PAGES = 256;

// The prelude keeps its own JSON functions, taken before the script runs, so a script that replaces
// JSON.stringify still exchanges valid JSON with the host.
// Texts leaving the sandbox are measured here, inside it, so an oversized result is refused before it is copied
// out of the wasm memory.
const PRELUDE = `(function (host, inputText, mark, maxOut) {
  const { parse, stringify } = JSON;
  const RangeErr = RangeError;
  const bounded = (text, what) => {
    if (text.length > maxOut) throw new RangeErr(what + " is larger than " + maxOut + " bytes, the limit (--sql-max-result-size)");
    return text;
  };
  const revive = (k, v) => (typeof v === "string" && v.startsWith(mark) ? BigInt(v.slice(mark.length)) : v);
  const replace = (k, v) => (typeof v === "bigint" ? mark + v : v);
  const decode = (t) => parse(t, revive);
  const call = (op, text, params) => {
    if (typeof text !== "string") throw new TypeError("sql." + op + ": the first argument must be an SQL string");
    if (params !== undefined && params !== null && !Array.isArray(params)) throw new TypeError("sql." + op + ": params must be an array");
    return decode(host(op, text, bounded(stringify(params ?? [], replace), "sql." + op + ": params")));
  };
  globalThis.sql = Object.freeze({
    query: (text, params) => call("query", text, params),
    execute: (text, params) => call("execute", text, params),
  });
  globalThis.input = decode(inputText);
  return (v) => bounded(stringify(v === undefined ? null : v, replace) ?? "null", "the script's result");
})`;

parentPort!.on("message", (msg: RunMessage) => {
  void run(msg).then((done) => parentPort!.postMessage(done));
});

/** Blocks until the main thread has run the statement. */
function hostCall(op: "query" | "execute", sql: string, params: string): SqlReply {
  Atomics.store(flag, 0, 0);
  parentPort!.postMessage({ type: "sql", op, sql, params } satisfies SqlCallMessage);
  // Waiting in slices keeps the thread responsive to terminate() from the watchdog.
  while (Atomics.wait(flag, 0, 0, 50) === "timed-out");
  return receiveMessageOnPort(init.reply)!.message as SqlReply;
}

// One wasm instance per worker, reused while scripts end normally (a fresh runtime each time); after a
// host-level failure or a script that ran out of memory the pool replaces the whole worker, so a fresh one starts
// with a small memory again. Its memory's maximum is the script memory cap.
let instance: Promise<QuickJSWASMModule> | undefined;
let memory: { buffer: ArrayBuffer } | undefined;
let memoryMax = 0;

function quickjs(memoryBytes: number): Promise<QuickJSWASMModule> {
  if (instance) return instance;
  // Only when there is no instance yet: a Memory is 16 MiB zeroed up front, which cost ~1 ms per script when it
  // was made (and thrown away) on every run.
  const pages = Math.max(MIN_PAGES, Math.floor(memoryBytes / PAGE));
  memory = new Wasm.Memory({ initial: MIN_PAGES, maximum: pages }) as { buffer: ArrayBuffer };
  memoryMax = pages * PAGE;
  return (instance = newQuickJSWASMModuleFromVariant(
    newVariant(RELEASE_SYNC, {
      wasmModule: init.wasm,
      wasmMemory: memory as never,
      // The engine's own diagnostics (an abort's assertion text) are not the script's; the failure is reported.
      emscriptenModule: { printErr: () => {}, print: () => {} } as never,
    }),
  ));
}

/** The sandbox's memory has grown to its cap: an allocation may have failed. */
function memoryFull(): boolean {
  return memory !== undefined && memory.buffer.byteLength + 2 * 1024 * 1024 >= memoryMax;
}

// Ready once the sandbox can be made; a failure to instantiate is reported by the first run instead.
void quickjs(init.memoryBytes)
  .catch(() => (instance = undefined))
  .then(() => parentPort!.postMessage({ type: "ready" } satisfies ReadyMessage));

async function run(msg: RunMessage): Promise<DoneMessage> {
  let done: DoneMessage;
  let rt: QuickJSRuntime | undefined;
  let ctx: QuickJSContext | undefined;
  try {
    const qjs = await quickjs(msg.limits.memoryBytes);
    rt = qjs.newRuntime();
    rt.setMemoryLimit(msg.limits.memoryBytes);
    rt.setMaxStackSize(msg.limits.stackBytes);
    rt.setInterruptHandler(() => Date.now() > msg.deadline || Atomics.load(flag, STOP) !== 0);
    ctx = rt.newContext();
    const result = evaluate(ctx, msg);
    if (result.ok) done = { type: "done", ok: true, result: result.value, recycle: false };
    else {
      const reason = classify(result.error, msg.deadline);
      done = { type: "done", ok: false, reason, message: describe(result.error, reason), recycle: reason === "memory" };
    }
  } catch (err) {
    // A host-level failure (the engine aborted, or its stack or memory gave out mid-call) leaves the instance
    // unusable: the worker is replaced. Its text is the engine's, never the script's: it is not shown.
    const text = String((err as Error)?.message ?? err);
    const reason: FailureReason = /call stack|stack overflow/i.test(text)
      ? "stack"
      : /memory|enlarge|alloc|OOM/i.test(text) || memoryFull()
        ? "memory"
        : "error";
    return { type: "done", ok: false, reason, message: ENGINE_FAILURE[reason], recycle: true };
  }
  // The answer stands whatever happens while tearing the sandbox down; if that fails, the worker is replaced.
  try {
    ctx.dispose();
    rt.dispose();
  } catch {
    done.recycle = true;
  }
  return done;
}

const ENGINE_FAILURE: Record<FailureReason, string> = {
  error: "the script stopped the sandbox's engine (an internal failure, not an error of the script's)",
  memory: "the engine ran out of memory",
  stack: "the engine's stack ran out",
  timeout: "interrupted",
};

interface ScriptError {
  name: string;
  message: string;
  /** The script threw (or rejected with) null or undefined: what the engine throws when it cannot allocate. */
  nothing?: boolean;
  neverSettled?: boolean;
}
type Outcome = { ok: true; value: string } | { ok: false; error: ScriptError };

function classify(e: ScriptError, deadline: number): FailureReason {
  if (e.name === "InternalError" && /interrupted/.test(e.message) && Date.now() > deadline) return "timeout";
  // An interrupted promise job drops its chain, which then never settles.
  if (e.neverSettled && Date.now() > deadline) return "timeout";
  if (/out of memory/i.test(e.message)) return "memory";
  // Out of memory inside a promise job surfaces as a rejection with null, or as a promise that never settles.
  if ((e.nothing || e.neverSettled) && memoryFull()) return "memory";
  if (/stack overflow/i.test(e.message) || (e.name === "RangeError" && /call stack/i.test(e.message))) return "stack";
  return "error";
}

/** The message a client sees: the script's own error text, or what went wrong when it has none. */
function describe(e: ScriptError, reason: FailureReason): string {
  if (reason === "memory" && (e.nothing || e.neverSettled)) return "out of memory while running promise jobs";
  if (e.nothing) return `the script threw ${e.message}`;
  return e.message;
}

function evaluate(ctx: QuickJSContext, msg: RunMessage): Outcome {
  const handles: QuickJSHandle[] = [];
  const keep = (h: QuickJSHandle) => (handles.push(h), h);
  try {
    const host = keep(
      ctx.newFunction("host", (opH, sqlH, paramsH) => {
        const reply = hostCall(ctx.getString(opH) as "query" | "execute", ctx.getString(sqlH), ctx.getString(paramsH));
        return reply.ok ? ctx.newString(reply.json) : { error: ctx.newError(reply.message) };
      }),
    );
    const prelude = keep(unwrap(ctx, ctx.evalCode(PRELUDE, "prelude.js")));
    const encode = keep(
      unwrap(
        ctx,
        ctx.callFunction(
          prelude,
          ctx.undefined,
          host,
          keep(ctx.newString(msg.input)),
          keep(ctx.newString(msg.bigMark)),
          keep(ctx.newNumber(msg.limits.outputBytes ?? Number.MAX_SAFE_INTEGER)),
        ),
      ),
    );
    let value = keep(unwrap(ctx, load(ctx, msg.code)));
    if (ctx.typeof(value) === "function") {
      const input = keep(ctx.getProp(ctx.global, "input"));
      value = keep(unwrap(ctx, ctx.callFunction(value, ctx.undefined, input)));
    }
    value = keep(settle(ctx, value));
    const text = keep(unwrap(ctx, ctx.callFunction(encode, ctx.undefined, value)));
    return { ok: true, value: ctx.getString(text) };
  } catch (err) {
    if (err instanceof VmError) return { ok: false, error: err.error };
    throw err;
  } finally {
    for (const h of handles.reverse()) if (h.alive) h.dispose();
  }
}

/**
 * Evaluates the script in whichever form it is written: an ES module with a default export (function or
 * value), a script whose completion value is the result, or a function body using `return`/`await`.
 */
function load(ctx: QuickJSContext, code: string) {
  if (/(^|[\s;}])export\s+default\b/.test(code)) {
    const ns = unwrap(ctx, ctx.evalCode(code, "script.mjs", { type: "module" }));
    // Every handle is let go however the module ends: a live one makes the runtime's teardown abort.
    let settled: QuickJSHandle | undefined;
    try {
      settled = settle(ctx, ns);
      return { value: ctx.getProp(settled, "default") };
    } finally {
      settled?.dispose();
      ns.dispose();
    }
  }
  const compiled = ctx.evalCode(code, "script.js", { compileOnly: true });
  if (!compiled.error) {
    compiled.value.dispose();
    return ctx.evalCode(code, "script.js");
  }
  const firstError = ctx.dump(compiled.error) as ScriptError;
  compiled.error.dispose();
  // Parsing failed before anything ran, so trying the function-body form has no side effects to repeat.
  const body = `(async function (input) {\n${code}\n})(globalThis.input)`;
  const wrapped = ctx.evalCode(body, "script.js", { compileOnly: true });
  if (wrapped.error) {
    wrapped.error.dispose();
    throw new VmError(firstError);
  }
  wrapped.value.dispose();
  return ctx.evalCode(body, "script.js");
}

/** Runs pending jobs until a promise settles; other values are returned as they are. */
function settle(ctx: QuickJSContext, value: QuickJSHandle): QuickJSHandle {
  let state = ctx.getPromiseState(value);
  while (state.type === "pending") {
    const jobs = ctx.runtime.executePendingJobs();
    if (jobs.error) throw new VmError(dumpError(ctx, jobs.error));
    state = ctx.getPromiseState(value);
    if (state.type === "pending" && jobs.value === 0) {
      throw new VmError({ name: "Error", message: "the script's promise never settled", neverSettled: true });
    }
  }
  if (state.type === "rejected") throw new VmError(dumpError(ctx, state.error));
  if (state.notAPromise) return value.dup();
  return state.value;
}

class VmError extends Error {
  constructor(readonly error: ScriptError) {
    super(error.message);
  }
}

function dumpError(ctx: QuickJSContext, h: QuickJSHandle): ScriptError {
  const d = ctx.dump(h) as unknown;
  h.dispose();
  if (d && typeof d === "object" && "message" in d) {
    const o = d as { name?: unknown; message?: unknown };
    return { name: String(o.name ?? "Error"), message: String(o.message) };
  }
  if (d === null || d === undefined) return { name: "Error", message: String(d), nothing: true };
  // `throw "text"` or `throw {…}`: show what was thrown.
  return { name: "Error", message: typeof d === "string" ? d : JSON.stringify(d) };
}

function unwrap(
  ctx: QuickJSContext,
  r: { value: QuickJSHandle; error?: undefined } | { error: QuickJSHandle },
): QuickJSHandle {
  if ("error" in r && r.error) throw new VmError(dumpError(ctx, r.error));
  return (r as { value: QuickJSHandle }).value;
}
