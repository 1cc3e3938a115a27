/**
 * The cost of observability on the REST hot path, KV GET on the memory backend: the same sidecar with metrics
 * on (an admin listener) as (c) against metrics off as (b), goal 0.95; and the resilience policy at its
 * defaults (c) against turned off (b). Here (b) is not a bare node:http server but the sidecar without the
 * feature, so c÷b (and b÷c of CPU per request, the steadier figure on a busy machine) is the feature's cost.
 */
import { measure, type BenchRow, type BenchSuite } from "../lib.js";
import { type BenchServer, startSidecarProcess } from "../servers.js";

const KV = ["--kv", "--kv-url", "memory://"];
const NO_RESILIENCE = ["--kv-retries", "0", "--kv-breaker-failures", "0", "--kv-call-timeout", "0"];

const suite: BenchSuite = {
  name: "observability",
  async run({ durationSec, connections }) {
    const rows: Array<BenchRow | undefined> = [];
    const servers: BenchServer[] = [];
    const start = async (args: string[]) => {
      const s = await startSidecarProcess(args);
      servers.push(s);
      await fetch(`${s.url}/kv/set/bench`, { method: "POST", body: "hello" });
      return s;
    };
    try {
      const off = await start(KV);
      const on = await start([...KV, "--admin-port", "0"]);
      const bare = await start([...KV, ...NO_RESILIENCE]);
      const load = { steps: [{ method: "GET" as const, path: "/kv/get/bench" }] };
      for (const conns of connections) {
        rows.push(
          await measure({
            suite: "observability",
            name: "REST GET, metrics on (c) vs off (b)",
            connections: conns,
            durationSec,
            load,
            limit: off,
            sidecar: on,
            goal: 0.95,
            note: "b is the same sidecar without an admin listener (metrics off)",
          }),
        );
        rows.push(
          await measure({
            suite: "observability",
            name: "REST GET, resilience defaults (c) vs off (b)",
            connections: conns,
            durationSec,
            load,
            limit: bare,
            sidecar: off,
            note: "b has --kv-retries 0 --kv-breaker-failures 0 --kv-call-timeout 0",
          }),
        );
      }
      return rows;
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
    }
  },
};

export default suite;
