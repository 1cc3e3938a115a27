/** KV contract — atomic increment: exact int64, overflow, non-integers. */
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { code, dec, type KvSuite } from "./suite.js";

export function describeIncrement(s: KvSuite) {
  const { key, get, set, ttl, incr } = s;
  describe("increment", () => {
    it("starts missing keys at 0, adds steps, and stores the number as text", async () => {
      const k = key("inc");
      expect(await incr(k)).toBe(1n);
      expect(await incr(k, 41n)).toBe(42n);
      expect(await incr(k, -50n)).toBe(-8n);
      expect(await incr(k, 0n)).toBe(-8n);
      expect(dec((await get(k)).value)).toBe("-8");
    });

    it("is exact at 64 bits and refuses overflow without changing the value", async () => {
      const k = key("big");
      await set(k, "9223372036854775806");
      expect(await incr(k)).toBe(9223372036854775807n);
      expect(await code(incr(k))).toBe(Code.FailedPrecondition);
      expect(dec((await get(k)).value)).toBe("9223372036854775807");
    });

    it("refuses non-integer values with FAILED_PRECONDITION (409 over REST)", async () => {
      for (const v of ["abc", "1.5", " 1", "01", ""]) {
        const k = key("nan");
        await set(k, v);
        expect(await code(incr(k)), `value ${JSON.stringify(v)}`).toBe(Code.FailedPrecondition);
        expect(dec((await get(k)).value)).toBe(v);
      }
    });

    it("keeps an existing TTL", async () => {
      const k = key("incttl");
      await set(k, "5", 60n);
      await incr(k);
      expect(await ttl(k)).toBe(60n);
    });

    it("is atomic under concurrency", async () => {
      const k = key("race");
      await Promise.all(Array.from({ length: 200 }, () => incr(k)));
      expect(dec((await get(k)).value)).toBe("200");
    });
  });
}
