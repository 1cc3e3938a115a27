/**
 * Response compression: REST JSON listings above the threshold in gzip or br as the client asks, refused when
 * it does not ask, when the body is small, for object downloads (opaque bytes) and Range responses; Connect
 * compresses as connect-node negotiates it, from the same threshold.
 */
import * as http from "node:http";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningSidecar, startSidecar } from "../helpers/sidecar.js";

interface Raw {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function get(
  base: string,
  path: string,
  headers: Record<string, string> = {},
  method = "GET",
  body?: string,
): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${path}`, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

let s: RunningSidecar;
let off: RunningSidecar;
const bigJson = JSON.stringify({ items: Array.from({ length: 200 }, (_, i) => ({ i, text: "lorem ipsum dolor" })) });
beforeAll(async () => {
  s = await startSidecar({ services: { kv: "memory://", storage: "memory://" } });
  off = await startSidecar({ services: { kv: "memory://" }, compressMinBytes: 0 });
  for (const target of [s, off]) {
    const entries = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`compress-key-${i}`, "v"]));
    const r = await fetch(`${target.url}/kv/set/batch`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(entries),
    });
    expect(r.status).toBe(200);
  }
  await fetch(`${s.url}/storage/object/doc.json`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: bigJson,
  });
});
afterAll(async () => {
  await s?.close();
  await off?.close();
});

describe("REST compression", () => {
  it("sends a large JSON listing as br or gzip, whichever the client prefers", async () => {
    const plain = await get(s.url, "/kv/keys");
    expect(plain.headers["content-encoding"]).toBeUndefined();
    expect(plain.headers.vary).toBe("accept-encoding");
    expect(plain.body.length).toBeGreaterThan(1024);

    const br = await get(s.url, "/kv/keys", { "accept-encoding": "gzip, deflate, br" });
    expect(br.headers["content-encoding"]).toBe("br");
    expect(Number(br.headers["content-length"])).toBe(br.body.length);
    expect(br.body.length).toBeLessThan(plain.body.length / 3);
    expect(brotliDecompressSync(br.body).toString()).toBe(plain.body.toString());

    const gz = await get(s.url, "/kv/keys", { "accept-encoding": "br;q=0.5, gzip" });
    expect(gz.headers["content-encoding"]).toBe("gzip");
    expect(gunzipSync(gz.body).toString()).toBe(plain.body.toString());
  });

  it("refuses what the client refuses, small bodies, and when turned off", async () => {
    expect(
      (await get(s.url, "/kv/keys", { "accept-encoding": "identity" })).headers["content-encoding"],
    ).toBeUndefined();
    expect(
      (await get(s.url, "/kv/keys", { "accept-encoding": "br;q=0, gzip;q=0" })).headers["content-encoding"],
    ).toBeUndefined();
    const small = await get(s.url, "/kv/get/compress-key-1", { "accept-encoding": "gzip" });
    expect(small.headers["content-encoding"]).toBeUndefined();
    const none = await get(off.url, "/kv/keys", { "accept-encoding": "gzip, br" });
    expect(none.headers["content-encoding"]).toBeUndefined();
    expect(none.body.length).toBeGreaterThan(1024);
  });

  it("never compresses stored bytes: a large text KV value goes out as stored", async () => {
    const own = await startSidecar({ services: { kv: "memory://" } });
    try {
      await fetch(`${own.url}/kv/set/big-text`, { method: "POST", body: "lorem ipsum ".repeat(500) });
      const r = await get(own.url, "/kv/get/big-text", { "accept-encoding": "gzip, br" });
      expect(r.headers["content-encoding"]).toBeUndefined();
      expect(r.body.length).toBe(6000);
    } finally {
      await own.close();
    }
  });

  it("never compresses object downloads or Range responses", async () => {
    const whole = await get(s.url, "/storage/object/doc.json", { "accept-encoding": "gzip, br" });
    expect(whole.status).toBe(200);
    expect(whole.headers["content-encoding"]).toBeUndefined();
    expect(whole.body.toString()).toBe(bigJson);
    const part = await get(s.url, "/storage/object/doc.json", { "accept-encoding": "gzip, br", range: "bytes=0-99" });
    expect(part.status).toBe(206);
    expect(part.headers["content-encoding"]).toBeUndefined();
    expect(part.body.length).toBe(100);
  });

  it("compresses a large storage listing too", async () => {
    for (let i = 0; i < 30; i++) await fetch(`${s.url}/storage/object/dir/file-${i}.txt`, { method: "PUT", body: "x" });
    const r = await get(s.url, "/storage/list/dir", { "accept-encoding": "gzip" });
    expect(r.status).toBe(200);
    expect(r.headers["content-encoding"]).toBe("gzip");
    expect(JSON.parse(gunzipSync(r.body).toString()).objects).toHaveLength(30);
  });
});

describe("Connect compression", () => {
  const call = (target: RunningSidecar, encoding: string) =>
    get(
      target.url,
      "/mikcar.kv.v1.KvService/Keys",
      { "content-type": "application/json", "accept-encoding": encoding },
      "POST",
      "{}",
    );

  it("is negotiated by connect-node above the threshold", async () => {
    const r = await call(s, "gzip");
    expect(r.status).toBe(200);
    expect(r.headers["content-encoding"]).toBe("gzip");
    expect(JSON.parse(gunzipSync(r.body).toString()).keys).toHaveLength(100);
  });

  it("is refused when the client does not ask, and when turned off", async () => {
    expect((await call(s, "identity")).headers["content-encoding"]).toBeUndefined();
    const r = await call(off, "gzip");
    expect(r.headers["content-encoding"]).toBeUndefined();
    expect(JSON.parse(r.body.toString()).keys).toHaveLength(100);
  });
});
