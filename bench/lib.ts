/**
 * Benchmark plumbing. Every figure is reported next to a baseline measured in the same run on the same machine,
 * as a ratio, because absolute numbers on a shared 2-core box say little.
 */
import autocannon from "autocannon";

export interface BenchRow {
  suite: string;
  name: string;
  /** Throughput in `unit` (req/s, MB/s, ops/s). */
  value: number;
  unit: string;
  p50Ms?: number;
  p99Ms?: number;
  /** Name of the row this one is compared with, and value / baseline value. */
  baseline?: string;
  ratio?: number;
}

export interface BenchSuite {
  name: string;
  /** Returns rows; rows with `baseline` get their ratio filled in by the runner if absent. */
  run(opts: { durationSec: number }): Promise<BenchRow[]>;
}

export interface LoadResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

/** Drives an HTTP endpoint with autocannon (keep-alive, pipelining 1) and returns req/s and latency. */
export async function load(opts: autocannon.Options): Promise<LoadResult> {
  const r = await autocannon({ connections: 32, pipelining: 1, duration: 5, ...opts });
  const errors = r.errors + r.timeouts + r.non2xx;
  return { rps: r.requests.average, p50Ms: r.latency.p50, p99Ms: r.latency.p99, errors };
}

/** Runs `op` with `concurrency` workers for `durationSec`; returns ops/s and latency percentiles. */
export async function loop(op: () => Promise<unknown>, durationSec: number, concurrency = 32): Promise<LoadResult> {
  const lat: number[] = [];
  let errors = 0;
  const end = performance.now() + durationSec * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        try {
          await op();
        } catch {
          errors++;
        }
        lat.push(performance.now() - t);
      }
    }),
  );
  lat.sort((a, b) => a - b);
  const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? 0;
  return { rps: lat.length / durationSec, p50Ms: pct(0.5), p99Ms: pct(0.99), errors };
}

export function printRows(rows: BenchRow[]): void {
  const byName = new Map(rows.map((r) => [`${r.suite}/${r.name}`, r]));
  const fmt = (n: number | undefined, d = 1) => (n === undefined ? "" : n.toFixed(d));
  console.log(["suite", "case", "value", "unit", "p50 ms", "p99 ms", "vs baseline", "ratio"].join("\t"));
  for (const r of rows) {
    const base = r.baseline ? byName.get(`${r.suite}/${r.baseline}`) : undefined;
    const ratio = r.ratio ?? (base ? r.value / base.value : undefined);
    console.log(
      [r.suite, r.name, fmt(r.value), r.unit, fmt(r.p50Ms, 2), fmt(r.p99Ms, 2), r.baseline ?? "", fmt(ratio, 2)].join(
        "\t",
      ),
    );
  }
}
