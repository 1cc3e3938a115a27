/**
 * Runs a baseline and the case measured against it in alternating slices (A B A B A B) and sums them, so that
 * both see the same share of whatever else the shared machine is doing; back-to-back runs of a few seconds
 * each were seen to differ by 2× on the same server.
 */
import type { LoadResult } from "./lib.js";
import type { H2LoadResult } from "./h2load.js";

type Run<R> = (durationSec: number) => Promise<R>;

function merge<R extends LoadResult>(parts: R[]): R {
  const n = parts.length;
  const mean = (f: (r: R) => number) => parts.reduce((a, r) => a + f(r), 0) / n;
  const out = { ...parts[0]! };
  out.rps = mean((r) => r.rps);
  out.p50Ms = mean((r) => r.p50Ms);
  out.p99Ms = Math.max(...parts.map((r) => r.p99Ms));
  out.errors = parts.reduce((a, r) => a + r.errors, 0);
  const h = out as unknown as H2LoadResult;
  if ("bytesPerSec" in h) h.bytesPerSec = mean((r) => (r as unknown as H2LoadResult).bytesPerSec);
  if (h.cpuUsPerCall !== undefined) h.cpuUsPerCall = mean((r) => (r as unknown as H2LoadResult).cpuUsPerCall ?? 0);
  return out;
}

/** `durationSec` in total for each side, in `slices` alternating parts of at least one second. */
export async function paired<A extends LoadResult, B extends LoadResult>(
  durationSec: number,
  baseline: Run<A>,
  subject: Run<B>,
  slices = 3,
): Promise<[A, B]> {
  const n = Math.max(1, Math.min(slices, Math.floor(durationSec)));
  const d = Math.max(1, Math.round(durationSec / n));
  const a: A[] = [];
  const b: B[] = [];
  for (let i = 0; i < n; i++) {
    a.push(await baseline(d));
    b.push(await subject(d));
  }
  return [merge(a), merge(b)];
}
