/**
 * Benchmark plumbing. Every case is measured three ways in the same run: (a) the backend work through its direct
 * client alone, (b) the limit — a bare `node:http` server doing that same work per request (bench/limits/), and
 * (c) the sidecar. (b) and (c) each run in their own process and get the same load from `wrk` in a third, with
 * the same connections, bytes and durability. The ratio that counts is c ÷ b; absolute figures on a shared
 * 2-core machine say little. Beside throughput, each server's CPU time per operation is read from /proc: when
 * other work competes for the cores, b÷c of CPU per operation is the steadier estimate of what c÷b would be
 * on a quiet machine.
 */
import { wrk, type LoadResult, type LoadSpec } from "./load.js";
import { cpuSeconds, runDirect, type BenchServer, type DirectSpec } from "./servers.js";

export interface BenchContext {
  durationSec: number;
  /** Connection counts to run each case at (and the direct client's concurrency). */
  connections: number[];
  /** Keys, objects or messages present while measuring (KV, storage, queue). */
  population: number;
}

export interface BenchRow {
  suite: string;
  name: string;
  /** What `rps × per` counts: "req/s", "MB/s", "round trips/s"… */
  unit: string;
  /** Multiplier from operations per second to `unit` (bytes → MB for storage). */
  per?: number;
  connections?: number;
  population?: number;
  direct?: LoadResult;
  limit?: LoadResult;
  sidecar?: LoadResult;
  /** The goal for sidecar ÷ reference, where the issue sets one. */
  goal?: number;
  /** The goal compares the sidecar with this row's sidecar instead of with this row's limit. */
  goalVs?: string;
  note?: string;
}

export interface BenchSuite {
  name: string;
  /** Rows of skipped cases (see `onlyCases`) are undefined. */
  run(ctx: BenchContext): Promise<Array<BenchRow | undefined>>;
}

export interface Case {
  suite: string;
  name: string;
  unit?: string;
  per?: number;
  connections: number;
  population?: number;
  durationSec: number;
  /** The load, without url, connections or duration. */
  load: Omit<LoadSpec, "url" | "connections" | "durationSec">;
  limit?: BenchServer;
  sidecar: BenchServer;
  direct?: Omit<DirectSpec, "concurrency" | "durationSec" | "keys">;
  goal?: number;
  goalVs?: string;
  note?: string;
  /** CPU seconds the backend has used so far (e.g. Redis INFO): reported per operation in the row's note. */
  backendCpu?: () => Promise<number>;
}

let only: RegExp | undefined;
/** Restricts `measure` to cases whose name matches (`npm run bench -- storage --case 'GET 1KiB'`). */
export function onlyCases(pattern: string | undefined) {
  only = pattern ? new RegExp(pattern, "i") : undefined;
}

const warmed = new WeakSet<BenchServer>();

/** False for a case `onlyCases` excludes. */
export const wanted = (name: string) => !only || only.test(name);

/** The mean of two runs of the same load (errors added up). */
function mean(x: LoadResult, y: LoadResult): LoadResult {
  const avg = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined ? undefined : (a + b) / 2;
  return {
    rps: (x.rps + y.rps) / 2,
    ops: x.ops + y.ops,
    p50Ms: (x.p50Ms + y.p50Ms) / 2,
    p99Ms: (x.p99Ms + y.p99Ms) / 2,
    errors: x.errors + y.errors,
    cpuUs: avg(x.cpuUs, y.cpuUs),
  };
}

/**
 * Measures one case: direct (if given), then limit and sidecar in the order limit, sidecar, sidecar, limit, so
 * that a machine growing busier or quieter during the case weighs on both alike.
 */
export async function measure(c: Case): Promise<BenchRow | undefined> {
  if (!wanted(c.name)) return undefined;
  const keys = c.load.keys ?? 1;
  const spec = { ...c.load, connections: c.connections, durationSec: c.durationSec };
  const direct = c.direct
    ? await runDirect({ ...c.direct, keys, concurrency: c.connections, durationSec: c.durationSec })
    : undefined;
  // CPU time the server process used per operation: on a busy machine a steadier measure than throughput.
  const backendUs = new Map<BenchServer, number[]>();
  const run = async (server: BenchServer) => {
    const before = cpuSeconds(server.pid);
    const backendBefore = await c.backendCpu?.();
    const r = await wrk({ ...spec, url: server.url });
    const used = cpuSeconds(server.pid) - before;
    if (c.backendCpu && r.ops > 0) {
      const list = backendUs.get(server) ?? [];
      list.push((((await c.backendCpu()) - backendBefore!) * 1e6) / r.ops);
      backendUs.set(server, list);
    }
    return { ...r, cpuUs: r.ops > 0 ? (used * 1e6) / r.ops : NaN };
  };
  // A fresh process compiles its hot paths during its first second of load: keep that out of the figures.
  for (const server of [c.limit, c.sidecar]) {
    if (!server || warmed.has(server)) continue;
    warmed.add(server);
    await wrk({ ...spec, durationSec: 1, url: server.url });
  }
  const limit1 = c.limit ? await run(c.limit) : undefined;
  const sidecar = mean(await run(c.sidecar), await run(c.sidecar));
  const limit = limit1 && mean(limit1, await run(c.limit!));
  const row: BenchRow = {
    suite: c.suite,
    name: c.name,
    unit: c.unit ?? "req/s",
    per: c.per,
    connections: c.connections,
    population: c.population,
    direct,
    limit,
    sidecar,
    goal: c.goal,
    goalVs: c.goalVs,
    note: c.note,
  };
  if (c.backendCpu) {
    const avg = (xs: number[] | undefined) => (xs ? xs.reduce((x, y) => x + y, 0) / xs.length : NaN);
    const b = avg(c.limit && backendUs.get(c.limit));
    const cs = avg(backendUs.get(c.sidecar));
    row.note = [row.note, `backend CPU per operation: limit ${fmtN(b)} µs, sidecar ${fmtN(cs)} µs`]
      .filter(Boolean)
      .join("; ");
  }
  console.error(`#   ${summary(row)}`);
  return row;
}

const fmtN = (n: number | undefined) =>
  n === undefined || !Number.isFinite(n) ? "—" : n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
const fmtR = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? "—" : n.toFixed(2));
const value = (row: BenchRow, r: LoadResult | undefined) => (r ? r.rps * (row.per ?? 1) : undefined);

function summary(row: BenchRow): string {
  const c = value(row, row.sidecar);
  const b = value(row, row.limit);
  return `${row.name} c=${row.connections}: sidecar ${fmtN(c)} ${row.unit}${b !== undefined ? `, limit ${fmtN(b)}, ratio ${fmtR(c! / b)}` : ""}`;
}

function pad(cells: string[], widths: number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
}

/** Prints one table per suite: sidecar ÷ limit first, then the three columns, latency and errors. */
export function printRows(rows: BenchRow[]): void {
  const bySuite = new Map<string, BenchRow[]>();
  for (const r of rows) bySuite.set(r.suite, [...(bySuite.get(r.suite) ?? []), r]);
  for (const [suite, list] of bySuite) {
    const head = [
      "case",
      "conns",
      "c÷b",
      "goal",
      "(a) direct",
      "(b) limit",
      "(c) sidecar",
      "unit",
      "b÷a",
      "cpu µs/op b",
      "c",
      "b÷c",
      "p99 b ms",
      "p99 c ms",
      "errors a/b/c",
    ];
    const lines = list.map((r) => {
      const [a, b, c] = [value(r, r.direct), value(r, r.limit), value(r, r.sidecar)];
      const ref = r.goalVs
        ? list.find(
            (x) =>
              x.name === r.goalVs &&
              x.connections === r.connections &&
              (x.population === undefined || x.population === r.population),
          )
        : undefined;
      const refValue = ref ? value(ref, ref.sidecar) : b;
      const goal = r.goal === undefined ? "" : `${fmtR(c! / refValue!)}/${r.goal}${r.goalVs ? ` of ${r.goalVs}` : ""}`;
      const errs = [r.direct, r.limit, r.sidecar].map((x) => (x ? String(x.errors) : "—")).join("/");
      return [
        r.name + (r.population ? ` [${r.population.toExponential(0).replace("+", "")}]` : ""),
        String(r.connections ?? ""),
        fmtR(c! / b!),
        goal,
        fmtN(a),
        fmtN(b),
        fmtN(c),
        r.unit,
        fmtR(b! / a!),
        fmtN(r.limit?.cpuUs),
        fmtN(r.sidecar?.cpuUs),
        fmtR((r.limit?.cpuUs ?? NaN) / (r.sidecar?.cpuUs ?? NaN)),
        fmtN(r.limit?.p99Ms),
        fmtN(r.sidecar?.p99Ms),
        errs,
      ];
    });
    const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
    console.log(`\n## ${suite}`);
    console.log(pad(head, widths));
    for (const l of lines) console.log(pad(l, widths));
    for (const r of list) if (r.note) console.log(`  * ${r.name}: ${r.note}`);
  }
}
