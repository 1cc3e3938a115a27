/** The storage service as a sidecar module: `--storage`, `STORAGE_URL`, backends memory / file / s3. */
import { StorageService } from "../../../gen/mikcar/storage/v1/storage_pb.js";
import { storageRoutes } from "./rest.js";
import { parseSeconds, parseSize } from "../../shared/size.js";
import { serviceInstance, type ServiceInstance, type ServiceModule } from "../module.js";
import type { StorageBackend } from "./backend.js";
import { openStorageBackend, STORAGE_SCHEMES } from "./registry.js";
import { createStorageService, type StorageServiceOptions } from "./service.js";

export const DEFAULT_MAX_OBJECT_SIZE = "5GiB";

/** A storage service instance over a backend you opened yourself. */
export function storageInstance(backend: StorageBackend, opts: StorageServiceOptions): ServiceInstance {
  const impl = createStorageService(backend, opts);
  return serviceInstance(StorageService, impl, storageRoutes(impl), backend);
}

export const storageModule: ServiceModule = {
  name: "storage",
  summary: "object storage, streamed both ways (memory, file directory, s3)",
  defaultUrl: "file://./data/storage",
  schemes: STORAGE_SCHEMES,
  options: {
    "max-object-size": {
      type: "string",
      env: "STORAGE_MAX_OBJECT_SIZE",
      description: "largest object accepted by uploads (bytes, or e.g. 512MiB, 5GiB)",
      default: DEFAULT_MAX_OBJECT_SIZE,
    },
    "idle-timeout": {
      type: "string",
      env: "STORAGE_IDLE_TIMEOUT",
      description: "seconds an upload may send nothing before it is dropped (0 = never); default: the request timeout",
    },
  },
  async open(url, ctx) {
    const size = ctx.options["max-object-size"];
    const idle = ctx.options["idle-timeout"];
    const opts: StorageServiceOptions = {
      maxObjectBytes: parseSize(typeof size === "string" ? size : DEFAULT_MAX_OBJECT_SIZE, "--storage-max-object-size"),
      maxMessageBytes: ctx.limits.maxBodyBytes,
      idleTimeoutMs: typeof idle === "string" ? parseSeconds(idle, "--storage-idle-timeout") : ctx.limits.requestTimeoutMs,
    };
    return storageInstance(await openStorageBackend(url), opts);
  },
};
