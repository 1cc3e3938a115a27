/** file:// keeps the memory backend's state in a JSON file: the contract, then persistence across reopen. */
import { mkdirSync, mkdtempSync, readFileSync, rmdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FileSecrets } from "../../src/services/secrets/backends/file.js";
import { openSecretsBackend } from "../../src/services/secrets/registry.js";
import { describeSecretsContract } from "./contract.js";

const dir = mkdtempSync(join(tmpdir(), "mikcar-secrets-"));
describeSecretsContract("file", () => FileSecrets.open(join(dir, "contract.json")));

describe("file:// persistence", () => {
  it("survives a reopen, with versions, and writes the file 0600", async () => {
    const path = join(dir, "nested", "s.json");
    const a = await openSecretsBackend(`file://${path}`);
    await a.create("db/pw", "one", { k: "v" });
    await a.update("db/pw", "two");
    const b = await openSecretsBackend(`file://${path}`);
    expect((await b.get("db/pw", ""))?.value).toBe("two");
    expect((await b.get("db/pw", "1"))?.value).toBe("one");
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(path, "utf8"))["db/pw"].versions).toHaveLength(2);
  });
  it("keeps saving after one failed write, and reports the failure as 503 without the path", async () => {
    const path = join(dir, "wedge.json");
    const a = await FileSecrets.open(path);
    await a.create("one", "1", {});
    // A directory where the temp file goes makes exactly one save fail, deterministically (even as root).
    const tmp = `${path}.${process.pid}.tmp`;
    mkdirSync(tmp);
    const err = await a.create("two", "2", {}).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: { code: "UNAVAILABLE" } });
    expect(String((err as Error).message)).not.toContain(dir);
    rmdirSync(tmp);
    await a.create("three", "3", {});
    const saved = JSON.parse(readFileSync(path, "utf8"));
    expect(Object.keys(saved).sort()).toEqual(["one", "three"]);
    expect(await a.get("two", "")).toBeUndefined();
  });
  it("reads the simple hand-written form and refuses a malformed file with its path", async () => {
    const simple = join(dir, "simple.json");
    writeFileSync(simple, JSON.stringify({ "api/key": "k1" }));
    expect((await (await FileSecrets.open(simple)).get("api/key", ""))?.value).toBe("k1");
    const bad = join(dir, "bad.json");
    writeFileSync(bad, "[1,2]");
    await expect(FileSecrets.open(bad)).rejects.toThrow(/bad\.json is not a valid secrets JSON file/);
  });
});
