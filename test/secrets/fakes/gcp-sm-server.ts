/**
 * A loopback stand-in for GCP Secret Manager's REST API (v1), limited to what the gcp-sm backend calls:
 * secrets create/get/delete/list, `:addVersion`, `versions/{n|latest}` and `:access`. Errors use Google's
 * `{"error":{"code","message","status"}}` shape; the Bearer token is checked (401 UNAUTHENTICATED otherwise).
 */
import { startFake, type FakeServer } from "./http-fake.js";

interface Stored {
  created: string;
  labels: Record<string, string>;
  versions: Array<{ data: string; created: string }>;
}

const gerr = (code: number, status: string, message: string) => ({
  status: code,
  json: { error: { code, message, status } },
});

export async function startGcpSmFake(project: string, token: string): Promise<FakeServer> {
  const secrets = new Map<string, Stored>();
  const base = `/v1/projects/${project}/secrets`;
  // Real responses name the project by number.
  const full = (id: string) => `projects/123456789/secrets/${id}`;
  const secretJson = (id: string, s: Stored) => ({
    name: full(id),
    replication: { automatic: {} },
    createTime: s.created,
    labels: s.labels,
    etag: '"1"',
  });
  return startFake((req, body) => {
    if (req.headers.authorization !== `Bearer ${token}`) {
      return gerr(
        401,
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials. Expected OAuth 2 access token.",
      );
    }
    const url = new URL(req.url ?? "/", "http://x");
    if (!url.pathname.startsWith(base)) return gerr(404, "NOT_FOUND", "Requested entity was not found.");
    const rest = decodeURIComponent(url.pathname.slice(base.length));
    const input = JSON.parse(body || "{}") as Record<string, any>;
    const method = req.method;
    if (rest === "" && method === "POST") {
      const id = url.searchParams.get("secretId") ?? "";
      if (secrets.has(id)) return gerr(409, "ALREADY_EXISTS", `Secret [${full(id)}] already exists.`);
      const s = { created: new Date().toISOString(), labels: input.labels ?? {}, versions: [] };
      secrets.set(id, s);
      return { status: 200, json: secretJson(id, s) };
    }
    if (rest === "" && method === "GET") {
      const filter = /^name:(.*)$/.exec(url.searchParams.get("filter") ?? "")?.[1] ?? "";
      const ids = [...secrets.keys()].filter((k) => k.includes(filter)).sort();
      const start = Number(url.searchParams.get("pageToken") || 0);
      const size = Number(url.searchParams.get("pageSize") || 25000);
      const page = ids.slice(start, start + size).map((k) => secretJson(k, secrets.get(k)!));
      return {
        status: 200,
        json: {
          secrets: page,
          ...(start + size < ids.length ? { nextPageToken: String(start + size) } : {}),
          totalSize: ids.length,
        },
      };
    }
    const m = /^\/([^/:]+)(?::addVersion|\/versions\/([^/:]+)(:access)?)?$/.exec(rest);
    if (!m) return gerr(404, "NOT_FOUND", "Requested entity was not found.");
    const [, id, ver, access] = m;
    const s = secrets.get(id!);
    if (!s) return gerr(404, "NOT_FOUND", `Secret [${full(id!)}] not found or has no versions.`);
    if (rest.endsWith(":addVersion") && method === "POST") {
      s.versions.push({ data: input.payload?.data ?? "", created: new Date().toISOString() });
      const n = s.versions.length;
      return {
        status: 200,
        json: { name: `${full(id!)}/versions/${n}`, createTime: s.versions[n - 1]!.created, state: "ENABLED" },
      };
    }
    if (ver !== undefined && method === "GET") {
      const n = ver === "latest" ? s.versions.length : Number(ver);
      const v = s.versions[n - 1];
      if (!v) return gerr(404, "NOT_FOUND", `Secret Version [${full(id!)}/versions/${ver}] not found.`);
      const name = `${full(id!)}/versions/${n}`;
      if (access) return { status: 200, json: { name, payload: { data: v.data, dataCrc32c: "0" } } };
      return { status: 200, json: { name, createTime: v.created, state: "ENABLED" } };
    }
    if (method === "GET") return { status: 200, json: secretJson(id!, s) };
    if (method === "DELETE") {
      secrets.delete(id!);
      return { status: 200, json: {} };
    }
    return gerr(400, "INVALID_ARGUMENT", "unsupported request");
  });
}
