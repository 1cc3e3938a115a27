/**
 * The secrets limit: GET /secrets/secret/<name> answered from a Map (memory://) or with node-vault's two reads
 * of a KV v2 secret (data and metadata, in parallel, as the sidecar needs both for its reply) for vault://.
 * POST seeds a secret.
 */
import { isMain, serve, type Limit, type LimitRoute } from "./serve.js";

interface Secret {
  value: string;
  version: string;
  created_at: string;
  updated_at: string;
  labels: Record<string, string>;
}

interface Store {
  get(name: string): Promise<Secret | undefined>;
  create(name: string, value: string): Promise<void>;
}

async function store(url: string): Promise<Store> {
  const u = new URL(url);
  if (u.protocol === "memory:") {
    const map = new Map<string, Secret>();
    return {
      get: async (n) => map.get(n),
      create: async (n, value) => {
        const now = new Date().toISOString();
        map.set(n, { value, version: "1", created_at: now, updated_at: now, labels: {} });
      },
    };
  }
  if (u.protocol === "vault:") {
    const client = (await import("node-vault")).default({
      endpoint: `http://${u.hostname}:${u.port}`,
      token: u.searchParams.get("token") ?? "",
    });
    return {
      async get(n) {
        const [data, meta] = await Promise.all([client.read(`secret/data/${n}`), client.read(`secret/metadata/${n}`)]);
        const d = data.data;
        return {
          value: d.data.value,
          version: String(d.metadata.version),
          created_at: meta.data.created_time,
          updated_at: d.metadata.created_time,
          labels: meta.data.custom_metadata ?? {},
        };
      },
      create: async (n, value) => void (await client.write(`secret/data/${n}`, { data: { value } })),
    };
  }
  throw new Error(`limits/secrets: unsupported backend ${url}`);
}

export async function open(url: string): Promise<Limit> {
  const s = await store(url);
  const routes: LimitRoute[] = [
    {
      method: "GET",
      prefix: "/secrets/secret/",
      async handle({ rest }) {
        const got = await s.get(rest);
        return got ? { json: got } : { status: 404, json: { error: `secret not found: ${rest}` } };
      },
    },
    {
      method: "POST",
      prefix: "/secrets/secret/",
      async handle({ rest, body }) {
        await s.create(rest, (JSON.parse(body.toString()) as { value: string }).value);
        return { status: 201, json: { status: "created", name: rest, version: "1" } };
      },
    },
  ];
  return { routes, direct: { get: () => s.get("bench/key") }, close: async () => {} };
}

if (isMain(import.meta.url)) await serve(open);
