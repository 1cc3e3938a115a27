/**
 * A loopback stand-in for HashiCorp Vault's HTTP API, limited to what the vault backend calls: KV v2 (data,
 * metadata, check-and-set, custom_metadata, versions, LIST) and KV v1 on other mounts, sys/health, and token
 * checks. Status codes and JSON shapes follow Vault's documentation: 404 `{"errors":[]}` for a missing path,
 * 403 `{"errors":["permission denied"]}` for a bad token, 400 for a check-and-set mismatch, 204 for writes
 * without a body, LIST as the `LIST` method or `GET ?list=true`.
 */
import type * as http from "node:http";
import { startFake, type FakeServer } from "./http-fake.js";

interface V2Secret {
  created: string;
  updated: string;
  custom: Record<string, string> | null;
  versions: Array<{ data: Record<string, unknown>; created: string; deleted: string }>;
}

export interface VaultFake extends FakeServer {
  kv2: Map<string, Map<string, V2Secret>>;
  kv1: Map<string, Map<string, Record<string, unknown>>>;
}

const envelope = (data: unknown) => ({
  request_id: crypto.randomUUID(),
  lease_id: "",
  renewable: false,
  lease_duration: 0,
  data,
  wrap_info: null,
  warnings: null,
  auth: null,
});
const missing = { status: 404, json: { errors: [] } };

export async function startVaultFake(opts: {
  token: string;
  kv2Mounts?: string[];
  kv1Mounts?: string[];
  server?: () => http.Server;
  scheme?: string;
}): Promise<VaultFake> {
  const kv2 = new Map((opts.kv2Mounts ?? ["secret"]).map((m) => [m, new Map<string, V2Secret>()]));
  const kv1 = new Map((opts.kv1Mounts ?? ["kv"]).map((m) => [m, new Map<string, Record<string, unknown>>()]));
  const now = () => new Date().toISOString();

  const listKeys = (names: Iterable<string>, folder: string) => {
    const keys = new Set<string>();
    for (const n of names) {
      if (!n.startsWith(folder)) continue;
      const rest = n.slice(folder.length);
      const i = rest.indexOf("/");
      keys.add(i < 0 ? rest : rest.slice(0, i + 1));
    }
    return keys.size ? { status: 200, json: envelope({ keys: [...keys].sort() }) } : missing;
  };

  const metadataOf = (s: V2Secret) => ({
    cas_required: false,
    created_time: s.created,
    current_version: s.versions.length,
    custom_metadata: s.custom,
    delete_version_after: "0s",
    max_versions: 0,
    oldest_version: 1,
    updated_time: s.updated,
    versions: Object.fromEntries(
      s.versions.map((v, i) => [
        String(i + 1),
        { created_time: v.created, deletion_time: v.deleted, destroyed: false },
      ]),
    ),
  });

  const fake = await startFake(
    (req, body) => {
      const url = new URL(req.url ?? "/", "http://x");
      const path = decodeURIComponent(url.pathname);
      let method = req.method ?? "GET";
      // Vault parses `list` with Go's ParseBool. (Node's HTTP parser rejects the LIST verb itself, so this fake
      // cannot receive it; the backend lists with GET ?list=1, as node-vault's noCustomHTTPVerbs does.)
      if (method === "GET" && /^(1|t|true|T|TRUE|True)$/.test(url.searchParams.get("list") ?? "")) method = "LIST";
      if (path === "/v1/sys/health")
        return {
          status: 200,
          json: { initialized: true, sealed: false, standby: false, version: "1.15.0", cluster_name: "fake" },
        };
      if (req.headers["x-vault-token"] !== opts.token) return { status: 403, json: { errors: ["permission denied"] } };
      const input = body ? (JSON.parse(body) as Record<string, any>) : {};
      const rel = path.replace(/^\/v1\//, "");
      // The longest mount that prefixes the path, as Vault's router picks it.
      const mount =
        [...kv2.keys(), ...kv1.keys()]
          .filter((m) => rel === m || rel.startsWith(m + "/"))
          .sort((a, b) => b.length - a.length)[0] ?? "";
      const parts = [mount, ...rel.slice(mount.length + 1).split("/")];

      const v2 = kv2.get(mount);
      if (v2) {
        const kind = parts[1];
        const name = parts.slice(2).join("/");
        const s = v2.get(name);
        if (kind === "data") {
          if (method === "GET") {
            if (!s) return missing;
            const n = Number(url.searchParams.get("version") ?? s.versions.length);
            const v = s.versions[n - 1];
            if (!v) return missing;
            const meta = {
              created_time: v.created,
              custom_metadata: s.custom,
              deletion_time: v.deleted,
              destroyed: false,
              version: n,
            };
            if (v.deleted) return { status: 404, json: envelope({ data: null, metadata: meta }) };
            return { status: 200, json: envelope({ data: v.data, metadata: meta }) };
          }
          if (method === "POST" || method === "PUT") {
            if (!input.data) return { status: 400, json: { errors: ["no data provided"] } };
            const cas = input.options?.cas;
            if (cas !== undefined && cas !== (s?.versions.length ?? 0)) {
              return { status: 400, json: { errors: ["check-and-set parameter did not match the current version"] } };
            }
            const t = now();
            const target = s ?? { created: t, updated: t, custom: null, versions: [] };
            target.versions.push({ data: input.data, created: t, deleted: "" });
            target.updated = t;
            v2.set(name, target);
            return {
              status: 200,
              json: envelope({
                created_time: t,
                custom_metadata: target.custom,
                deletion_time: "",
                destroyed: false,
                version: target.versions.length,
              }),
            };
          }
          if (method === "DELETE") {
            const last = s?.versions.at(-1);
            if (last) last.deleted = now();
            return { status: 204 };
          }
        }
        if (kind === "metadata") {
          if (method === "LIST") return listKeys(v2.keys(), name);
          if (method === "GET") return s ? { status: 200, json: envelope(metadataOf(s)) } : missing;
          if (method === "POST" || method === "PUT") {
            const t = now();
            const target = s ?? { created: t, updated: t, custom: null, versions: [] };
            if (input.custom_metadata) target.custom = input.custom_metadata;
            target.updated = t;
            v2.set(name, target);
            return { status: 204 };
          }
          if (method === "DELETE") {
            v2.delete(name);
            return { status: 204 };
          }
        }
      }

      const v1 = kv1.get(mount);
      if (v1) {
        const name = parts.slice(1).join("/");
        if (method === "LIST") return listKeys(v1.keys(), name);
        if (method === "GET") {
          const d = v1.get(name);
          return d ? { status: 200, json: { ...envelope(d), lease_duration: 2764800 } } : missing;
        }
        if (method === "POST" || method === "PUT") {
          v1.set(name, input);
          return { status: 204 };
        }
        if (method === "DELETE") {
          v1.delete(name);
          return { status: 204 };
        }
      }
      return { status: 404, json: { errors: [`no handler for route "${path.slice(4)}". route entry not found.`] } };
    },
    { server: opts.server, scheme: opts.scheme },
  );
  return Object.assign(fake, { kv2, kv1 });
}
