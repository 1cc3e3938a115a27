/**
 * Messages between the script pool (main thread) and a script worker. SQL calls travel worker → main as
 * ordinary messages; the answer comes back on a dedicated port that the worker reads synchronously after
 * `Atomics.wait` on a shared flag, which is what makes `sql.query` synchronous inside the sandbox.
 */
import type { MessagePort } from "node:worker_threads";

export interface ScriptLimits {
  /** Wall time from the moment the script starts running. */
  timeMs: number;
  /** Cap of the sandbox's WebAssembly memory (QuickJS heap and stack live there). */
  memoryBytes: number;
  /** QuickJS stack limit, which catches deep recursion. */
  stackBytes: number;
  /** Largest JSON text a script hands out: its result, or the params of one SQL call (default 16 MiB). */
  outputBytes?: number;
}

export interface WorkerInit {
  wasm: WebAssembly.Module;
  /**
   * Int32Array over a SharedArrayBuffer: slot 0 is set to 1 when a SQL answer is posted; slot 1 is set to 1 when
   * the running script is to stop now (its request ended), which the sandbox's interrupt handler reads.
   */
  flag: SharedArrayBuffer;
  reply: MessagePort;
  /** The pool's memory cap, so the sandbox's wasm instance is made before the worker reports ready. */
  memoryBytes: number;
}

export interface RunMessage {
  type: "run";
  code: string;
  /** JSON text of `input`, big integers as marked strings. */
  input: string;
  /** Marker prefix for big integers in JSON exchanged with the sandbox. */
  bigMark: string;
  /** Epoch ms after which the sandbox interrupts itself. */
  deadline: number;
  limits: ScriptLimits;
}

export interface SqlCallMessage {
  type: "sql";
  op: "query" | "execute";
  sql: string;
  /** JSON text of the parameter array, big integers as marked strings. */
  params: string;
}

export type SqlReply = { ok: true; json: string } | { ok: false; message: string };

export type FailureReason = "error" | "timeout" | "memory" | "stack";

export type DoneMessage =
  | { type: "done"; ok: true; result: string; recycle: boolean }
  | { type: "done"; ok: false; reason: FailureReason; message: string; recycle: boolean };

/** Sent once by a new worker when its code is loaded, so that start-up never counts against a script's time. */
export interface ReadyMessage {
  type: "ready";
}

export type WorkerMessage = SqlCallMessage | DoneMessage;
