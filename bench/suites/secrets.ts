/**
 * Secrets reads over REST: memory (baseline), Vault through node-vault against the loopback Vault fake, and the
 * same with the read cache on — the cache's gain is the ratio to the uncached Vault row.
 */
import { startVaultFake } from "../../test/secrets/fakes/vault-server.js";
import { startSidecar } from "../../test/helpers/sidecar.js";
import { load, type BenchRow, type BenchSuite } from "../lib.js";

async function readRate(services: Parameters<typeof startSidecar>[0], durationSec: number) {
  const s = await startSidecar(services);
  try {
    const put = await fetch(s.url + "/secrets/secret/bench/key", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"value":"v"}',
    });
    if (put.status !== 201 && put.status !== 409) throw new Error(`seeding failed: ${put.status}`);
    return await load({ url: s.url + "/secrets/secret/bench/key", duration: durationSec });
  } finally {
    await s.close();
  }
}

const suite: BenchSuite = {
  name: "secrets",
  async run({ durationSec }) {
    const vault = await startVaultFake({ token: "bench" });
    const vaultUrl = `vault://127.0.0.1:${vault.port}?token=bench`;
    try {
      const rows: BenchRow[] = [];
      const add = (name: string, r: Awaited<ReturnType<typeof load>>, baseline?: string) =>
        rows.push({ suite: "secrets", name, value: r.rps, unit: "req/s", p50Ms: r.p50Ms, p99Ms: r.p99Ms, baseline });
      add("get memory", await readRate({ services: { secrets: "memory://" } }, durationSec));
      add("get vault", await readRate({ services: { secrets: vaultUrl } }, durationSec), "get memory");
      add(
        "get vault cached",
        await readRate(
          { services: { secrets: vaultUrl }, serviceOptions: { secrets: { "cache-ttl": "60s" } } },
          durationSec,
        ),
        "get vault",
      );
      return rows;
    } finally {
      await vault.stop();
    }
  },
};
export default suite;
