/**
 * HashiCorp Vault, KV secrets engine v2 (default) or v1, through `node-vault`.
 *
 * `vault://host:port?mount=secret&kv=2&tls=true&namespace=ns` with the token from `VAULT_TOKEN` (or `?token=`,
 * as mikcar allows). A secret is stored as `{"value": "..."}`; labels are KV v2 `custom_metadata`.
 * KV v2: create uses check-and-set 0 and update check-and-set on the current version, so both are atomic;
 * delete removes the metadata (every version). KV v1 has no versions, labels or check-and-set: create and update
 * read first, so two sidecars racing on the same name can both succeed.
 */
import { readFileSync } from "node:fs";
import type NodeVault from "node-vault";
import { sidecarError, SidecarError } from "../../../shared/errors.js";
import {
  isoTime,
  secretExists,
  secretNotFound,
  valueOfData,
  type SecretMeta,
  type SecretRecord,
  type SecretsBackend,
} from "../backend.js";

export interface VaultConfig {
  endpoint: string;
  token?: string;
  namespace?: string;
  mount: string;
  kv: 1 | 2;
  ca?: string;
  rejectUnauthorized: boolean;
  timeoutMs: number;
}

/** Parses a `vault://` URL; the token and namespace fall back to VAULT_TOKEN / VAULT_NAMESPACE. */
export function vaultConfig(url: string, env: Record<string, string | undefined> = process.env): VaultConfig {
  const u = new URL(url);
  const q = u.searchParams;
  const kv = q.get("kv") ?? "2";
  if (kv !== "1" && kv !== "2") throw new Error(`vault URL: kv must be 1 or 2, got ${JSON.stringify(kv)}`);
  const tls = /^(1|true|yes)$/i.test(q.get("tls") ?? "");
  const mount = (q.get("mount") ?? "secret").replace(/^\/+|\/+$/g, "");
  if (mount === "") throw new Error("vault URL: mount must not be empty");
  const caFile = q.get("ca_file");
  return {
    endpoint: `${tls ? "https" : "http"}://${u.hostname || "127.0.0.1"}:${u.port || "8200"}`,
    token: q.get("token") ?? env.VAULT_TOKEN,
    namespace: q.get("namespace") ?? env.VAULT_NAMESPACE,
    mount,
    kv: Number(kv) as 1 | 2,
    ca: caFile ? readFileSync(caFile, "utf8") : undefined,
    rejectUnauthorized: !/^(0|false|no)$/i.test(q.get("tls_reject_unauthorized") ?? ""),
    timeoutMs: 10_000,
  };
}

type ApiError = Error & { response?: { statusCode: number; body?: { errors?: unknown[] } }; code?: string };

/** node-vault and axios errors → catalogue errors. The original is dropped: axios keeps the request body. */
function mapError(err: unknown, name: string): SidecarError {
  if (err instanceof SidecarError) return err;
  const e = err as ApiError;
  const status = e.response?.statusCode;
  if (status === undefined) {
    return sidecarError("UNAVAILABLE", `vault is unreachable (${typeof e.code === "string" ? e.code : "no response"})`);
  }
  const first = e.response?.body?.errors?.[0];
  const reason = typeof first === "string" && first.length < 300 ? first : `status ${status}`;
  if (status === 403)
    return sidecarError("FORBIDDEN", `vault denied access to secret ${JSON.stringify(name)}: ${reason}`);
  if (status === 429 || status >= 500) return sidecarError("UNAVAILABLE", `vault is unavailable: ${reason}`);
  return sidecarError("BAD_REQUEST", `vault refused the request for secret ${JSON.stringify(name)}: ${reason}`);
}

const statusOf = (err: unknown) => (err as ApiError).response?.statusCode;
const LIST_CONCURRENCY = 8;

export class VaultSecrets implements SecretsBackend {
  readonly name = "vault";
  readonly features;
  private readonly mount: string;

  private constructor(
    private readonly client: NodeVault.client,
    private readonly cfg: VaultConfig,
  ) {
    this.mount = cfg.mount.split("/").map(encodeURIComponent).join("/");
    this.features = { writable: true, versions: cfg.kv === 2, labels: cfg.kv === 2 };
  }

  static async open(url: string): Promise<VaultSecrets> {
    const cfg = vaultConfig(url);
    const vault = (await import("node-vault")).default;
    const client = vault({
      endpoint: cfg.endpoint,
      token: cfg.token,
      namespace: cfg.namespace,
      // node-vault's own debug output would print written data, i.e. secret values.
      debug: () => {},
      // GET ?list=1 instead of the LIST verb, which some proxies (and Node's own HTTP parser) refuse.
      noCustomHTTPVerbs: true,
      requestOptions: {
        timeout: cfg.timeoutMs,
        ...(cfg.ca ? { ca: cfg.ca } : {}),
        ...(cfg.rejectUnauthorized ? {} : { strictSSL: false }),
      },
    });
    return new VaultSecrets(client, cfg);
  }

  private path(kind: "data" | "metadata" | "", name: string) {
    const enc = name.split("/").map(encodeURIComponent).join("/");
    return kind === "" ? `${this.mount}/${enc}` : `${this.mount}/${kind}/${enc}`;
  }

  private async call<T>(name: string, f: () => Promise<T>, missing?: T): Promise<T> {
    try {
      return await f();
    } catch (err) {
      if (missing !== undefined && statusOf(err) === 404) return missing;
      throw mapError(err, name);
    }
  }

  async get(name: string, version: string): Promise<SecretRecord | undefined> {
    if (this.cfg.kv === 1) {
      const res = await this.call(name, () => this.client.read(this.path("", name)), null);
      return res ? { value: valueOfData(res.data), version: "", createdAt: "", updatedAt: "", labels: {} } : undefined;
    }
    if (version !== "" && !/^[1-9]\d{0,9}$/.test(version)) return undefined;
    const q = version ? `?version=${version}` : "";
    // The data read gives the version's time; the secret's own creation time and labels live in its metadata.
    const [res, info] = await Promise.all([
      this.call(name, () => this.client.read(this.path("data", name) + q), null),
      this.metadata(name),
    ]);
    // A soft-deleted or destroyed version reads as 404 with metadata but no data.
    if (!res?.data?.data) return undefined;
    const meta = res.data.metadata ?? {};
    return {
      value: valueOfData(res.data.data),
      version: String(meta.version ?? ""),
      createdAt: isoTime(info?.created_time ?? meta.created_time),
      updatedAt: isoTime(meta.created_time),
      labels: { ...(info?.custom_metadata ?? meta.custom_metadata ?? {}) },
    };
  }

  // biome-ignore lint/suspicious/noExplicitAny: Vault's metadata is untyped JSON, read field by field below
  private async metadata(name: string): Promise<Record<string, any> | undefined> {
    const res = await this.call(name, () => this.client.read(this.path("metadata", name)), null);
    return res?.data ?? undefined;
  }

  async create(name: string, value: string, labels: Record<string, string>) {
    if (this.cfg.kv === 1) {
      if (await this.exists(name)) throw secretExists(name);
      await this.call(name, () => this.client.write(this.path("", name), { value }));
      return "";
    }
    try {
      const res = await this.client.write(this.path("data", name), { data: { value }, options: { cas: 0 } });
      if (Object.keys(labels).length > 0) {
        await this.call(name, () => this.client.write(this.path("metadata", name), { custom_metadata: labels }));
      }
      return String(res?.data?.version ?? "1");
    } catch (err) {
      if (statusOf(err) === 400 && /check-and-set/i.test(String((err as ApiError).message))) throw secretExists(name);
      throw mapError(err, name);
    }
  }

  async update(name: string, value: string): Promise<string> {
    if (this.cfg.kv === 1) {
      if (!(await this.exists(name))) throw secretNotFound(name);
      await this.call(name, () => this.client.write(this.path("", name), { value }));
      return "";
    }
    const meta = await this.metadata(name);
    if (!meta) throw secretNotFound(name);
    try {
      const res = await this.client.write(this.path("data", name), {
        data: { value },
        options: { cas: meta.current_version },
      });
      return String(res?.data?.version ?? "");
    } catch (err) {
      // Someone wrote in between: the secret still exists, so our value simply becomes the next version.
      if (statusOf(err) === 400 && /check-and-set/i.test(String((err as ApiError).message)))
        return this.update(name, value);
      throw mapError(err, name);
    }
  }

  async delete(name: string) {
    if (!(await this.exists(name))) return false;
    const path = this.cfg.kv === 1 ? this.path("", name) : this.path("metadata", name);
    await this.call(name, () => this.client.delete(path));
    return true;
  }

  async exists(name: string) {
    if (this.cfg.kv === 1) return (await this.call(name, () => this.client.read(this.path("", name)), null)) !== null;
    const meta = await this.metadata(name);
    // Metadata outlives a soft delete of the current version; such a secret does not read, so it does not exist.
    return meta !== undefined && !meta.versions?.[String(meta.current_version)]?.deletion_time;
  }

  async list(prefix: string): Promise<SecretMeta[]> {
    // Vault lists one folder at a time: start at the prefix's folder and walk down.
    const cut = prefix.lastIndexOf("/");
    const names: string[] = [];
    const walk = async (folder: string): Promise<void> => {
      const base = this.cfg.kv === 1 ? `${this.mount}/` : `${this.mount}/metadata/`;
      const enc = folder
        .split("/")
        .filter(Boolean)
        .map((s) => encodeURIComponent(s) + "/")
        .join("");
      const res = await this.call(prefix, () => this.client.list(base + enc), null);
      const keys: unknown[] = res?.data?.keys ?? [];
      for (const k of keys) {
        if (typeof k !== "string") continue;
        const full = folder + k;
        if (!full.startsWith(prefix) && !prefix.startsWith(full)) continue;
        if (k.endsWith("/")) await walk(full);
        else if (full.startsWith(prefix)) names.push(full);
      }
    };
    await walk(cut < 0 ? "" : prefix.slice(0, cut + 1));
    if (this.cfg.kv === 1) return names.map((name) => ({ name, version: "", createdAt: "", updatedAt: "" }));
    const out: SecretMeta[] = [];
    for (let i = 0; i < names.length; i += LIST_CONCURRENCY) {
      const metas = await Promise.all(names.slice(i, i + LIST_CONCURRENCY).map((n) => this.metadata(n)));
      metas.forEach((m, j) => {
        if (m)
          out.push({
            name: names[i + j]!,
            version: String(m.current_version ?? ""),
            createdAt: isoTime(m.created_time),
            updatedAt: isoTime(m.updated_time),
          });
      });
    }
    return out;
  }

  async ping() {
    let res: { sealed?: boolean } | undefined;
    try {
      res = await this.client.health();
    } catch (err) {
      throw mapError(err, "");
    }
    if (res?.sealed) throw sidecarError("UNAVAILABLE", "vault is sealed");
  }

  async close() {}
}
