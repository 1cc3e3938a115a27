/** KV contract — values: bytes, overwrite, delete, batches. */
import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import * as pb from "../../../gen/mikcar/kv/v1/kv_pb.js";
import { code, ctx, dec, enc, type KvSuite } from "./suite.js";

export function describeValues(s: KvSuite) {
  const { key, get, set, exists } = s;
  describe("values", () => {
    it("round-trips arbitrary bytes, including empty and non-UTF-8", async () => {
      const k = key("bytes");
      const bytes = Uint8Array.from([0, 255, 254, 10, 0x80]);
      await set(k, bytes);
      expect(Uint8Array.from((await get(k)).value)).toEqual(bytes);
      await set(k, new Uint8Array());
      expect(Uint8Array.from((await get(k)).value)).toEqual(new Uint8Array());
      expect(await exists(k)).toBe(true);
    });

    it("overwrites and reports missing keys as NOT_FOUND", async () => {
      const k = key("over");
      await set(k, "one");
      await set(k, "two");
      expect(dec((await get(k)).value)).toBe("two");
      expect(await code(get(key("missing")))).toBe(Code.NotFound);
    });

    it("keeps unicode keys apart and intact", async () => {
      const a = key("ключ/💡"),
        b = key("ключ/💡x");
      await set(a, "A");
      await set(b, "B");
      expect(dec((await get(a)).value)).toBe("A");
      expect(dec((await get(b)).value)).toBe("B");
    });

    it("deletes, reporting whether the key existed", async () => {
      const k = key("del");
      await set(k, "x");
      expect((await s.kv.delete(create(pb.DeleteRequestSchema, { key: k }), ctx())).deleted).toBe(true);
      expect((await s.kv.delete(create(pb.DeleteRequestSchema, { key: k }), ctx())).deleted).toBe(false);
      expect(await exists(k)).toBe(false);
    });

    it("batch-gets present keys only and batch-sets all", async () => {
      const [a, b, c] = [key("ba"), key("bb"), key("bc")];
      const res = await s.kv.setBatch(
        create(pb.SetBatchRequestSchema, { values: { [a]: enc("1"), [b]: enc("2") } }),
        ctx(),
      );
      expect(res.count).toBe(2n);
      const got = await s.kv.getBatch(create(pb.GetBatchRequestSchema, { keys: [a, b, c] }), ctx());
      expect(Object.keys(got.values ?? {}).sort()).toEqual([a, b].sort());
      expect(dec(got.values![b])).toBe("2");
    });

    it("refuses bad keys with INVALID_ARGUMENT", async () => {
      expect(await code(get(""))).toBe(Code.InvalidArgument);
      expect(await code(get("k".repeat(1025)))).toBe(Code.InvalidArgument);
      expect(await code(set("\ud800lone", "x"))).toBe(Code.InvalidArgument);
      expect(await code(set(key("neg"), "x", -1n))).toBe(Code.InvalidArgument);
    });
  });
}
