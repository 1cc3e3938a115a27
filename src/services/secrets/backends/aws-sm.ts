/**
 * AWS Secrets Manager through `@aws-sdk/client-secrets-manager`.
 *
 * `aws-sm://region?endpoint=http://localhost:4566&access_key_id=&secret_access_key=` (mikcar's README spelling
 * `awssm://` too). Without keys in the URL the SDK's usual credential chain applies (environment, shared files,
 * SSO, instance roles). Versions are AWS version ids; labels are tags, set at creation. Delete is immediate
 * (ForceDeleteWithoutRecovery), so a deleted name is free again — on AWS itself after a short delay.
 */
import type * as Sm from "@aws-sdk/client-secrets-manager";
import { sidecarError, SidecarError } from "../../../shared/errors.js";
import {
  isoTime,
  secretExists,
  secretNotFound,
  type SecretMeta,
  type SecretRecord,
  type SecretsBackend,
} from "../backend.js";

type SmModule = typeof Sm;

export function awsConfig(url: string): Sm.SecretsManagerClientConfig {
  const u = new URL(url);
  const q = u.searchParams;
  const region = u.hostname || q.get("region") || process.env.AWS_REGION || "us-east-1";
  const id = q.get("access_key_id");
  const key = q.get("secret_access_key");
  if ((id === null) !== (key === null))
    throw new Error("aws-sm URL: give both access_key_id and secret_access_key, or neither");
  return {
    region,
    ...(q.get("endpoint") ? { endpoint: q.get("endpoint")! } : {}),
    ...(id && key ? { credentials: { accessKeyId: id, secretAccessKey: key } } : {}),
    // One retry: enough for a blip, short enough that an outage answers 503 quickly.
    maxAttempts: 2,
  };
}

/** SDK errors → catalogue errors, keeping AWS's message (which names the secret, never its value). */
function mapError(err: unknown, name: string): SidecarError {
  if (err instanceof SidecarError) return err;
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  const msg = (e.message ?? "").slice(0, 300);
  switch (e.name) {
    case "ResourceNotFoundException":
      return secretNotFound(name);
    case "ResourceExistsException":
      return secretExists(name);
    case "AccessDeniedException":
      return sidecarError("FORBIDDEN", `AWS denied access to secret ${JSON.stringify(name)}: ${msg}`);
    case "InvalidParameterException":
    case "InvalidRequestException":
    case "ValidationException":
      return sidecarError("BAD_REQUEST", `AWS refused the request for secret ${JSON.stringify(name)}: ${msg}`);
    case "UnrecognizedClientException":
    case "InvalidSignatureException":
    case "ExpiredTokenException":
      return sidecarError("BAD_GATEWAY", `AWS rejected the sidecar's credentials (${e.name})`);
    case "CredentialsProviderError":
      return sidecarError("UNAVAILABLE", "no AWS credentials found for the secrets backend");
  }
  if (status === undefined || status === 429 || status >= 500) {
    return sidecarError("UNAVAILABLE", `AWS Secrets Manager is unavailable (${e.name ?? "no response"})`);
  }
  return sidecarError("BAD_GATEWAY", `AWS Secrets Manager answered ${status} (${e.name ?? "unknown error"})`);
}

export class AwsSecrets implements SecretsBackend {
  readonly name = "aws-sm";
  readonly features = { writable: true, versions: true, labels: true };

  private constructor(
    private readonly sm: SmModule,
    private readonly client: Sm.SecretsManagerClient,
  ) {}

  static async open(url: string): Promise<AwsSecrets> {
    const sm = await import("@aws-sdk/client-secrets-manager");
    return new AwsSecrets(sm, new sm.SecretsManagerClient(awsConfig(url)));
  }

  checkName(name: string) {
    if (!/^[A-Za-z0-9/_+=.@-]{1,512}$/.test(name)) {
      throw sidecarError(
        "BAD_REQUEST",
        `name ${JSON.stringify(name)} is not a valid AWS secret name: use 1-512 of [A-Za-z0-9/_+=.@-]`,
      );
    }
  }

  private async call<T>(name: string, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      throw mapError(err, name);
    }
  }

  private async describe(name: string): Promise<Sm.DescribeSecretResponse | undefined> {
    try {
      const d = await this.client.send(new this.sm.DescribeSecretCommand({ SecretId: name }));
      return d.DeletedDate ? undefined : d;
    } catch (err) {
      if ((err as Error).name === "ResourceNotFoundException") return undefined;
      throw mapError(err, name);
    }
  }

  async get(name: string, version: string): Promise<SecretRecord | undefined> {
    const read = this.client
      .send(new this.sm.GetSecretValueCommand({ SecretId: name, ...(version ? { VersionId: version } : {}) }))
      .catch((err: Error) => {
        if (err.name === "ResourceNotFoundException") return undefined;
        throw mapError(err, name);
      });
    const [v, d] = await Promise.all([read, this.describe(name)]);
    if (!v || !d) return undefined;
    const labels: Record<string, string> = {};
    for (const t of d.Tags ?? []) if (t.Key !== undefined) labels[t.Key] = t.Value ?? "";
    const value = v.SecretString ?? (v.SecretBinary ? Buffer.from(v.SecretBinary).toString("utf8") : "");
    return {
      value,
      version: v.VersionId ?? "",
      createdAt: isoTime(d.CreatedDate),
      updatedAt: isoTime(v.CreatedDate),
      labels,
    };
  }

  async create(name: string, value: string, labels: Record<string, string>) {
    const tags = Object.entries(labels).map(([Key, Value]) => ({ Key, Value }));
    const res = await this.call(name, () =>
      this.client.send(
        new this.sm.CreateSecretCommand({ Name: name, SecretString: value, ...(tags.length ? { Tags: tags } : {}) }),
      ),
    );
    return res.VersionId ?? "";
  }

  async update(name: string, value: string) {
    const res = await this.call(name, () =>
      this.client.send(new this.sm.PutSecretValueCommand({ SecretId: name, SecretString: value })),
    );
    return res.VersionId ?? "";
  }

  async delete(name: string) {
    try {
      await this.client.send(new this.sm.DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }));
      return true;
    } catch (err) {
      if ((err as Error).name === "ResourceNotFoundException") return false;
      throw mapError(err, name);
    }
  }

  async exists(name: string) {
    return (await this.describe(name)) !== undefined;
  }

  async list(prefix: string): Promise<SecretMeta[]> {
    const out: SecretMeta[] = [];
    let token: string | undefined;
    do {
      const page = await this.call(prefix, () =>
        this.client.send(
          new this.sm.ListSecretsCommand({
            MaxResults: 100,
            NextToken: token,
            ...(prefix ? { Filters: [{ Key: "name", Values: [prefix] }] } : {}),
          }),
        ),
      );
      for (const s of page.SecretList ?? []) {
        // AWS's name filter matches prefixes of words too; keep only true prefixes.
        if (!s.Name?.startsWith(prefix) || s.DeletedDate) continue;
        const current =
          Object.entries(s.SecretVersionsToStages ?? {}).find(([, st]) => st.includes("AWSCURRENT"))?.[0] ?? "";
        out.push({
          name: s.Name,
          version: current,
          createdAt: isoTime(s.CreatedDate),
          updatedAt: isoTime(s.LastChangedDate ?? s.CreatedDate),
        });
      }
      token = page.NextToken;
    } while (token);
    return out;
  }

  async ping() {
    await this.call("", () => this.client.send(new this.sm.ListSecretsCommand({ MaxResults: 1 })));
  }

  async close() {
    this.client.destroy();
  }
}
