/**
 * A loopback HTTP server for the fakes of cloud secret stores: restartable on the same port, so tests can take
 * the "backend" down and bring it back to check 503 and recovery.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";

export type FakeHandler = (
  req: http.IncomingMessage,
  body: string,
) => { status: number; json?: unknown; headers?: Record<string, string> };

export interface FakeServer {
  url: string;
  port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Every request seen: method, path, headers (tests check tokens and namespaces were sent). */
  seen: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders; body: string }>;
}

export async function startFake(
  handle: FakeHandler,
  opts: { server?: () => http.Server; scheme?: string } = {},
): Promise<FakeServer> {
  let server: http.Server;
  const seen: FakeServer["seen"] = [];
  let port = 0;
  const listen = async () => {
    server = opts.server ? opts.server() : http.createServer();
    server.on("request", (req, res) => {
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (c: string) => (body += c));
      req.on("end", () => {
        seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
        let out: ReturnType<FakeHandler>;
        try {
          out = handle(req, body);
        } catch (err) {
          out = { status: 500, json: { errors: [(err as Error).message] } };
        }
        const text = out.json === undefined ? "" : JSON.stringify(out.json);
        res.writeHead(out.status, { ...(text ? { "content-type": "application/json" } : {}), ...out.headers });
        res.end(text);
      });
    });
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  };
  await listen();
  const fake: FakeServer = {
    url: `${opts.scheme ?? "http"}://127.0.0.1:${port}`,
    port,
    seen,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    start: listen,
  };
  return fake;
}
