/**
 * Honest skips for tests that need a real server (Redis, Postgres, RabbitMQ, …). A backend that does not
 * answer is skipped with its reason printed — unless REQUIRE_BACKENDS names it (CI sets it), then the suite
 * fails instead of going green with nothing run.
 */
import { randomBytes } from "node:crypto";
import * as net from "node:net";

const required = new Set(
  (process.env.REQUIRE_BACKENDS ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean),
);

/** True when `probe` succeeds. When it fails: throws if the backend is required, else logs why it is skipped. */
export async function backendAvailable(name: string, probe: () => Promise<unknown>): Promise<boolean> {
  try {
    await probe();
    return true;
  } catch (err) {
    const why = `${name} is not reachable (${(err as Error).message})`;
    if (required.has(name) || required.has("all")) throw new Error(`${why}, and REQUIRE_BACKENDS requires it`);
    console.warn(`SKIPPING ${name} suites: ${why}. Set REQUIRE_BACKENDS=${name} to make this a failure.`);
    return false;
  }
}

/** Resolves when a TCP port accepts connections. */
export function tcpProbe(port: number, host = "127.0.0.1", timeoutMs = 1_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host });
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error(`timeout connecting to ${host}:${port}`));
    }, timeoutMs);
    s.once("connect", () => {
      clearTimeout(t);
      s.destroy();
      resolve();
    });
    s.once("error", (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

/** A name unique to this test run, for keys, schemas, queues on shared servers. */
export function runId(prefix = "t"): string {
  return `${prefix}${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
}
