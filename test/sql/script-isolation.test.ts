/**
 * Scripts on the same worker share its QuickJS wasm instance (made once per worker, for speed) but never a
 * runtime or context: whatever one script does to its globals, prototypes or input is gone for the next, and
 * the memory cap holds for each script however much the previous ones used.
 */
import { afterAll, expect, it } from "vitest";
import { ScriptFailure, ScriptPool } from "../../src/services/sql/script/pool.js";

const MiB = 1024 * 1024;
// One worker, so that every script below runs on the same worker and the same wasm instance.
const pool = new ScriptPool({ timeMs: 5_000, memoryBytes: 32 * MiB, stackBytes: 256 * 1024 }, 1);
afterAll(() => pool.close());

async function run(code: string, input: unknown = null): Promise<unknown> {
  const lease = await pool.acquire();
  try {
    return await lease.run(code, input, async (op) => (op === "query" ? [{ n: 1 }] : 1));
  } finally {
    lease.release();
  }
}

const PROBE = `[
  typeof ({}).leaked, typeof [].leaked, typeof globalThis.leaked, typeof leakedVar, typeof leakedFn,
  typeof [].push, JSON.stringify({ a: 1 }), Math.max(1, 2), typeof sql.query, sql.query("SELECT 1")[0].n,
  typeof input.mutated, Object.isFrozen(Object.prototype), String(1),
].join()`;
const CLEAN = 'undefined,undefined,undefined,undefined,undefined,function,{"a":1},2,function,1,undefined,false,1';

it("gives every script a fresh context: nothing one script changes reaches the next on the same worker", async () => {
  const input = { id: 1 };
  expect(await run(PROBE, input)).toBe(CLEAN);
  const vandal = `
    Object.prototype.leaked = 1; Array.prototype.leaked = 2; globalThis.leaked = 3;
    var leakedVar = 4; function leakedFn() {}
    Array.prototype.push = null; JSON.stringify = () => "pwned"; Math.max = () => -1; String = () => "x";
    try { globalThis.sql = { query: () => [{ n: 666 }] }; } catch {}
    input.mutated = true; globalThis.input = { mutated: true };
    Object.freeze(Object.prototype);
    "done"`;
  expect(await run(vandal, input)).toBe("done");
  // The caller's own input object is untouched: the script only ever had a copy.
  expect(input).toEqual({ id: 1 });
  expect(await run(PROBE, input)).toBe(CLEAN);
  // The module form and a function body too, and a vandal that failed halfway.
  await expect(
    run(`export default function () { Object.prototype.leaked = 1; throw new Error("boom") }`),
  ).rejects.toThrow(/boom/);
  expect(await run(`export default () => ${PROBE}`, input)).toBe(CLEAN);
  expect(await run(`globalThis.leaked = 1; return await Promise.resolve(${PROBE})`, input)).not.toBe(CLEAN);
  expect(await run(`return ${PROBE}`, input)).toBe(CLEAN);
});

it("holds the memory cap for each script, whatever the previous scripts on the worker used", async () => {
  // ~16 MiB of live strings: half the cap, fine on its own, and fine again after a script that used as much.
  const half = "const a = []; for (let i = 0; i < 2048; i++) a.push('x'.repeat(8192) + i); a.length";
  expect(await run(half)).toBe(2048);
  expect(await run(half)).toBe(2048);
  const hog = "const a = []; while (true) a.push('x'.repeat(8192) + a.length);";
  for (let i = 0; i < 2; i++) {
    const err = await run(hog).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScriptFailure);
    expect((err as ScriptFailure).reason).toBe("memory");
    expect(await run(half)).toBe(2048);
  }
  expect(await run(PROBE, {})).toBe(CLEAN);
});
