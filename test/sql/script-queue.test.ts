/**
 * Scripts beyond the workers wait in a bounded queue: when it is full the next script is refused at once with 503
 * UNAVAILABLE and a Retry-After, over REST and RPC alike, instead of waiting for its request timeout; and after a
 * burst of runaway scripts, a trivial script runs as soon as the workers are free (nothing of the burst is left
 * queued once its requests have been answered).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, expect, it } from "vitest";
import { SqlService } from "../../gen/mikcar/sql/v1/sql_pb.js";
import { parseExact } from "../../src/shared/exact-json.js";
import { startSidecar, type RunningSidecar } from "../helpers/sidecar.js";

const dir = mkdtempSync(join(tmpdir(), "mikcar-sql-"));
let small: RunningSidecar;
let burst: RunningSidecar;

beforeAll(async () => {
  const db = `sqlite://${join(dir, "queue.db")}`;
  small = await startSidecar({
    services: { sql: db },
    serviceOptions: { sql: { "script-timeout": "300ms", "script-workers": 1, "script-queue": 2 } },
  });
  burst = await startSidecar({
    services: { sql: db },
    limits: { requestTimeoutMs: 1_000 },
    serviceOptions: { sql: { "script-timeout": "400ms", "script-workers": 1 } },
  });
});
afterAll(async () => {
  await Promise.all([small?.close(), burst?.close()]);
  rmSync(dir, { recursive: true, force: true });
});

async function script(s: RunningSidecar, code: string) {
  const r = await fetch(`${s.url}/sql/script`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ script: code }),
  });
  return { status: r.status, retryAfter: r.headers.get("retry-after"), body: parseExact(await r.text()) as any };
}

it("refuses scripts beyond the workers and the queue with 503 and Retry-After", async () => {
  const all = await Promise.all(Array.from({ length: 6 }, () => script(small, "while (true) {}")));
  const refused = all.filter((r) => r.status === 503);
  // One runs, two wait, three are refused at once.
  expect(refused).toHaveLength(3);
  for (const r of refused) {
    expect(r.retryAfter).toBe("1");
    expect(r.body).toMatchObject({ code: "UNAVAILABLE", retry_after_seconds: 1 });
    expect(r.body.error).toMatch(/--sql-script-queue/);
  }
  expect(all.filter((r) => r.status === 422).map((r) => r.body.reason)).toEqual(["timeout", "timeout", "timeout"]);
  expect(await script(small, "1 + 1")).toMatchObject({ status: 200, body: { result: 2 } });
});

it("says when to retry over RPC too", async () => {
  const client = createClient(SqlService, createConnectTransport({ baseUrl: small.url, httpVersion: "1.1" }));
  const calls = Array.from({ length: 4 }, () =>
    client.script({ script: "while (true) {}" }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    ),
  );
  const errors = await Promise.all(calls);
  const refused = errors.filter((e) => e?.code === Code.Unavailable);
  expect(refused).toHaveLength(1);
  expect(refused[0]!.metadata.get("retry-after")).toBe("1");
});

it("runs a trivial script as soon as a burst of runaway scripts has been answered", async () => {
  // One worker, 400 ms per runaway script, 1 s per request: most of the burst is answered 408 while queued.
  const answers = await Promise.all(Array.from({ length: 8 }, () => script(burst, "while (true) {}")));
  expect(answers.filter((r) => r.status === 408).length).toBeGreaterThan(3);
  expect(await script(burst, "1 + 1")).toMatchObject({ status: 200, body: { result: 2 } });
});
