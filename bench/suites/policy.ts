/**
 * What a policy costs: REST GET on the memory KV with a 50-token × 10-rule policy (the caller's token the last
 * of the 50, its key in a namespace) against the same sidecar without a policy as the limit (b), each server in
 * its own process and the same wrk load; and the access log (to a file) against none. The goal for the
 * policy row is 0.9; the CPU-per-request columns (b÷c) are the steadier figure on a busy machine.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { measure, type BenchRow, type BenchSuite } from "../lib.js";
import { startSidecarProcess } from "../servers.js";

const TOKEN = "bench-token-49";
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
      resources: [`area-${r}/*`, `other-${r}/*`, "bench*"],
    })),
  }));
  const file = join(dir, "policy.json");
  writeFileSync(file, JSON.stringify({ tokens }));
  return file;
}

const suite: BenchSuite = {
  name: "policy",
  async run({ durationSec, connections }) {
    const rows: Array<BenchRow | undefined> = [];
    const dir = mkdtempSync(join(tmpdir(), "mikcar-bench-policy-"));
    const services = [
      "--kv",
      "--kv-url",
      "memory://",
      "--storage",
      "--storage-url",
      "memory://",
      "--queue",
      "--secrets",
    ];
    const none = await startSidecarProcess(services);
    const policy = await startSidecarProcess([...services, "--policy", policyFile(dir)]);
    const logged = await startSidecarProcess([...services, "--access-log", join(dir, "access.log")]);
    const headers = { authorization: `Bearer ${TOKEN}` };
    try {
      for (const s of [none, policy, logged]) {
        const set = await fetch(`${s.url}/kv/set/bench`, { method: "POST", body: "hello", headers });
        if (!set.ok) throw new Error(`seeding ${s.url} failed: ${set.status} ${await set.text()}`);
      }
      const load = { steps: [{ method: "GET" as const, path: "/kv/get/bench", headers }] };
      for (const conns of connections) {
        const at = { suite: "policy", durationSec, connections: conns, limit: none, load };
        rows.push(
          await measure({
            ...at,
            name: "REST GET, 50 tokens x 10 rules + namespace vs no policy",
            sidecar: policy,
            goal: 0.9,
          }),
        );
        rows.push(await measure({ ...at, name: "REST GET, access log to a file vs none", sidecar: logged }));
      }
    } finally {
      await Promise.all([none.stop(), policy.stop(), logged.stop()]);
      rmSync(dir, { recursive: true, force: true });
    }
    return rows;
  },
};
export default suite;
