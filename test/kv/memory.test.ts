import { MemoryKv } from "../../src/services/kv/backends/memory.js";
import { describeKvContract } from "./contract/index.js";

describeKvContract("memory", async () => {
  let now = Date.now();
  const backend = new MemoryKv({ now: () => now, purgeIntervalMs: 60_000 });
  return { backend, advance: (ms) => (now += ms), purge: () => backend.purge() };
});
