/**
 * A failing script is told what it did wrong, never the engine's internals: scripts whose promises never settle,
 * reject at the top level of a module, or exhaust memory through a chain of promise jobs used to abort QuickJS
 * (`Aborted(Assertion failed: list_empty(&rt->gc_obj_list) …)`, from handles left alive at teardown) or come back
 * as "null". Each case leaves the worker able to run the next script.
 */
import { afterAll, expect, it } from "vitest";
import { ScriptFailure, ScriptPool } from "../../src/services/sql/script/pool.js";

const MiB = 1024 * 1024;
const pool = new ScriptPool({ timeMs: 1_500, memoryBytes: 32 * MiB, stackBytes: 256 * 1024 }, 1);
afterAll(() => pool.close());

async function run(code: string): Promise<unknown> {
  const lease = await pool.acquire();
  try {
    return await lease.run(code, null, async () => []);
  } finally {
    lease.release();
  }
}

async function failure(code: string): Promise<ScriptFailure> {
  const err = await run(code).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ScriptFailure);
  const f = err as ScriptFailure;
  expect(f.message).not.toMatch(/Aborted|Assertion|quickjs\.c|wasm|RuntimeError/);
  // The worker (or its replacement) runs the next script.
  expect(await run("1 + 1")).toBe(2);
  return f;
}

it.each([
  [
    "a module whose top-level await never settles",
    "await new Promise(() => {}); export default 1",
    "error",
    /never settled/,
  ],
  [
    "a module whose top-level await rejects",
    "await Promise.reject(new Error('no config')); export default 1",
    "error",
    /^no config$/,
  ],
  ["a script that throws null", "throw null", "error", /^the script threw null$/],
  [
    "a microtask chain that outgrows memory",
    "let p = Promise.resolve(); for (let i = 0; i < 100000; i++) p = p.then(() => i); await p; return 1",
    "memory",
    /out of memory/,
  ],
  [
    "awaits nested deeper than memory allows",
    "async function f(n) { if (n === 0) return 0; await null; return f(n - 1) } return await f(100000)",
    "memory",
    /out of memory/,
  ],
  [
    "a microtask chain that never ends",
    "return new Promise(() => { Promise.resolve().then(function f() { Promise.resolve().then(f) }) })",
    "timeout",
    /./,
  ],
])("reports %s plainly", async (_name, code, reason, message) => {
  const f = await failure(code);
  expect({ reason: f.reason, message: f.message }).toMatchObject({ reason, message: expect.stringMatching(message) });
});

it("drops promise jobs still queued when the result is ready", async () => {
  // Promise jobs still queued when the result is ready are dropped with the runtime.
  expect(await run("Promise.resolve().then(function f() { return Promise.resolve().then(f) }); 7")).toBe(7);
  expect(await run("1 + 1")).toBe(2);
});
