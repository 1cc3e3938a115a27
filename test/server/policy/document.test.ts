/** The policy checker: every mistake is refused with the path of the field at fault and what it accepts. */
import { describe, expect, it } from "vitest";
import { checkPolicy, parsePolicy, PolicyError } from "../../../src/server/policy/document.js";
import { compilePolicy } from "../../../src/server/policy/policy.js";

const services = new Map([
  ["kv", ["Get", "Set", "Keys"]],
  ["sql", ["Query", "Execute"]],
]);
const known = ["kv", "sql", "storage", "queue", "secrets", "email"];
const HEX = "a".repeat(64);
const token = (extra: Record<string, unknown>) => ({ tokens: [{ id: "t", sha256: HEX, allow: [], ...extra }] });
const refuses = (doc: unknown, message: string) => {
  expect(() => checkPolicy(doc, services, known)).toThrow(PolicyError);
  expect(() => checkPolicy(doc, services, known)).toThrow(message);
};

describe("policy checker", () => {
  it("names the field at fault", () => {
    refuses({}, "tokens: must be a list of token entries");
    refuses({ tokens: [], extra: 1 }, 'the policy: unknown field "extra"');
    refuses(token({ colour: "red" }), 'tokens[0]: unknown field "colour"');
    refuses(
      { tokens: [{ id: "t", allow: [] }] },
      "tokens[0]: give exactly one of sha256, token or mtls_subject (got none)",
    );
    refuses(token({ token: "x" }), "tokens[0]: give exactly one of sha256, token or mtls_subject (got sha256, token)");
    refuses(token({ sha256: "abc" }), "tokens[0].sha256: must be 64 hex digits");
    refuses(token({ id: "has space" }), 'tokens[0].id: "has space" must be 1-64 of');
    refuses(
      { tokens: [token({}).tokens[0], { id: "t", token: "y", allow: [] }] },
      'tokens[1].id: "t" is used by another token',
    );
    refuses(token({ namespace: "no-slash" }), 'tokens[0].namespace: "no-slash" must be one or more segments');
    refuses(token({ namespace: "../" }), "tokens[0].namespace");
    refuses(token({ namespace: "a*/" }), "tokens[0].namespace");
    refuses(token({ rate: { per_second: 0 } }), "tokens[0].rate.per_second: must be a number above 0");
    refuses(token({ rate: { per_second: 1, burst: 1.5 } }), "tokens[0].rate.burst: must be a whole number");
    refuses(
      token({ allow: [{ service: "kvv", methods: ["Get"] }] }),
      'tokens[0].allow[0].service: unknown service "kvv"',
    );
    refuses(
      token({ allow: [{ service: "kv", methods: [] }] }),
      "tokens[0].allow[0].methods: must name at least one method",
    );
    refuses(
      token({ allow: [{ service: "kv", methods: ["Get", "Gett"] }] }),
      'tokens[0].allow[0].methods[1]: kv has no method "Gett"',
    );
    refuses(
      token({ allow: [{ service: "kv", methods: ["Get"], resources: [] }] }),
      "tokens[0].allow[0].resources: an empty list allows nothing",
    );
    refuses(token({ allow: [{ service: "sql", methods: ["Query"], resources: ["t"] }] }), "sql names no resources");
  });

  it("warns about plain tokens and services this sidecar does not run", () => {
    const { warnings } = checkPolicy(
      { tokens: [{ id: "t", token: "x", allow: [{ service: "storage", methods: ["Get"] }] }] },
      services,
      known,
    );
    expect(warnings).toEqual([
      "tokens[0] (t) gives its token in plain text; prefer sha256",
      "tokens[0].allow[0] is for storage, which this sidecar does not run",
    ]);
  });

  it("refuses one token given twice, hashed and in plain text", () => {
    const sha = "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"; // sha256("x")
    const { doc } = checkPolicy(
      {
        tokens: [
          { id: "a", token: "x", allow: [] },
          { id: "b", sha256: sha, allow: [] },
        ],
      },
      services,
      known,
    );
    expect(() => compilePolicy(doc, services)).toThrow("tokens[1]: the same token is given to another entry");
  });

  it("reads YAML by extension and says which format failed", () => {
    const yaml = `tokens:\n  - id: t\n    sha256: "${HEX}"\n    allow:\n      - { service: kv, methods: ["*"] }\n`;
    expect(parsePolicy(yaml, "p.yml", services, known).doc.tokens[0]!.allow[0]!.methods).toEqual(["*"]);
    expect(() => parsePolicy("{", "p.json", services, known)).toThrow("policy file p.json is not valid JSON");
  });
});
