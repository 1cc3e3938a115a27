/** KV contract — Watch: changes as they happen. */
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import * as pb from "../../../gen/mikcar/kv/v1/kv_pb.js";
import { ctx, dec, sleep, type KvSuite } from "./suite.js";

export function describeWatch(s: KvSuite) {
  const { key, set, incr } = s;
  describe("watch", () => {
    it("streams sets and deletes under the prefix, in order, and nothing else", async () => {
      const prefix = key("w");
      const ac = new AbortController();
      const events: Array<{ type: number; key: string; value: string }> = [];
      const done = (async () => {
        for await (const ev of s.kv.watch(create(pb.WatchRequestSchema, { prefix }), { ...ctx(), signal: ac.signal })) {
          events.push({ type: ev.type!, key: ev.key!, value: dec(ev.value as Uint8Array) });
          if (events.length === 3) break;
        }
      })();
      await sleep(100);
      await set(key("other"), "ignored");
      await set(prefix + "/1", "v1");
      await incr(prefix + "/n");
      await s.kv.delete(create(pb.DeleteRequestSchema, { key: prefix + "/1" }), ctx());
      await Promise.race([done, sleep(5_000)]);
      ac.abort();
      const E = pb.WatchResponse_EventType;
      expect(events).toEqual([
        { type: E.SET, key: prefix + "/1", value: "v1" },
        { type: E.SET, key: prefix + "/n", value: "1" },
        { type: E.DELETE, key: prefix + "/1", value: "" },
      ]);
    });
  });
}
