/** Secrets backends by URL scheme, imported lazily so `memory://` never loads node-vault or the AWS SDK. */
import { filePath, schemeOf, unsupportedScheme } from "../../shared/url.js";
import type { SecretsBackend } from "./backend.js";

export const SECRETS_SCHEMES = ["memory", "env", "file", "vault", "aws-sm", "awssm", "gcp-sm", "gcpsm"] as const;

/** Opens the backend a URL names. `awssm://` and `gcpsm://` are mikcar's README spellings. */
export async function openSecretsBackend(url: string): Promise<SecretsBackend> {
  switch (schemeOf(url)) {
    case "memory":
      return new (await import("./backends/memory.js")).MemorySecrets();
    case "env":
      return new (await import("./backends/env.js")).EnvSecrets(
        decodeURIComponent(url.slice("env://".length).split("?")[0]!),
      );
    case "file":
      return (await import("./backends/file.js")).FileSecrets.open(filePath(url));
    case "vault":
      return (await import("./backends/vault.js")).VaultSecrets.open(url);
    case "aws-sm":
    case "awssm":
      return (await import("./backends/aws-sm.js")).AwsSecrets.open(url);
    case "gcp-sm":
    case "gcpsm":
      return (await import("./backends/gcp-sm.js")).GcpSecrets.open(url);
    default:
      throw unsupportedScheme("secrets", url, SECRETS_SCHEMES);
  }
}
