/** The error catalogue and docs/api.md agree: every kind the sidecar can send is documented with its codes. */
import { readFileSync } from "node:fs";
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { ErrorKinds } from "../../src/shared/errors.js";

const doc = readFileSync(new URL("../../docs/api.md", import.meta.url), "utf8");
const rows = new Map(
  doc
    .split("\n")
    .filter((l) => /^\| [A-Z_]+ \| `/.test(l))
    .map((l) => {
      const cells = l.split("|").map((c) => c.trim());
      return [
        cells[1]!,
        { code: cells[2]!.replaceAll("`", ""), status: Number(cells[3]), connect: cells[4]!.replaceAll("`", "") },
      ];
    }),
);

// Connect's names for codes, as its docs and `buf curl` print them.
const connectName = (c: Code) => Code[c]!.replace(/[A-Z]/g, (ch, i) => (i ? "_" : "") + ch.toLowerCase());

describe("error catalogue", () => {
  for (const [kind, k] of Object.entries(ErrorKinds)) {
    it(`${kind} is documented in docs/api.md with its envelope code, status and Connect code`, () => {
      expect(rows.get(kind), `docs/api.md has no row for ${kind}`).toEqual({
        code: k.code,
        status: k.status,
        connect: connectName(k.connect),
      });
    });
  }
  it("documents no kind the catalogue does not have", () => {
    expect([...rows.keys()].filter((k) => !(k in ErrorKinds))).toEqual([]);
  });
});
