/** The KV service as a sidecar module: `--kv`, `KV_URL`, backends memory / lmdb / redis. */
import { KvService } from "../../../gen/mikcar/kv/v1/kv_pb.js";
import { kvRoutes } from "./rest.js";
import { serviceInstance, type ServiceModule } from "../module.js";
import type { KvBackend } from "./backend.js";
import { KV_SCHEMES, openKvBackend } from "./registry.js";
import { createKvService } from "./service.js";

export function kvInstance(backend: KvBackend) {
  const impl = createKvService(backend);
  return serviceInstance(KvService, impl, kvRoutes(impl), backend);
}

export const kvModule: ServiceModule = {
  name: "kv",
  summary: "key-value store with TTLs (memory, lmdb file, redis)",
  defaultUrl: "file://./data/kv.lmdb",
  schemes: KV_SCHEMES,
  async open(url) {
    return kvInstance(await openKvBackend(url));
  },
};
