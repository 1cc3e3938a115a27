/** A script's time limit starts when the script starts: loading a new worker's code does not count against it. */
import { afterAll, expect, it } from "vitest";
import { ScriptPool } from "../../src/services/sql/script/pool.js";

// Far below what loading a worker takes here (its code is compiled by tsx on the fly), far above what "1 + 1" needs.
const pool = new ScriptPool({ timeMs: 150, memoryBytes: 32 * 1024 * 1024, stackBytes: 256 * 1024 }, 1);
afterAll(() => pool.close());

it("runs the first script of a fresh worker within a short time limit", async () => {
  const lease = await pool.acquire();
  try {
    expect(await lease.run("1 + 1", null, async () => null)).toBe(2);
  } finally {
    lease.release();
  }
});
