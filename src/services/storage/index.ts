/** The storage service as a sidecar module: `--storage`, `STORAGE_URL`, backends memory / file / s3. */
import { StorageService } from "../../../gen/mikcar/storage/v1/storage_pb.js";
import { type ServiceInstance, type ServiceModule, serviceInstance } from "../module.js";
import type { StorageBackend } from "./backend.js";
import { STORAGE_CALLS } from "./calls.js";
import { openStorageBackend, STORAGE_SCHEMES } from "./registry.js";
import { storageRoutes } from "./rest.js";
import { createStorageService, type StorageServiceOptions } from "./service.js";
import { storageResources } from "./resources.js";

export const DEFAULT_MAX_OBJECT_BYTES = 5 * 1024 ** 3;

/** A storage service instance over a backend you opened yourself (library use and tests). */
export function storageInstance(
  backend: StorageBackend,
  opts: StorageServiceOptions,
): ServiceInstance<typeof StorageService> {
  return {
    ...serviceInstance(StorageService, createStorageService(backend, opts), storageRoutes, backend),
    resources: storageResources,
  };
}

export const storageModule: ServiceModule = {
  name: "storage",
  summary: "object storage, streamed both ways (memory, file directory, s3)",
  defaultUrl: "file://./data/storage",
  schemes: STORAGE_SCHEMES,
  options: {
    "max-object-size": {
      type: "size",
      min: 1,
      env: "STORAGE_MAX_OBJECT_SIZE",
      description: "largest object accepted by uploads",
      default: DEFAULT_MAX_OBJECT_BYTES,
    },
    "idle-timeout": {
      type: "duration",
      env: "STORAGE_IDLE_TIMEOUT",
      description: "time an upload may send nothing before it is dropped (0 = never); default: the request timeout",
    },
  },
  async open(url, ctx) {
    const idle = ctx.options["idle-timeout"] as number | undefined;
    const opts: StorageServiceOptions = {
      maxObjectBytes: ctx.options["max-object-size"] as number,
      maxMessageBytes: ctx.limits.maxBodyBytes,
      idleTimeoutMs: idle ?? ctx.limits.requestTimeoutMs,
    };
    return storageInstance(ctx.guard(await openStorageBackend(url), STORAGE_CALLS), opts);
  },
};
