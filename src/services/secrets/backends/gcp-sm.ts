/**
 * GCP Secret Manager over its REST API with `fetch` (no Google SDK is installed here).
 *
 * `gcp-sm://project?endpoint=https://secretmanager.googleapis.com` (mikcar's `gcpsm://` too). The access token
 * comes from GOOGLE_OAUTH_ACCESS_TOKEN, else from the GCE/GKE/Cloud Run metadata server (GCE_METADATA_HOST
 * overrides its address), refreshed before it expires. Secret ids allow only [A-Za-z0-9_-], so names with `/`
 * are refused. Versions are GCP's version numbers; labels are the secret's labels, set at creation.
 */
import { sidecarError, SidecarError } from "../../../shared/errors.js";
import {
  isoTime,
  secretExists,
  secretNotFound,
  type SecretMeta,
  type SecretRecord,
  type SecretsBackend,
} from "../backend.js";

export interface GcpConfig {
  project: string;
  endpoint: string;
  /** A fixed token (tests, or a token minted outside); otherwise the metadata server is asked. */
  token?: string;
  metadataHost: string;
  timeoutMs: number;
}

export function gcpConfig(url: string, env: Record<string, string | undefined> = process.env): GcpConfig {
  const u = new URL(url);
  if (!u.hostname) throw new Error("gcp-sm URL needs a project: gcp-sm://my-project");
  return {
    project: decodeURIComponent(u.hostname),
    endpoint: (u.searchParams.get("endpoint") ?? "https://secretmanager.googleapis.com").replace(/\/+$/, ""),
    token: env.GOOGLE_OAUTH_ACCESS_TOKEN || undefined,
    metadataHost: env.GCE_METADATA_HOST ?? "metadata.google.internal",
    timeoutMs: 10_000,
  };
}

interface GcpError {
  error?: { code?: number; message?: string; status?: string };
}

class HttpStatus extends Error {
  constructor(
    readonly status: number,
    readonly body: GcpError,
  ) {
    super(`status ${status}`);
  }
}

function mapError(err: unknown, name: string): SidecarError {
  if (err instanceof SidecarError) return err;
  if (!(err instanceof HttpStatus)) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
    return sidecarError("UNAVAILABLE", `GCP Secret Manager is unreachable (${cause})`);
  }
  const msg = (err.body.error?.message ?? `status ${err.status}`).slice(0, 300);
  if (err.status === 404) return secretNotFound(name);
  if (err.status === 409) return secretExists(name);
  if (err.status === 401) return sidecarError("BAD_GATEWAY", "GCP rejected the sidecar's access token");
  if (err.status === 403)
    return sidecarError("FORBIDDEN", `GCP denied access to secret ${JSON.stringify(name)}: ${msg}`);
  if (err.status === 429 || err.status >= 500)
    return sidecarError("UNAVAILABLE", `GCP Secret Manager is unavailable: ${msg}`);
  return sidecarError("BAD_REQUEST", `GCP refused the request for secret ${JSON.stringify(name)}: ${msg}`);
}

export class GcpSecrets implements SecretsBackend {
  readonly name = "gcp-sm";
  readonly features = { writable: true, versions: true, labels: true };
  private cached?: { token: string; expiresAt: number };

  constructor(private readonly cfg: GcpConfig) {}

  static async open(url: string): Promise<GcpSecrets> {
    return new GcpSecrets(gcpConfig(url));
  }

  checkName(name: string) {
    if (!/^[A-Za-z0-9_-]{1,255}$/.test(name)) {
      throw sidecarError(
        "BAD_REQUEST",
        `name ${JSON.stringify(name)} is not a valid GCP secret id: use 1-255 of [A-Za-z0-9_-] (no "/")`,
      );
    }
  }

  private async token(): Promise<string> {
    if (this.cfg.token) return this.cfg.token;
    if (this.cached && this.cached.expiresAt > Date.now()) return this.cached.token;
    let res: Response;
    try {
      res = await fetch(`http://${this.cfg.metadataHost}/computeMetadata/v1/instance/service-accounts/default/token`, {
        headers: { "metadata-flavor": "Google" },
        signal: AbortSignal.timeout(3_000),
      });
    } catch {
      throw sidecarError(
        "UNAVAILABLE",
        "no GCP access token: set GOOGLE_OAUTH_ACCESS_TOKEN or run where the metadata server answers",
      );
    }
    if (!res.ok) throw sidecarError("UNAVAILABLE", `the GCP metadata server refused a token (status ${res.status})`);
    const body = (await res.json()) as { access_token: string; expires_in: number };
    this.cached = { token: body.access_token, expiresAt: Date.now() + Math.max(0, body.expires_in - 60) * 1000 };
    return body.access_token;
  }

  /** One REST call; resolves undefined on 404 when `missingOk`. */
  private async rest<T>(
    name: string,
    method: string,
    path: string,
    body?: unknown,
    missingOk = false,
  ): Promise<T | undefined> {
    try {
      const res = await fetch(
        `${this.cfg.endpoint}/v1/projects/${encodeURIComponent(this.cfg.project)}/secrets${path}`,
        {
          method,
          headers: {
            authorization: `Bearer ${await this.token()}`,
            ...(body ? { "content-type": "application/json" } : {}),
          },
          body: body ? JSON.stringify(body) : undefined,
          signal: AbortSignal.timeout(this.cfg.timeoutMs),
        },
      );
      const text = await res.text();
      const json = text ? (JSON.parse(text) as unknown) : {};
      if (res.status === 404 && missingOk) return undefined;
      if (!res.ok) throw new HttpStatus(res.status, json as GcpError);
      return json as T;
    } catch (err) {
      throw mapError(err, name);
    }
  }

  async get(name: string, version: string): Promise<SecretRecord | undefined> {
    if (version !== "" && !/^[1-9]\d{0,9}$/.test(version)) return undefined;
    const v = version || "latest";
    const id = `/${encodeURIComponent(name)}`;
    type Access = { name: string; payload?: { data?: string } };
    type Version = { createTime?: string; state?: string };
    type Secret = { createTime?: string; labels?: Record<string, string> };
    const [acc, ver, sec] = await Promise.all([
      this.rest<Access>(name, "GET", `${id}/versions/${v}:access`, undefined, true),
      this.rest<Version>(name, "GET", `${id}/versions/${v}`, undefined, true),
      this.rest<Secret>(name, "GET", id, undefined, true),
    ]);
    if (!acc || !sec) return undefined;
    return {
      value: Buffer.from(acc.payload?.data ?? "", "base64").toString("utf8"),
      version: acc.name.split("/").at(-1) ?? "",
      createdAt: isoTime(sec.createTime),
      updatedAt: isoTime(ver?.createTime),
      labels: { ...(sec.labels ?? {}) },
    };
  }

  private async addVersion(name: string, value: string) {
    const res = await this.rest<{ name: string }>(name, "POST", `/${encodeURIComponent(name)}:addVersion`, {
      payload: { data: Buffer.from(value, "utf8").toString("base64") },
    });
    return res?.name.split("/").at(-1) ?? "";
  }

  async create(name: string, value: string, labels: Record<string, string>) {
    await this.rest(name, "POST", `?secretId=${encodeURIComponent(name)}`, { replication: { automatic: {} }, labels });
    try {
      return await this.addVersion(name, value);
    } catch (err) {
      // Leave no value-less secret behind: it would block the name and read as not found.
      await this.rest(name, "DELETE", `/${encodeURIComponent(name)}`, undefined, true).catch(() => {});
      throw err;
    }
  }

  async update(name: string, value: string) {
    return this.addVersion(name, value);
  }

  async delete(name: string) {
    return (await this.rest(name, "DELETE", `/${encodeURIComponent(name)}`, undefined, true)) !== undefined;
  }

  async exists(name: string) {
    return (await this.rest(name, "GET", `/${encodeURIComponent(name)}`, undefined, true)) !== undefined;
  }

  async list(prefix: string): Promise<SecretMeta[]> {
    const out: SecretMeta[] = [];
    let token = "";
    do {
      const q = new URLSearchParams({ pageSize: "250" });
      if (token) q.set("pageToken", token);
      if (prefix) q.set("filter", `name:${prefix}`);
      type Page = { secrets?: Array<{ name: string; createTime?: string }>; nextPageToken?: string };
      const page = (await this.rest<Page>(prefix, "GET", `?${q}`))!;
      for (const s of page.secrets ?? []) {
        const name = s.name.split("/").at(-1)!;
        // GCP's name filter is a substring match; keep true prefixes. Versions would cost a call per secret.
        if (name.startsWith(prefix)) out.push({ name, version: "", createdAt: isoTime(s.createTime), updatedAt: "" });
      }
      token = page.nextPageToken ?? "";
    } while (token);
    return out;
  }

  async ping() {
    await this.rest("", "GET", "?pageSize=1");
  }

  async close() {}
}
