/**
 * `buf curl` (Go: connect-go's clients) against the sidecar for all three protocols, over HTTP/1.1 where the
 * protocol allows it and h2c, over TCP and the Unix socket, with the schema read from proto/: values, request
 * metadata (the auth token) and errors as each protocol carries them.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSidecar, type RunningSidecar } from "../helpers/sidecar.js";

const TOKEN = "curl-token";
const root = fileURLToPath(new URL("../../", import.meta.url));
const buf = join(root, "node_modules/.bin/buf");
let s: RunningSidecar;
let dir: string;
let image: string;

function exec(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(buf, args, { cwd: root, timeout: 30_000 }, (e, out, err) =>
      resolve({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, out, err }),
    );
  });
}

beforeAll(async () => {
  s = await startSidecar({ services: { kv: "memory://" }, authToken: TOKEN }, { socket: true });
  // Compiling the schema once saves each call doing it.
  dir = mkdtempSync(join(tmpdir(), "mikcar-bufcurl-"));
  image = join(dir, "image.binpb");
  const built = await exec(["build", "proto", "-o", image]);
  if (built.code !== 0) throw new Error(built.err);
});
afterAll(async () => {
  await s.close();
  rmSync(dir, { recursive: true, force: true });
});

const bufCurl = (args: string[]) => exec(["curl", "--schema", image, ...args]);

const cases = [
  ["connect", false],
  ["connect", true],
  ["grpcweb", false],
  ["grpcweb", true],
  ["grpc", true],
] as const;

describe.each(["tcp", "unix"] as const)("buf curl over %s", (via) => {
  const url = (m: string) => `${via === "tcp" ? s.url : "http://localhost"}/mikcar.kv.v1.KvService/${m}`;
  const common = (protocol: string, h2: boolean) => [
    "--protocol",
    protocol,
    ...(h2 ? ["--http2-prior-knowledge"] : []),
    ...(via === "unix" ? ["--unix-socket", s.socket!] : []),
    "-H",
    `authorization: Bearer ${TOKEN}`,
  ];

  it.each(cases)("%s (h2c: %s) sets, gets and reports NOT_FOUND", async (protocol, h2) => {
    const key = `curl-${via}-${protocol}-${h2}`;
    const set = await bufCurl([...common(protocol, h2), "-d", JSON.stringify({ key, value: "aGk=" }), url("Set")]);
    expect(set.code, set.err).toBe(0);
    const got = await bufCurl([...common(protocol, h2), "-d", JSON.stringify({ key }), url("Get")]);
    expect(got.code, got.err).toBe(0);
    expect(JSON.parse(got.out)).toEqual({ value: "aGk=" });
    const missing = await bufCurl([...common(protocol, h2), "-d", '{"key":"curl-missing"}', url("Get")]);
    expect(missing.code).not.toBe(0);
    expect(JSON.parse(missing.err)).toEqual({ code: "not_found", message: "key not found: curl-missing" });
  });
});
