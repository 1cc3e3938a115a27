/** Methods the sidecar does not serve are answered with the JSON envelope, never by dropping the connection. */
import * as http2 from "node:http2";
import * as net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSidecar, type RunningSidecar } from "../helpers/sidecar.js";

/** Sends `request` on a fresh socket and collects everything until the server closes (or 5 s pass). */
function raw(url: string, request: string): Promise<{ text: string; error?: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const sock = net.connect(Number(port), hostname, () => sock.write(request));
    let text = "";
    let error: string | undefined;
    sock.on("data", (d) => (text += d));
    sock.on("error", (e: NodeJS.ErrnoException) => (error = e.code));
    const t = setTimeout(() => sock.destroy(), 5_000);
    sock.on("close", () => {
      clearTimeout(t);
      resolve({ text, error });
    });
  });
}

const envelopeOf = (text: string) => JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4)) as Record<string, unknown>;

describe("unknown and unserved HTTP methods", () => {
  let s: RunningSidecar;
  beforeAll(async () => {
    s = await startSidecar({ services: { kv: "memory://" } });
  });
  afterAll(() => s.close());

  it.each([
    ["CONNECT /kv/get/k", "/kv/get/k"],
    ["CONNECT example.com:443", "example.com:443"],
  ])("%s over HTTP/1.1 is 405 with the envelope", async (line, target) => {
    const r = await raw(s.url, `${line} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(r.error).toBeUndefined();
    expect(r.text).toMatch(/^HTTP\/1\.1 405 /);
    expect(r.text).toMatch(/\r\nConnection: close\r\n/i);
    expect(envelopeOf(r.text)).toEqual({
      code: "METHOD_NOT_ALLOWED",
      error: `method CONNECT not allowed on ${target}`,
      status: 405,
    });
  });

  it.each(["PROPFIND", "TRACE", "OPTIONS", "PURGE"])("%s /kv/get/k is 405 naming the allowed methods", async (m) => {
    const r = await raw(s.url, `${m} /kv/get/k HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    expect(r.text).toMatch(/^HTTP\/1\.1 405 /);
    expect(r.text).toMatch(/\r\nallow: GET, HEAD\r\n/i);
    expect(envelopeOf(r.text)).toMatchObject({ code: "METHOD_NOT_ALLOWED", status: 405 });
  });

  it("a method Node's parser does not know is 400 with the envelope", async () => {
    const r = await raw(s.url, "FROB /kv/get/k HTTP/1.1\r\nHost: x\r\n\r\n");
    expect(r.text).toMatch(/^HTTP\/1\.1 400 /);
    expect(envelopeOf(r.text)).toMatchObject({ code: "BAD_REQUEST", status: 400 });
  });

  it("CONNECT over HTTP/2 is 405 with the envelope, and the session stays usable", async () => {
    const session = http2.connect(s.url);
    try {
      const ask = (headers: http2.OutgoingHttpHeaders) =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          const st = session.request(headers);
          let status = 0;
          let body = "";
          st.on("response", (h) => (status = Number(h[":status"])));
          st.on("data", (d) => (body += d));
          st.on("end", () => resolve({ status, body }));
          st.on("error", reject);
          st.end();
        });
      const r = await ask({ ":method": "CONNECT", ":authority": "example.com:443" });
      expect(r.status).toBe(405);
      expect(JSON.parse(r.body)).toMatchObject({ code: "METHOD_NOT_ALLOWED", status: 405 });
      expect((await ask({ ":method": "GET", ":path": "/health" })).status).toBe(200);
    } finally {
      session.close();
    }
  });
});
