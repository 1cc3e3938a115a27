import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LmdbKv } from "../../src/services/kv/backends/lmdb.js";
import { describeKvContract } from "./contract/index.js";

describeKvContract("lmdb", async () => {
  let now = Date.now();
  const backend = new LmdbKv(join(mkdtempSync(join(tmpdir(), "kv-")), "kv.lmdb"), {
    now: () => now,
    purgeIntervalMs: 60_000,
  });
  return { backend, advance: (ms) => (now += ms), purge: () => backend.purge() };
});
