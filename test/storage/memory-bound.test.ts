/**
 * A large object streams through REST both ways without being held in memory: 256 MiB PUT then GET on the file
 * backend, sampling this process's RSS (client and server both live here). A memory bound, not a timing.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSidecar, type RunningSidecar } from "../helpers/sidecar.js";
import { drain, raw } from "./http.js";

const SIZE = 256 * 1024 * 1024;
const CHUNK = 1024 * 1024;
/** Far below the object: the sidecar holds a few chunks per stream, not the object. */
const MAX_GROWTH = 96 * 1024 * 1024;

let s: RunningSidecar;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "mikcar-big-"));
  s = await startSidecar({ services: { storage: `file://${dir}` } });
});
afterAll(async () => {
  await s.close();
  rmSync(dir, { recursive: true, force: true });
});

function sampleRss() {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
  return () => {
    clearInterval(timer);
    return Math.max(peak, process.memoryUsage().rss);
  };
}

describe("storage memory bound", () => {
  it(`streams ${SIZE / 2 ** 20} MiB up and down with RSS growth under ${MAX_GROWTH / 2 ** 20} MiB`, async () => {
    const block = Buffer.alloc(CHUNK, 0xab);
    async function* body() {
      for (let sent = 0; sent < SIZE; sent += CHUNK) yield block;
    }
    global.gc?.();
    const base = process.memoryUsage().rss;
    const stop = sampleRss();
    const put = await raw(s.url, "PUT", "/storage/object/big.bin", {
      body: body(),
      headers: { "content-length": SIZE },
    });
    expect(put.status).toBe(201);
    let ok = true;
    const got = await drain(s.url, "/storage/object/big.bin", (c) => {
      if (c[0] !== 0xab || c[c.length - 1] !== 0xab) ok = false;
    });
    const peak = stop();
    expect(got).toEqual({ status: 200, bytes: SIZE });
    expect(ok).toBe(true);
    console.log(
      `storage memory bound: base ${(base / 2 ** 20).toFixed(0)} MiB, peak ${(peak / 2 ** 20).toFixed(0)} MiB`,
    );
    expect(peak - base).toBeLessThan(MAX_GROWTH);
  }, 120_000);
});
