/** The secrets service as a sidecar module: `--secrets`, `SECRETS_URL`, `--secrets-cache-ttl`. */
import { SecretsService } from "../../../gen/mikcar/secrets/v1/secrets_pb.js";
import { type ServiceInstance, type ServiceModule, serviceInstance } from "../module.js";
import type { SecretsBackend } from "./backend.js";
import { SECRETS_CALLS } from "./calls.js";
import { SecretCache } from "./cache.js";
import { openSecretsBackend, SECRETS_SCHEMES } from "./registry.js";
import { secretsRoutes } from "./rest.js";
import { createSecretsService } from "./service.js";
import { secretsResources } from "./resources.js";

export interface SecretsInstanceOptions {
  /** Keep reads this long (ms); 0 or undefined turns the cache off. */
  cacheTtlMs?: number;
}

/** A secrets service instance over a backend you opened yourself (library use and tests). */
export function secretsInstance(
  backend: SecretsBackend,
  opts: SecretsInstanceOptions = {},
): ServiceInstance<typeof SecretsService> {
  const cache = opts.cacheTtlMs ? new SecretCache({ ttlMs: opts.cacheTtlMs }) : undefined;
  const impl = createSecretsService(backend, cache);
  return {
    ...serviceInstance(SecretsService, impl, secretsRoutes, backend, () => cache?.clear()),
    resources: secretsResources,
  };
}

export const secretsModule: ServiceModule = {
  name: "secrets",
  summary: "secrets with versions (vault, aws-sm, gcp-sm; env, file, memory for development)",
  defaultUrl: "memory://",
  schemes: SECRETS_SCHEMES,
  options: {
    "cache-ttl": {
      type: "duration",
      env: "SECRETS_CACHE_TTL",
      description: "keep secrets read from the backend this long, 0 = no cache; this sidecar's writes refresh them",
      default: 0,
    },
  },
  async open(url, ctx) {
    const cacheTtlMs = ctx.options["cache-ttl"] as number;
    return secretsInstance(ctx.guard(await openSecretsBackend(url), SECRETS_CALLS), { cacheTtlMs });
  },
};
