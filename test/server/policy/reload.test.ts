/**
 * The policy file through the real `mikcar` process: YAML at start-up, a start-up error that names the field,
 * reload when the file changes (rewritten in place and replaced by rename) and on SIGHUP, and a broken file at
 * reload that keeps the running policy and logs why.
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type CliProcess, runCli, startCli } from "../../helpers/process.js";
import { rest, sha256 } from "../../helpers/policy.js";

const dir = mkdtempSync(join(tmpdir(), "mikcar-policy-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TOKEN = "handler-token";
const yaml = (methods: string[]) => `
tokens:
  - id: handler
    sha256: "${sha256(TOKEN)}"
    allow:
      - { service: kv, methods: [${methods.join(", ")}] }
`;

/** Polls until `check` passes (the reload is asynchronous); fails after ~10 s. Asserts states, not timing. */
async function eventually(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("condition never became true");
}

const running: CliProcess[] = [];
afterAll(() => {
  for (const p of running) p.child.kill("SIGKILL");
});

async function start(file: string, extra: string[] = []): Promise<{ p: CliProcess; url: string }> {
  const p = await startCli(["--kv", "--kv-url", "memory://", "--policy", file, "--access-log", "off", ...extra]);
  running.push(p);
  return { p, url: `http://${p.address}` };
}

describe("policy file", () => {
  it("refuses to start on a broken file, naming the field", async () => {
    const file = join(dir, "bad.yaml");
    writeFileSync(file, yaml(["Gett"]));
    const r = await runCli(["--kv", "--kv-url", "memory://", "--policy", file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('tokens[0].allow[0].methods[0]: kv has no method "Gett"');
    writeFileSync(file, "tokens: [ {id: x");
    const y = await runCli(["--kv", "--kv-url", "memory://", "--policy", file]);
    expect(y.code).toBe(1);
    expect(y.stderr).toContain("is not valid YAML");
  });

  it("reloads when the file is rewritten or replaced, and keeps the running policy when it is broken", async () => {
    const file = join(dir, "watched.yaml");
    writeFileSync(file, yaml(["Get", "Set"]));
    const { p, url } = await start(file);
    expect((await rest(url, TOKEN, "POST", "/kv/set/a", "1", true)).status).toBe(200);
    expect((await rest(url, TOKEN, "DELETE", "/kv/del/a")).status).toBe(403);

    writeFileSync(file, yaml(["Get", "Set", "Delete"])); // in place
    await eventually(async () => (await rest(url, TOKEN, "DELETE", "/kv/del/a")).status === 200);

    const tmp = join(dir, "watched.yaml.tmp");
    writeFileSync(tmp, yaml(["Get"])); // replaced by rename, as config tools do
    renameSync(tmp, file);
    await eventually(async () => (await rest(url, TOKEN, "POST", "/kv/set/a", "1", true)).status === 403);

    writeFileSync(file, yaml(["Get", "Nope"]));
    await eventually(async () => p.stderr().includes('"event":"policy.reload_failed"'));
    expect(p.stderr()).toContain('kv has no method \\"Nope\\"');
    expect((await rest(url, TOKEN, "GET", "/kv/get/a")).status).toBe(200); // Get still allowed: the old policy runs
    expect((await rest(url, TOKEN, "POST", "/kv/set/a", "1", true)).status).toBe(403);
  });

  it("reloads on SIGHUP (with watching off) and keeps the old policy when the new file is broken", async () => {
    const file = join(dir, "hup.json");
    const json = (methods: string[]) =>
      JSON.stringify({ tokens: [{ id: "handler", token: TOKEN, allow: [{ service: "kv", methods }] }] });
    writeFileSync(file, json(["Get"]));
    const { p, url } = await start(file, ["--no-policy-watch"]);
    expect(p.stderr()).toContain("gives its token in plain text");
    writeFileSync(file, json(["Get", "Set"]));
    expect((await rest(url, TOKEN, "POST", "/kv/set/a", "1", true)).status).toBe(403); // not watched
    p.child.kill("SIGHUP");
    await eventually(async () => (await rest(url, TOKEN, "POST", "/kv/set/a", "1", true)).status === 200);

    writeFileSync(file, '{"tokens": [{"id": "handler", "token": 5, "allow": []}]}');
    p.child.kill("SIGHUP");
    await eventually(async () => p.stderr().includes('"event":"policy.reload_failed"'));
    expect(p.stderr()).toContain("tokens[0].token: must be a string");
    expect((await rest(url, TOKEN, "POST", "/kv/set/a", "2", true)).status).toBe(200);
  });
});
