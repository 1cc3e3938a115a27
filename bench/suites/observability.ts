/**
 * The cost of observability on the REST hot path (KV GET on the memory backend, HTTP/1.1 keep-alive over the
 * Unix socket): the same sidecar with metrics on (an admin listener) against metrics off, and with the resilience
 * policy turned off against its defaults. The sidecars run side by side in their own processes and the cases
 * alternate over several rounds, so machine noise falls on every side.
 *
 * Two figures per case: throughput (best round), and server CPU time per request (from /proc), which a busy
 * shared machine disturbs less. The CPU rows give the median over rounds, and as ratio the median of each
 * round's baseline CPU / case CPU (cases of one round run back to back, so a burst of noise mostly cancels);
 * 0.95 means each request costs 1/0.95 as much CPU: the throughput ratio a saturated core would show.
 */
import { readFileSync } from "node:fs";
import autocannon from "autocannon";
import type { BenchRow, BenchSuite } from "../lib.js";
import { type BenchServer, startSidecarProcess } from "../servers.js";

// Many short alternating rounds: on a shared machine, noise comes in bursts of seconds.
const ROUNDS = 12;
const KV = ["--kv", "--kv-url", "memory://"];
const NO_RESILIENCE = ["--kv-retries", "0", "--kv-breaker-failures", "0", "--kv-call-timeout", "0"];

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
}

const suite: BenchSuite = {
  name: "observability",
  async run({ durationSec }) {
    const variants: Array<[string, string[]]> = [
      ["metrics off", KV],
      ["metrics on", [...KV, "--admin-port", "0"]],
      ["metrics off, no resilience", [...KV, ...NO_RESILIENCE]],
    ];
    const servers: BenchServer[] = [];
    try {
      for (const [, args] of variants) servers.push(await startSidecarProcess(args));
      for (const s of servers) await fetch(`${s.url}/kv/set/bench`, { method: "POST", body: "hello" });
      const best = new Map<string, { rps: number; p50: number; p99: number }>();
      const cpu = new Map<string, number[]>(); // µs of CPU per request, per round
      for (let round = 0; round < ROUNDS; round++) {
        for (const [i, [name]] of variants.entries()) {
          const s = servers[i]!;
          const before = cpuSeconds(s.pid);
          const r = await autocannon({
            url: "http://localhost/kv/get/bench",
            socketPath: s.socket,
            connections: 32,
            pipelining: 1,
            duration: Math.max(1, Math.round(durationSec / 3)),
          });
          const used = cpuSeconds(s.pid) - before;
          if (r.errors + r.timeouts + r.non2xx > 0) console.error(`# observability/${name}: errors`);
          cpu.set(name, [...(cpu.get(name) ?? []), (used / r.requests.total) * 1e6]);
          const prev = best.get(name);
          if (!prev || r.requests.average > prev.rps)
            best.set(name, { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99 });
        }
      }
      const rows: BenchRow[] = [];
      const median = (xs: number[]) => {
        const v = [...xs].sort((a, b) => a - b);
        return v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
      };
      const base = cpu.get("metrics off")!;
      for (const [name] of variants) {
        const b = best.get(name)!;
        rows.push({
          suite: "observability",
          name: `REST GET unix, ${name}`,
          value: b.rps,
          unit: "req/s",
          p50Ms: b.p50,
          p99Ms: b.p99,
          baseline: "REST GET unix, metrics off",
        });
      }
      for (const [name] of variants) {
        rows.push({
          suite: "observability",
          name: `server CPU per REST GET, ${name}`,
          value: median(cpu.get(name)!),
          unit: "µs CPU/req",
          baseline: "server CPU per REST GET, metrics off",
          ratio: median(cpu.get(name)!.map((us, i) => base[i]! / us)),
        });
      }
      return rows;
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
    }
  },
};

export default suite;
