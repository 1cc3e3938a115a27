/**
 * Connections that pin resources (issue 9, item 7): HTTP/2 sessions that sit idle with no open stream are closed
 * after the idle timeout, and `--max-connections` caps concurrent connections per listener, refusing politely
 * (HTTP/1.1 503 + close with the JSON envelope; HTTP/2 GOAWAY, the stream refused) and serving again once a
 * connection is freed.
 */
import * as http2 from "node:http2";
import * as net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { helpText, parseConfig } from "../../src/options.js";
import { startSidecar, type RunningSidecar } from "../helpers/sidecar.js";

const portOf = (url: string) => Number(new URL(url).port);

/** An HTTP/1.1 keep-alive connection that has had one request answered, so the server surely counts it. */
async function heldH1(url: string): Promise<net.Socket> {
  const sock = net.connect(portOf(url), "127.0.0.1");
  await new Promise<void>((resolve) => {
    sock.once("data", () => resolve());
    sock.write("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  });
  return sock;
}

function rawExchange(url: string, request: string): Promise<{ text: string; error?: string }> {
  return new Promise((resolve) => {
    const sock = net.connect(portOf(url), "127.0.0.1", () => sock.write(request));
    let text = "";
    let error: string | undefined;
    sock.on("data", (d) => (text += d));
    sock.on("error", (e: NodeJS.ErrnoException) => (error = e.code));
    sock.on("close", () => resolve({ text, error }));
    setTimeout(() => sock.destroy(), 5_000).unref();
  });
}

describe("idle HTTP/2 sessions", () => {
  let s: RunningSidecar;
  beforeAll(async () => {
    s = await startSidecar({ services: { kv: "memory://" }, limits: { h2IdleTimeoutMs: 300 } });
  });
  afterAll(() => s.close());

  it("closes 50 sessions that never open a stream, with GOAWAY", async () => {
    const sessions = Array.from({ length: 50 }, () => http2.connect(s.url));
    const ended = sessions.map(
      (c) =>
        new Promise<{ goaway: boolean }>((resolve) => {
          let goaway = false;
          c.on("goaway", () => (goaway = true));
          c.on("error", () => {});
          c.on("close", () => resolve({ goaway }));
        }),
    );
    const results = await Promise.all(ended);
    expect(results.every((r) => r.goaway)).toBe(true);
  });

  it("keeps a session while a stream is open on it, and closes it once idle after that", async () => {
    const c = http2.connect(s.url);
    let closed = false;
    c.on("close", () => (closed = true));
    // A request whose body comes slowly, open for longer than the idle timeout: the session must survive it.
    const upload = c.request({ ":method": "POST", ":path": "/kv/set/slow", "content-length": "4" });
    upload.write("ab");
    await new Promise((r) => setTimeout(r, 900)); // three idle periods with a stream open
    expect(closed).toBe(false);
    const status = new Promise<number>((resolve) => upload.on("response", (h) => resolve(Number(h[":status"]))));
    upload.end("cd");
    upload.resume();
    expect(await status).toBe(200);
    await new Promise<void>((resolve) => c.on("close", () => resolve()));
    expect(closed).toBe(true);
  });
});

describe("--max-connections", () => {
  let s: RunningSidecar;
  beforeAll(async () => {
    s = await startSidecar({ services: { kv: "memory://" }, limits: { maxConnections: 3 } });
  });
  afterAll(() => s.close());

  it("refuses an HTTP/1.1 connection over the cap with 503, the envelope and Connection: close", async () => {
    const held = await Promise.all([heldH1(s.url), heldH1(s.url), heldH1(s.url)]);
    try {
      const r = await rawExchange(s.url, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
      expect(r.error).toBeUndefined();
      expect(r.text).toMatch(/^HTTP\/1\.1 503 /);
      expect(r.text).toMatch(/\r\nConnection: close\r\n/);
      expect(r.text).toMatch(/\r\nRetry-After: 1\r\n/);
      expect(JSON.parse(r.text.slice(r.text.indexOf("\r\n\r\n") + 4))).toEqual({
        code: "UNAVAILABLE",
        error: "too many connections (the limit is 3); retry later",
        status: 503,
      });
    } finally {
      for (const h of held) h.destroy();
    }
    // Freed: served again.
    await new Promise((r) => setTimeout(r, 100));
    expect((await fetch(`${s.url}/health`)).status).toBe(200);
  });

  it("refuses an HTTP/2 session over the cap with GOAWAY; its stream is refused, not lost", async () => {
    const held = await Promise.all([heldH1(s.url), heldH1(s.url), heldH1(s.url)]);
    try {
      const c = http2.connect(s.url);
      c.on("error", () => {});
      const goaway = new Promise<number>((resolve) => c.on("goaway", (code) => resolve(code)));
      const st = c.request({ ":method": "GET", ":path": "/health" });
      const outcome = new Promise<string>((resolve) => {
        st.on("response", () => resolve("answered"));
        st.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? "error"));
        st.on("close", () => resolve(`closed ${st.rstCode}`));
      });
      expect(await goaway).toBe(http2.constants.NGHTTP2_NO_ERROR);
      // Refused either way, never answered and never a reset of the session: REFUSED_STREAM (7) or GOAWAY'd.
      expect(await outcome).toMatch(/^(ERR_HTTP2_STREAM_ERROR|ERR_HTTP2_GOAWAY_SESSION|closed 7)$/);
      if ((await outcome) === "ERR_HTTP2_STREAM_ERROR") expect(st.rstCode).toBe(http2.constants.NGHTTP2_REFUSED_STREAM);
      c.destroy();
    } finally {
      for (const h of held) h.destroy();
    }
  });
});

describe("connection options", () => {
  it("are typed with units, from flag or environment", () => {
    const c = parseConfig(
      ["--kv", "--max-connections", "500", "--h2-idle-timeout", "2m", "--keepalive-interval", "10s"],
      { WRITE_TIMEOUT: "45s" },
    );
    expect(c).toMatchObject({
      maxConnections: 500,
      h2IdleTimeoutMs: 120_000,
      keepAliveIntervalMs: 10_000,
      writeTimeoutMs: 45_000,
    });
    expect(parseConfig(["--kv"], {})).toMatchObject({
      maxConnections: 10_000,
      h2IdleTimeoutMs: 60_000,
      keepAliveIntervalMs: 30_000,
      writeTimeoutMs: 30_000,
    });
    expect(() => parseConfig(["--kv", "--max-connections", "-1"], {})).toThrow(/--max-connections/);
  });

  it("--help lists them, and states the precedence the parser applies (flag over environment)", () => {
    const help = helpText("0.0.0");
    expect(help).toContain("Every option is read from its flag, else from its environment variable, else its default.");
    for (const flag of [
      "--max-connections",
      "--h2-idle-timeout",
      "--keepalive-interval",
      "--write-timeout",
      "--shutdown-grace",
    ])
      expect(help).toContain(flag);
    expect(parseConfig(["--kv", "--write-timeout", "5s"], { WRITE_TIMEOUT: "45s" }).writeTimeoutMs).toBe(5_000);
  });
});
