/**
 * Runs a baseline and the case measured against it in alternating slices (A B A B A B) and averages them, so
 * that both see the same share of whatever else the shared machine is doing; back-to-back runs of a few seconds
 * each were seen to differ by 2× on the same server.
 */
import type { LoadResult } from "../load.js";

type Run = (durationSec: number) => Promise<LoadResult>;

function merge(parts: LoadResult[]): LoadResult {
  const mean = (f: (r: LoadResult) => number) => parts.reduce((a, r) => a + f(r), 0) / parts.length;
  const cpu = parts.every((r) => r.cpuUs !== undefined) ? mean((r) => r.cpuUs!) : undefined;
  return {
    rps: mean((r) => r.rps),
    ops: parts.reduce((a, r) => a + r.ops, 0),
    p50Ms: mean((r) => r.p50Ms),
    p99Ms: Math.max(...parts.map((r) => r.p99Ms)),
    errors: parts.reduce((a, r) => a + r.errors, 0),
    cpuUs: cpu,
  };
}

/** `durationSec` in total for each side, in `slices` alternating parts of at least one second. */
export async function paired(
  durationSec: number,
  baseline: Run,
  subject: Run,
  slices = 3,
): Promise<[LoadResult, LoadResult]> {
  const n = Math.max(1, Math.min(slices, Math.floor(durationSec)));
  const d = Math.max(1, Math.round(durationSec / n));
  const a: LoadResult[] = [];
  const b: LoadResult[] = [];
  for (let i = 0; i < n; i++) {
    a.push(await baseline(d));
    b.push(await subject(d));
  }
  return [merge(a), merge(b)];
}
