/** KV contract — keys: Redis-glob patterns, sorting and cursor paging. */
import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import * as pb from "../../../gen/mikcar/kv/v1/kv_pb.js";
import { code, ctx, enc, type KvSuite } from "./suite.js";

export function describeKeys(s: KvSuite) {
  const { key, set, keys } = s;
  describe("keys", () => {
    let base: string;
    beforeAll(async () => {
      base = key("ks");
      for (const s of ["a", "b", "ab", "a/b", "c*d", "h1llo", "hallo", "hxllo", "[x]"]) await set(`${base}/${s}`, "v");
    });
    const list = async (p: string) => (await keys(`${base}/${p}`)).keys.map((k) => k.slice(base.length + 1));

    it("treats a pattern without glob characters as a prefix, sorted", async () => {
      expect(await list("a")).toEqual(["a", "a/b", "ab"]);
    });

    it("supports *, ?, classes, ranges, negation and escapes like Redis", async () => {
      expect(await list("*")).toEqual(["[x]", "a", "a/b", "ab", "b", "c*d", "h1llo", "hallo", "hxllo"]);
      expect(await list("h?llo")).toEqual(["h1llo", "hallo", "hxllo"]);
      expect(await list("h[ax]llo")).toEqual(["hallo", "hxllo"]);
      expect(await list("h[^a]llo")).toEqual(["h1llo", "hxllo"]);
      expect(await list("h[0-9]llo")).toEqual(["h1llo"]);
      expect(await list("c\\*d")).toEqual(["c*d"]);
      expect(await list("\\[x\\]")).toEqual(["[x]"]);
      expect(await list("*b")).toEqual(["a/b", "ab", "b"]);
    });

    it("takes every printable ASCII character in a pattern, literal and escaped", async () => {
      const ascii = key("ascii");
      const chars = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i));
      const names = chars.flatMap((c) => [c, `a${c}`, `a${c}z`]);
      await s.kv.setBatch(
        create(pb.SetBatchRequestSchema, {
          values: Object.fromEntries(names.map((s) => [`${ascii}/${s}`, enc("v")])),
        }),
        ctx(),
      );
      const all = (await keys(`${ascii}/*`, 10_000)).keys.map((k) => k.slice(ascii.length + 1));
      expect([...all].sort()).toEqual([...new Set(names)].sort());
      const glob = async (p: string) =>
        (await keys(`${ascii}/${p}`, 10_000)).keys.map((k) => k.slice(ascii.length + 1));
      const startingWith = (s: string) => all.filter((k) => k.startsWith(s));
      for (const c of chars) {
        const esc = `\\${c}`;
        const what = `character ${JSON.stringify(c)}`;
        expect(await glob(`a${esc}*`), what).toEqual(startingWith(`a${c}`));
        expect(await glob(esc), what).toEqual([c]);
        expect(await glob(`[${esc}]`), what).toEqual([c]);
        expect(await glob(`?${esc}`), what).toEqual([`a${c}`]);
        if ("*?[\\".includes(c)) continue;
        // Without glob meaning a character stands for itself, `-` included (`a-*` was a 500).
        expect(await glob(`a${c}*`), what).toEqual(startingWith(`a${c}`));
        expect(await glob(`*${c}z`), what).toEqual(all.filter((k) => k.endsWith(`${c}z`)));
        if (c !== "]" && c !== "^") expect(await glob(`[${c}]`), what).toEqual([c]);
      }
      // The glob characters themselves, as Redis reads them.
      expect(await glob("a**")).toEqual(startingWith("a"));
      expect(await glob("a?*")).toEqual(startingWith("a").filter((k) => k !== "a"));
      expect(await glob("a[*")).toEqual(["a*"]); // an unclosed set takes the rest of the pattern
      expect(await glob("a\\")).toEqual(["a\\"]); // a trailing backslash is itself
      expect(await glob("[]]")).toEqual([]); // "[]" is an empty set
      expect(await glob("a[^]")).toEqual(startingWith("a").filter((k) => k.length === 2));
      expect(await glob("[z-x]")).toEqual(["x", "y", "z"]); // range ends in either order
    });

    it("pages with limit and cursor without gaps or repeats", async () => {
      const seen: string[] = [];
      let cursor = "";
      for (let i = 0; i < 10; i++) {
        const page = await keys(`${base}/*`, 2, cursor);
        seen.push(...page.keys);
        if (!page.nextCursor) break;
        expect(page.keys).toHaveLength(2);
        cursor = page.nextCursor;
      }
      expect(seen.map((k) => k.slice(base.length + 1))).toEqual(await list("*"));
    });

    it("refuses limits out of range", async () => {
      expect(await code(keys("*", 10_001))).toBe(Code.InvalidArgument);
      expect(await code(keys("*", -1))).toBe(Code.InvalidArgument);
    });
  });
}
