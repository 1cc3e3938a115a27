/** The KV service as a sidecar module: `--kv`, `KV_URL`, backends memory / lmdb / redis. */
import { KvService } from "../../../gen/mikcar/kv/v1/kv_pb.js";
import { type ServiceInstance, type ServiceModule, serviceInstance } from "../module.js";
import type { KvBackend } from "./backend.js";
import { KV_CALLS } from "./calls.js";
import { KV_SCHEMES, openKvBackend } from "./registry.js";
import { kvRoutes } from "./rest.js";
import { createKvService } from "./service.js";
import { kvResources } from "./resources.js";

/** A KV service instance over a backend you opened yourself (library use and tests). */
export function kvInstance(backend: KvBackend, _opts: Record<string, never> = {}): ServiceInstance<typeof KvService> {
  return { ...serviceInstance(KvService, createKvService(backend), kvRoutes, backend), resources: kvResources };
}

export const kvModule: ServiceModule = {
  name: "kv",
  summary: "key-value store with TTLs (memory, lmdb file, redis)",
  defaultUrl: "file://./data/kv.lmdb",
  schemes: KV_SCHEMES,
  async open(url, ctx) {
    return kvInstance(ctx.guard(await openKvBackend(url), KV_CALLS));
  },
};
