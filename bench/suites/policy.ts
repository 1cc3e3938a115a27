/**
 * What a policy costs: REST GET on the memory KV with a 50-token × 10-rule policy (the caller in a namespace,
 * its rule the last one of the last token) beside the same server with no policy, each server in its own process
 * and the two measured alternately in the same run. Also the access log's cost (to a file) beside none.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { load, type BenchRow, type BenchSuite } from "../lib.js";
import { startSidecarProcess } from "../servers.js";

const TOKEN = "bench-token-49";

/** CPU time (user + system) a process has used, in ms: robust to a busy machine, unlike throughput. */
function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime, stime in clock ticks of 1/100 s
}
const sha = (s: string) => createHash("sha256").update(s).digest("hex");

function policyFile(dir: string): string {
  const services = ["kv", "storage", "queue", "secrets", "kv", "storage", "queue", "secrets", "kv", "kv"];
  const tokens = Array.from({ length: 50 }, (_, t) => ({
    id: `handler-${t}`,
    sha256: sha(`bench-token-${t}`),
    namespace: `tenant-${t}/`,
    allow: services.map((service, r) => ({
      service,
      methods: service === "kv" ? ["Get", "Set", "Keys"] : ["*"],
      resources: [`area-${r}/*`, `other-${r}/*`, `bench*`],
    })),
  }));
  const file = join(dir, "policy.json");
  writeFileSync(file, JSON.stringify({ tokens }));
  return file;
}

const suite: BenchSuite = {
  name: "policy",
  async run({ durationSec }) {
    const rows: BenchRow[] = [];
    const dir = mkdtempSync(join(tmpdir(), "mikcar-bench-policy-"));
    const file = policyFile(dir);
    const kv = ["--kv", "--kv-url", "memory://", "--storage", "--storage-url", "memory://", "--queue", "--secrets"];
    const none = await startSidecarProcess(kv);
    const policy = await startSidecarProcess([...kv, "--policy", file]);
    const logged = await startSidecarProcess([...kv, "--access-log", join(dir, "access.log")]);
    const headers = { authorization: `Bearer ${TOKEN}` };
    try {
      for (const s of [none, logged]) await fetch(`${s.url}/kv/set/bench`, { method: "POST", body: "hello" });
      await fetch(`${policy.url}/kv/set/bench`, { method: "POST", body: "hello", headers });
      const check = await fetch(`${policy.url}/kv/get/bench`, { headers });
      if (check.status !== 200) throw new Error(`policy server answered ${check.status} to the bench token`);
      const add = (
        name: string,
        r: { rps: number; p50Ms: number; p99Ms: number; errors: number },
        baseline?: string,
      ) => {
        if (r.errors > 0) console.error(`# policy/${name}: ${r.errors} errors`);
        rows.push({ suite: "policy", name, value: r.rps, unit: "req/s", p50Ms: r.p50Ms, p99Ms: r.p99Ms, baseline });
      };
      // Alternating halves, so that a noisy neighbour on the shared machine hits both sides alike.
      const half = Math.max(1, durationSec / 2);
      const servers = { none, policy, logged };
      type K = keyof typeof servers;
      const keys: K[] = ["none", "policy", "logged"];
      const acc = { none: [] as number[], policy: [] as number[], logged: [] as number[] };
      const cpu = { none: { ms: 0, n: 0 }, policy: { ms: 0, n: 0 }, logged: { ms: 0, n: 0 } };
      const last: Partial<Record<K, { p50Ms: number; p99Ms: number; errors: number }>> = {};
      for (let i = 0; i < 2; i++) {
        for (const k of keys) {
          const before = cpuMs(servers[k].pid);
          const r = await load({ url: `${servers[k].url}/kv/get/bench`, headers, duration: half });
          cpu[k].ms += cpuMs(servers[k].pid) - before;
          cpu[k].n += r.rps * half;
          acc[k].push(r.rps);
          last[k] = r;
        }
      }
      const mean = (xs: number[]) => xs.reduce((x, y) => x + y, 0) / xs.length;
      const names = {
        none: "REST GET tcp, no policy",
        policy: "REST GET tcp, 50 tokens x 10 rules + namespace",
        logged: "REST GET tcp, access log to a file",
      };
      for (const k of keys) add(names[k], { ...last[k]!, rps: mean(acc[k]) }, k === "none" ? undefined : names.none);
      // Throughput on a shared 2-core machine swings with the neighbours; server CPU per request does not. The
      // ratio is requests per CPU-second against the no-policy server (1.0 = costs nothing).
      const perReq = (k: K) => cpu[k].ms / cpu[k].n;
      for (const k of keys) {
        rows.push({
          suite: "policy",
          name: `${names[k]} (server CPU)`,
          value: perReq(k) * 1000,
          unit: "µs/req",
          ...(k === "none" ? {} : { baseline: `${names.none} (server CPU)`, ratio: perReq("none") / perReq(k) }),
        });
      }
    } finally {
      await Promise.all([none.stop(), policy.stop(), logged.stop()]);
    }
    return rows;
  },
};
export default suite;
