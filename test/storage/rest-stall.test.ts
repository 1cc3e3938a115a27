/** A download whose client stops reading is cut after the idle limit instead of holding its source forever. */
import * as net from "node:net";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startSidecar, type RunningSidecar } from "../helpers/sidecar.js";

let s: RunningSidecar;
beforeAll(async () => {
  s = await startSidecar({ services: { storage: "memory://" }, limits: { requestTimeoutMs: 500 } });
});
afterAll(() => s.close());

it("cuts a download whose client stopped reading, and keeps serving others", async () => {
  // Far more than the socket buffers hold, so the server's writes stall once the client stops reading.
  const big = new Uint8Array(32 * 1024 * 1024);
  expect((await fetch(`${s.url}/storage/object/big.bin`, { method: "PUT", body: big })).status).toBe(201);
  const { port } = new URL(s.url);
  const closed = await new Promise<{ received: number }>((resolve) => {
    const sock = net.connect(Number(port), "127.0.0.1", () => {
      sock.write("GET /storage/object/big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    });
    let received = 0;
    sock.on("data", (d) => (received += d.length));
    sock.once("data", () => {
      // Read one chunk, then nothing for well past the idle limit; then drain what the kernel buffered. The
      // server must have ended the response early: the rest of the 32 MiB never arrives.
      sock.pause();
      setTimeout(() => sock.resume(), 2_000);
    });
    sock.on("error", () => {});
    sock.on("close", () => resolve({ received }));
  });
  expect(closed.received).toBeGreaterThan(0);
  expect(closed.received).toBeLessThan(big.length);
  const r = await fetch(`${s.url}/storage/list`);
  expect(r.status).toBe(200);
});
