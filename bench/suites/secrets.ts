/**
 * Secrets reads over REST: memory, Vault (the tests' loopback Vault in its own process, through node-vault), and
 * Vault with the sidecar's read cache on, whose goal is the sidecar on memory. Each against its limit
 * (bench/limits/secrets.ts); a cached read's limit is the memory one, since a cache hit is a memory read.
 */
import { measure, type BenchRow, type BenchSuite } from "../lib.js";
import { startBenchProcess, startSidecarProcess, type BenchServer } from "../servers.js";

async function seed(server: BenchServer) {
  const res = await fetch(`${server.url}/secrets/secret/bench/key`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: '{"value":"v"}',
  });
  if (res.status !== 201 && res.status !== 409)
    throw new Error(`seeding ${server.url}: ${res.status} ${await res.text()}`);
}

const suite: BenchSuite = {
  name: "secrets",
  async run({ durationSec, connections }) {
    const rows: Array<BenchRow | undefined> = [];
    const vault = await startBenchProcess("./backends/vault.ts");
    const vaultUrl = `vault://127.0.0.1:${new URL(vault.url).port}?token=bench`;
    const started: BenchServer[] = [];
    const start = async (p: Promise<BenchServer>) => {
      const s = await p;
      started.push(s);
      await seed(s);
      return s;
    };
    try {
      const memLimit = await start(startBenchProcess("./limits/secrets.ts", ["memory://"]));
      const vaultLimit = await start(startBenchProcess("./limits/secrets.ts", [vaultUrl]));
      const mem = await start(startSidecarProcess(["--secrets", "--secrets-url", "memory://"]));
      const plain = await start(startSidecarProcess(["--secrets", "--secrets-url", vaultUrl]));
      const cached = await start(
        startSidecarProcess(["--secrets", "--secrets-url", vaultUrl, "--secrets-cache-ttl", "60s"]),
      );
      const load = { steps: [{ method: "GET" as const, path: "/secrets/secret/bench/key" }] };
      for (const conns of connections) {
        const at = { suite: "secrets", connections: conns, durationSec, load };
        rows.push(
          await measure({
            ...at,
            name: "get memory",
            limit: memLimit,
            sidecar: mem,
            direct: { service: "secrets", backend: "memory://", op: "get" },
          }),
        );
        rows.push(
          await measure({
            ...at,
            name: "get vault",
            limit: vaultLimit,
            sidecar: plain,
            direct: { service: "secrets", backend: vaultUrl, op: "get" },
          }),
        );
        rows.push(
          await measure({
            ...at,
            name: "get vault cached",
            limit: memLimit,
            sidecar: cached,
            goal: 0.9,
            goalVs: "get memory",
          }),
        );
      }
    } finally {
      for (const s of started) await s.stop();
      await vault.stop();
    }
    return rows;
  },
};
export default suite;
