/**
 * The rpc suite's own rows: each case next to the baseline it ran beside (alternating slices, see paired.ts),
 * with p50/p99, printed as one table by the suite itself. HTTP/1.1 load comes from autocannon in this process
 * (the servers run in their own), HTTP/2 load from h2load.
 */
import autocannon from "autocannon";

export interface RpcRow {
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

export function printRows(rows: RpcRow[]): void {
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
