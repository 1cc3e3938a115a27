/**
 * A client that resets its connection in the middle of an upload must cost that upload only. The wait for the
 * next chunk used to start a read and then, finding the caller already gone, return without handling that read:
 * when the reset request then failed ("aborted"), the rejection was unhandled and Node ended the process.
 */
import { mkdtempSync, rmSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { withIdle } from "../../src/services/storage/streams.js";
import { startSidecar, type RunningSidecar } from "../helpers/sidecar.js";

/** Collects unhandled rejections while `fn` runs and for a moment after. */
async function unhandledDuring(fn: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const onUnhandled = (reason: unknown) => seen.push(reason);
  process.on("unhandledRejection", onUnhandled);
  try {
    await fn();
    await new Promise((r) => setTimeout(r, 50));
  } finally {
    process.off("unhandledRejection", onUnhandled);
  }
  return seen;
}

it("withIdle handles the read it was given even when the caller had already gone", async () => {
  const ac = new AbortController();
  ac.abort(new Error("client gone"));
  let fail!: (err: Error) => void;
  const read = new Promise<never>((_, reject) => (fail = reject));
  const seen = await unhandledDuring(async () => {
    await expect(withIdle(read, 1_000, ac.signal)).rejects.toThrow("client gone");
    fail(new Error("aborted"));
  });
  expect(seen).toEqual([]);
});

let dir: string;
let s: RunningSidecar;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "mikcar-abort-"));
  s = await startSidecar({ services: { storage: `file://${dir}` } });
});
afterAll(async () => {
  await s.close();
  rmSync(dir, { recursive: true, force: true });
});

it("survives uploads reset part-way and keeps serving", async () => {
  const { port } = new URL(s.url);
  const seen = await unhandledDuring(async () => {
    for (let k = 0; k < 20; k++) {
      const sock = net.connect(Number(port), "127.0.0.1");
      sock.on("error", () => {});
      await new Promise((r) => sock.once("connect", r));
      sock.write(`PUT /storage/object/big/o${k % 4} HTTP/1.1\r\nHost: x\r\nContent-Length: 8388608\r\n\r\n`);
      sock.write(Buffer.alloc(100_000 * ((k % 5) + 1), 1));
      await new Promise((r) => setTimeout(r, k * 3));
      sock.resetAndDestroy();
    }
  });
  expect(seen).toEqual([]);
  expect((await fetch(`${s.url}/storage/object/after`, { method: "PUT", body: "still here" })).status).toBe(201);
  expect((await fetch(`${s.url}/storage/list/big`)).status).toBe(200);
});
