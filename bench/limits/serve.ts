/**
 * The shared shape of the limit servers: a bare `node:http` server that answers the sidecar's REST paths used by
 * a suite with nothing but the backend call (the same client, the same durability) and a JSON reply of the same
 * shape. No routing library, no validation, no logging: what the sidecar does beyond this is its overhead.
 * Each module in this folder exports `open(backendUrl)`; run as a script it serves on an ephemeral port and
 * prints `listening <port>`. bench/direct.ts uses the same `direct` operations without HTTP (column a).
 */
import * as http from "node:http";
import { pathToFileURL } from "node:url";

export interface LimitRequest {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  /** The path after the route's prefix, percent-decoded. */
  rest: string;
  query: URLSearchParams;
  /** The whole body, for routes that are not streamed. */
  body: Buffer;
}

export interface Reply {
  status?: number;
  json?: unknown;
  /** A body sent as it is (wins over `json`). */
  body?: string | Buffer;
  headers?: Record<string, string | number>;
  /** Runs once the response is written (e.g. an auto-ack). */
  after?: () => unknown;
}

export interface LimitRoute {
  method: string;
  prefix: string;
  /** "stream": the handler reads the request itself and writes the response itself (returns undefined). */
  body?: "buffer" | "stream";
  handle(r: LimitRequest): Promise<Reply | undefined> | Reply | undefined;
}

export interface Limit {
  routes: LimitRoute[];
  /** The per-request backend work on its own, by name, for key number `i`. */
  direct: Record<string, (i: number) => Promise<unknown>>;
  close(): Promise<void>;
}

export type OpenLimit = (backend: string) => Promise<Limit>;

function readAll(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function send(res: http.ServerResponse, r: Reply) {
  const body = r.body ?? (r.json === undefined ? "" : JSON.stringify(r.json));
  const type = r.body === undefined && r.json !== undefined ? "application/json" : "text/plain; charset=utf-8";
  res.writeHead(r.status ?? 200, { "content-type": type, "content-length": Buffer.byteLength(body), ...r.headers });
  if (r.after) res.once("finish", r.after);
  res.end(body);
}

/** The request handler for a set of routes (first match by method and path prefix). */
export function handler(routes: LimitRoute[]): http.RequestListener {
  return (req, res) => {
    // A client that goes away mid-request (wrk stopping) errors the request stream; whoever reads it sees that.
    req.on("error", () => {});
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q < 0 ? url : url.slice(0, q);
    const route = routes.find((r) => r.method === req.method && path.startsWith(r.prefix));
    if (!route) {
      req.resume();
      return send(res, { status: 404, json: { error: "no such route" } });
    }
    const run = async () => {
      const body = route.body === "stream" ? Buffer.alloc(0) : await readAll(req);
      const reply = await route.handle({
        req,
        res,
        rest: decodeURIComponent(path.slice(route.prefix.length)),
        query: new URLSearchParams(q < 0 ? "" : url.slice(q + 1)),
        body,
      });
      if (reply) send(res, reply);
    };
    run().catch((err) => {
      if (res.headersSent) res.destroy();
      else send(res, { status: 500, json: { error: String((err as Error).message ?? err) } });
    });
  };
}

/** Runs `open` on argv[2] (the backend URL), serves its routes on 127.0.0.1:0 and stops on SIGTERM. */
export async function serve(open: OpenLimit): Promise<void> {
  const limit = await open(process.argv[2] ?? "memory://");
  const server = http.createServer(handler(limit.routes));
  server.keepAliveTimeout = 60_000;
  server.requestTimeout = 0;
  server.on("connection", (s) => s.setNoDelay(true));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  console.log(`listening ${(server.address() as { port: number }).port}`);
  process.once("SIGTERM", () => {
    server.close();
    server.closeAllConnections();
    void limit.close().finally(() => process.exit(0));
  });
}

/** True when the module at `metaUrl` is the script node was started with. */
export function isMain(metaUrl: string): boolean {
  return process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === metaUrl;
}
