/**
 * TLS on the TCP port with ALPN h2 + http/1.1, through real clients: curl (--cacert), Node's http2 client,
 * Connect over h2, @grpc/grpc-js and Python grpcio; mTLS accepted and refused, `mtls_subject` naming a policy
 * entry by certificate CN or URI SAN; the Unix socket staying plaintext; certificates reloaded on SIGHUP.
 */
import { execFile } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import * as http from "node:http";
import * as http2 from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as kvpb from "../../../gen/mikcar/kv/v1/kv_pb.js";
import { type Ca, makeCa, makeCert } from "../../helpers/certs.js";
import { startCli } from "../../helpers/process.js";
import { sha256 } from "../../helpers/policy.js";
import { startSidecar, type RunningSidecar } from "../../helpers/sidecar.js";

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "mikcar-tls-"));
const TOKEN = "tls-handler-token";
let ca: Ca;
let server: { cert: string; key: string };
let orders: { cert: string; key: string };
let reader: { cert: string; key: string };
let unknown: { cert: string; key: string };
let stranger: { cert: string; key: string };

const tokenPolicy = {
  tokens: [
    {
      id: "handler",
      sha256: sha256(TOKEN),
      allow: [{ service: "kv", methods: ["Get", "Set"] }],
    },
  ],
};
const mtlsPolicy = {
  tokens: [
    { id: "orders", mtls_subject: "spiffe://example.org/orders", allow: [{ service: "kv", methods: ["*"] }] },
    { id: "reader", mtls_subject: "reader-client", allow: [{ service: "kv", methods: ["Get"] }] },
    { id: "handler", sha256: sha256(TOKEN), allow: [{ service: "kv", methods: ["Get", "Set"] }] },
  ],
};

beforeAll(() => {
  ca = makeCa(dir, "ca");
  server = makeCert(dir, ca, "server", "localhost", ["DNS:localhost", "IP:127.0.0.1"], "server");
  orders = makeCert(dir, ca, "orders", "orders-client", ["URI:spiffe://example.org/orders"], "client");
  reader = makeCert(dir, ca, "reader", "reader-client", [], "client");
  unknown = makeCert(dir, ca, "unknown", "someone-else", [], "client");
  const other = makeCa(dir, "other-ca");
  stranger = makeCert(dir, other, "stranger", "orders-client", ["URI:spiffe://example.org/orders"], "client");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** curl's output and exit code (0 = success); never throws. */
async function curl(args: string[]): Promise<{ code: number; out: string }> {
  try {
    const r = await run("curl", ["-sS", "--max-time", "10", ...args]);
    return { code: 0, out: r.stdout };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, out: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

describe("TLS with bearer tokens", () => {
  let s: RunningSidecar;
  let host: string;
  beforeAll(async () => {
    s = await startSidecar({ services: { kv: "memory://" }, policy: tokenPolicy, tls: server }, { socket: true });
    host = s.url.replace("http://", "");
  });
  afterAll(() => s.close());
  const auth = ["-H", `authorization: Bearer ${TOKEN}`];

  it("serves curl over h2 and HTTP/1.1 (ALPN), and refuses plaintext on the TLS port", async () => {
    const set = await curl([
      "--cacert",
      ca.cert,
      ...auth,
      "-X",
      "POST",
      "-d",
      "v1",
      "-w",
      " %{http_version}",
      `https://${host}/kv/set/a`,
    ]);
    expect(set).toEqual({ code: 0, out: '{"key":"a","status":"ok"} 2' });
    const get = await curl([
      "--http1.1",
      "--cacert",
      ca.cert,
      ...auth,
      "-w",
      " %{http_version}",
      `https://${host}/kv/get/a`,
    ]);
    expect(get).toEqual({ code: 0, out: "v1 1.1" });
    expect(
      (await curl(["--cacert", ca.cert, "-o", "/dev/null", "-w", "%{http_code}", `https://${host}/kv/get/a`])).out,
    ).toBe("401");
    expect((await curl([`http://${host}/kv/get/a`])).code).not.toBe(0);
    expect((await curl([`https://${host}/kv/get/a`])).code).toBe(60); // unknown CA without --cacert
  });

  it("keeps the Unix socket plaintext", async () => {
    const status = await new Promise<number>((resolve, reject) => {
      http
        .get({ socketPath: s.socket, path: "/kv/get/a", headers: { authorization: `Bearer ${TOKEN}` } }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        })
        .on("error", reject);
    });
    expect(status).toBe(200);
  });

  it("serves Node's http2 client and Connect over h2", async () => {
    const session = http2.connect(`https://${host}`, { ca: readFileSync(ca.cert) });
    const body = await new Promise<string>((resolve, reject) => {
      const req = session.request({ ":path": "/kv/get/a", authorization: `Bearer ${TOKEN}` });
      let out = "";
      req.on("data", (d) => (out += d));
      req.on("end", () => resolve(out));
      req.on("error", reject);
    });
    session.close();
    expect(body).toBe("v1");
    const transport = createConnectTransport({
      baseUrl: `https://${host}`,
      httpVersion: "2",
      nodeOptions: { ca: readFileSync(ca.cert) },
      interceptors: [(next) => (req) => (req.header.set("authorization", `Bearer ${TOKEN}`), next(req))],
    });
    const kv = createClient(kvpb.KvService, transport);
    expect(new TextDecoder().decode((await kv.get({ key: "a" })).value)).toBe("v1");
  });

  it("serves @grpc/grpc-js over TLS", async () => {
    const client = new grpc.Client(host, grpc.credentials.createSsl(readFileSync(ca.cert)));
    const md = new grpc.Metadata();
    md.set("authorization", `Bearer ${TOKEN}`);
    const call = (key: string) =>
      new Promise<{ code?: number; value?: string; details?: string }>((resolve) =>
        client.makeUnaryRequest(
          "/mikcar.kv.v1.KvService/Get",
          (m: kvpb.GetRequest) => Buffer.from(toBinary(kvpb.GetRequestSchema, m)),
          (b: Buffer) => fromBinary(kvpb.GetResponseSchema, b),
          { $typeName: "mikcar.kv.v1.GetRequest", key } as kvpb.GetRequest,
          md,
          (err, res) =>
            resolve(err ? { code: err.code, details: err.details } : { value: new TextDecoder().decode(res!.value) }),
        ),
      );
    expect(await call("a")).toEqual({ value: "v1" });
    expect((await call("missing")).code).toBe(grpc.status.NOT_FOUND);
    client.close();
  });

  it("serves Python grpcio over TLS (stubs from protoc's grpc_python_plugin)", async () => {
    const out = join(dir, "py");
    await run("mkdir", ["-p", out]);
    await run("protoc", [
      "-I",
      "proto",
      `--python_out=${out}`,
      `--grpc_out=${out}`,
      "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin",
      "proto/mikcar/kv/v1/kv.proto",
    ]);
    const script = new URL("./fixtures/grpc_client.py", import.meta.url).pathname;
    const r = await run("/usr/bin/python3", [script, out, host, ca.cert, TOKEN]);
    expect(JSON.parse(r.stdout)).toEqual({
      get: "from python",
      delete: "PERMISSION_DENIED",
      delete_message: "token 'handler' may not call kv.Delete on 'py'",
    });
  });
});

describe("mTLS", () => {
  let s: RunningSidecar;
  let host: string;
  beforeAll(async () => {
    s = await startSidecar({
      services: { kv: "memory://" },
      policy: mtlsPolicy,
      tls: { ...server, clientCa: ca.cert },
    });
    host = s.url.replace("http://", "");
  });
  afterAll(() => s.close());
  const withCert = (c: { cert: string; key: string }) => ["--cacert", ca.cert, "--cert", c.cert, "--key", c.key];

  it("admits a client certificate whose URI SAN or CN names a policy entry, with that entry's rules", async () => {
    expect(await curl([...withCert(orders), "-X", "POST", "-d", "m", `https://${host}/kv/set/m`])).toEqual({
      code: 0,
      out: '{"key":"m","status":"ok"}',
    });
    expect((await curl([...withCert(reader), `https://${host}/kv/get/m`])).out).toBe("m");
    const denied = await curl([...withCert(reader), "-X", "DELETE", `https://${host}/kv/del/m`]);
    expect(JSON.parse(denied.out).error).toBe("token 'reader' may not call kv.Delete on 'm'");
    // A bearer token on an mTLS connection names its own entry.
    const bearer = await curl([
      ...withCert(reader),
      "-H",
      `authorization: Bearer ${TOKEN}`,
      "-X",
      "POST",
      "-d",
      "b",
      `https://${host}/kv/set/b`,
    ]);
    expect(bearer.out).toBe('{"key":"b","status":"ok"}');
  });

  it("refuses a connection without a certificate or with one from another CA, and a subject the policy does not name", async () => {
    expect((await curl(["--cacert", ca.cert, `https://${host}/kv/get/m`])).code).not.toBe(0);
    expect((await curl([...withCert(stranger), `https://${host}/kv/get/m`])).code).not.toBe(0);
    const r = await curl([...withCert(unknown), "-w", " %{http_code}", `https://${host}/kv/get/m`]);
    expect(r.out).toMatch(/"code":"UNAUTHORIZED".* 401$/);
  });

  it("serves Python grpcio with a client certificate", async () => {
    const out = join(dir, "py-mtls");
    await run("mkdir", ["-p", out]);
    await run("protoc", [
      "-I",
      "proto",
      `--python_out=${out}`,
      `--grpc_out=${out}`,
      "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin",
      "proto/mikcar/kv/v1/kv.proto",
    ]);
    const script = new URL("./fixtures/grpc_client.py", import.meta.url).pathname;
    const r = await run("/usr/bin/python3", [script, out, host, ca.cert, "-", orders.cert, orders.key]);
    expect(JSON.parse(r.stdout)).toEqual({ get: "from python", delete: "OK" });
  });
});

describe("certificate reload", () => {
  it("serves the new certificate after SIGHUP and keeps the old one when the new files are broken", async () => {
    const live = { cert: join(dir, "live.pem"), key: join(dir, "live.key") };
    copyFileSync(server.cert, live.cert);
    copyFileSync(server.key, live.key);
    const p = await startCli(["--kv", "--kv-url", "memory://", "--tls-cert", live.cert, "--tls-key", live.key]);
    try {
      const url = `https://${p.address}/health`;
      expect((await curl(["--cacert", ca.cert, url])).code).toBe(0);
      const ca2 = makeCa(dir, "ca2");
      const next = makeCert(dir, ca2, "server2", "localhost", ["DNS:localhost", "IP:127.0.0.1"], "server");
      copyFileSync(next.cert, live.cert);
      copyFileSync(next.key, live.key);
      expect((await curl(["--cacert", ca.cert, url])).code).toBe(0); // not reloaded yet
      p.child.kill("SIGHUP");
      for (let i = 0; i < 100 && !p.stderr().includes('"event":"tls.reloaded"'); i++)
        await new Promise((r) => setTimeout(r, 50));
      expect((await curl(["--cacert", ca2.cert, url])).code).toBe(0);
      expect((await curl(["--cacert", ca.cert, url])).code).toBe(60);
      copyFileSync(server.cert, live.cert); // a certificate that does not match the key
      p.child.kill("SIGHUP");
      for (let i = 0; i < 100 && !p.stderr().includes('"event":"tls.reload_failed"'); i++)
        await new Promise((r) => setTimeout(r, 50));
      expect(p.stderr()).toContain("the TLS certificate or key cannot be used");
      expect((await curl(["--cacert", ca2.cert, url])).code).toBe(0);
    } finally {
      p.child.kill("SIGKILL");
    }
  });
});
