/**
 * h2load (Debian `nghttp2-client`) as the HTTP/2 load generator: a C client in its own process, so that it is
 * not the bottleneck the way connect-node's own client is (0.6–1.5k req/s). Latency percentiles come from its
 * per-request log. Server CPU per call is read from /proc around the run, which contention on a shared machine
 * disturbs less than req/s.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LoadResult } from "../load.js";

export interface H2Load {
  url: string;
  /** Request body (sent as a POST). */
  body: Uint8Array;
  headers: Record<string, string>;
  durationSec: number;
  /** A fixed number of requests instead of a duration. */
  requests?: number;
  connections?: number;
  streams?: number;
  /** Process whose CPU time is measured around the run. */
  serverPid?: number;
}

export interface H2LoadResult extends LoadResult {
  /** Bytes of response bodies per second. */
  bytesPerSec: number;
}

export function hasH2load(): Promise<boolean> {
  return new Promise((resolve) => execFile("h2load", ["--version"], (err) => resolve(!err)));
}

/** CPU time (user + system) of a process in microseconds, from /proc. */
export function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of stat (12 and 13 after the command name), in clock ticks (100/s).
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

export async function h2load(opts: H2Load): Promise<H2LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), "mikcar-h2load-"));
  try {
    const data = join(dir, "body");
    const log = join(dir, "log");
    writeFileSync(data, opts.body);
    const args = [
      "-c",
      String(opts.connections ?? 8),
      "-m",
      String(opts.streams ?? 16),
      ...(opts.requests ? ["-n", String(opts.requests)] : ["-D", String(opts.durationSec)]),
      "-d",
      data,
      "--log-file",
      log,
    ];
    for (const [k, v] of Object.entries(opts.headers)) args.push("-H", `${k}: ${v}`);
    args.push(opts.url);
    const cpu0 = opts.serverPid ? cpuMicros(opts.serverPid) : 0;
    const out = await new Promise<string>((resolve, reject) =>
      execFile("h2load", args, { maxBuffer: 16 << 20 }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
    );
    const cpu = opts.serverPid ? cpuMicros(opts.serverPid) - cpu0 : 0;
    const done = Number(/(\d+) succeeded/.exec(out)?.[1] ?? 0);
    const failed = Number(/(\d+) failed/.exec(out)?.[1] ?? 0) + Number(/(\d+) errored/.exec(out)?.[1] ?? 0);
    const non2xx = /status codes: \d+ 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
    const bad = non2xx ? Number(non2xx[1]) + Number(non2xx[2]) + Number(non2xx[3]) : 0;
    const dataBytes = Number(/\((\d+)\) data/.exec(out)?.[1] ?? 0);
    const lat = readFileSync(log, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => Number(l.split("\t")[2]) / 1000)
      .sort((a, b) => a - b);
    const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? 0;
    return {
      rps: done / opts.durationSec,
      ops: done,
      p50Ms: pct(0.5),
      p99Ms: pct(0.99),
      errors: failed + bad,
      bytesPerSec: dataBytes / opts.durationSec,
      cpuUs: opts.serverPid && done > 0 ? cpu / done : undefined,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
