/** The server's one logging policy for failures, shared by REST and RPC. */
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { logFailure } from "../../src/server/failures.js";
import { sidecarError } from "../../src/shared/errors.js";
import { createLogger } from "../../src/shared/log.js";

function logged(err: unknown): Array<{ level: string; event: string; error?: string }> {
  const lines: string[] = [];
  logFailure(
    createLogger("debug", (l) => lines.push(l)),
    "rest.failed",
    { path: "/x" },
    err,
  );
  return lines.map((l) => JSON.parse(l));
}

describe("logFailure", () => {
  it("logs server-side failures as errors, whatever protocol carried them", () => {
    expect(logged(sidecarError("UNAVAILABLE", "kv backend unreachable"))).toMatchObject([
      { level: "error", event: "rest.failed", error: "[unavailable] kv backend unreachable" },
    ]);
    expect(logged(new Error("boom at redis://u:p@db:6379"))).toMatchObject([
      { level: "error", error: "boom at redis://***@db:6379" },
    ]);
  });
  it("logs nothing for the caller's mistakes or the client's own deadline", () => {
    expect(logged(sidecarError("BAD_REQUEST", "key must not be empty"))).toEqual([]);
    expect(logged(new ConnectError("deadline", Code.DeadlineExceeded))).toEqual([]);
  });
  it("logs a refusal that says when to retry (load shedding) as a warning", () => {
    const err = sidecarError("UNAVAILABLE", "the script queue is full");
    err.metadata.set("retry-after", "5");
    expect(logged(err)).toMatchObject([{ level: "warn", error: "[unavailable] the script queue is full" }]);
  });
});
