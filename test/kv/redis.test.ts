import { describe } from "vitest";
import { RedisKv } from "../../src/services/kv/backends/redis.js";
import { backendAvailable, runId, tcpProbe } from "../helpers/backends.js";
import { describeKvContract } from "./contract/index.js";

const available = await backendAvailable("redis", () => tcpProbe(6379));

// Redis keeps time itself (no clock to inject), so TTL cases sleep just over a second.
describe.runIf(available)("redis", () => {
  describeKvContract("redis", async () => ({
    backend: await RedisKv.open(`redis://127.0.0.1:6379/0?prefix=${runId("kvtest")}:`),
  }));
});
