/** The secrets service as a sidecar module: `--secrets`, `SECRETS_URL`, `--secrets-cache-ttl`. */
import { SecretsService } from "../../../gen/mikcar/secrets/v1/secrets_pb.js";
import { secretsRoutes } from "./rest.js";
import { serviceInstance, type ServiceInstance, type ServiceModule } from "../module.js";
import type { SecretsBackend } from "./backend.js";
import { SecretCache } from "./cache.js";
import { openSecretsBackend, SECRETS_SCHEMES } from "./registry.js";
import { createSecretsService } from "./service.js";

export interface SecretsInstanceOptions {
  /** Keep reads this long (ms); 0 or undefined turns the cache off. */
  cacheTtlMs?: number;
}

export function secretsInstance(backend: SecretsBackend, opts: SecretsInstanceOptions = {}): ServiceInstance {
  const cache = opts.cacheTtlMs ? new SecretCache({ ttlMs: opts.cacheTtlMs }) : undefined;
  const impl = createSecretsService(backend, cache);
  return serviceInstance(SecretsService, impl, secretsRoutes(impl), backend, () => cache?.clear());
}

export const secretsModule: ServiceModule = {
  name: "secrets",
  summary: "secrets with versions (vault, aws-sm, gcp-sm; env, file, memory for development)",
  defaultUrl: "memory://",
  schemes: SECRETS_SCHEMES,
  options: {
    "cache-ttl": {
      type: "string",
      env: "SECRETS_CACHE_TTL",
      description: "keep secrets read from the backend this long (e.g. 30s); this sidecar's writes refresh them",
      default: "0",
    },
  },
  async open(url, ctx) {
    // Imported here, not at the top: config.ts lists the service modules, so a static import would be a cycle.
    const { parseDuration } = await import("../../options.js");
    const ttl = ctx.options["cache-ttl"];
    const cacheTtlMs = typeof ttl === "string" ? parseDuration(ttl, "--secrets-cache-ttl") : 0;
    return secretsInstance(await openSecretsBackend(url), { cacheTtlMs });
  },
};
