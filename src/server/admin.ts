/**
 * The admin listener's handler (`--admin-port` / `--admin-socket`): `/metrics` (Prometheus text), `/stats` (a
 * live page) and `/stats.json`, `/health/live` and `/health/ready`. No token: it is meant for operators and
 * scrapers on a private address (127.0.0.1 unless `--admin-host` says otherwise), apart from the API port.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { sidecarError } from "../shared/errors.js";
import { stringifyExact } from "../shared/exact-json.js";
import { describeError, type Logger } from "../shared/log.js";
import type { HealthReport } from "./health.js";
import type { NodeHandler } from "./listener.js";
import type { Metrics } from "./metrics.js";
import { sendError } from "./rest/dispatcher.js";
import { STATS_PAGE } from "./stats-page.js";
import type { StatsWindow } from "./stats.js";

export interface AdminSources {
  metrics: Metrics | undefined;
  stats: StatsWindow | undefined;
  ready(): Promise<HealthReport>;
  log: Logger;
}

function send(res: ServerResponse, status: number, type: string, body: string) {
  res.writeHead(status, {
    "content-type": type,
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
  });
  res.end(body);
}

export function createAdminHandler(src: AdminSources): NodeHandler {
  async function serve(req: IncomingMessage, res: ServerResponse) {
    const path = (req.url ?? "/").split("?", 1)[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      sendError(req, res, sidecarError("METHOD_NOT_ALLOWED", `the admin listener only answers GET and HEAD`), {
        allow: "GET, HEAD",
      });
      return;
    }
    switch (path) {
      case "/health/live":
        return send(res, 200, "application/json", '{"status":"ok"}');
      case "/health/ready": {
        const report = await src.ready();
        return send(res, report.status === "ok" ? 200 : 503, "application/json", stringifyExact(report));
      }
      case "/metrics":
        if (!src.metrics) break;
        return send(res, 200, src.metrics.registry.contentType, await src.metrics.text());
      case "/stats":
        if (!src.stats) break;
        return send(res, 200, "text/html; charset=utf-8", STATS_PAGE);
      case "/stats.json":
        if (!src.stats) break;
        return send(res, 200, "application/json", JSON.stringify(await src.stats.json()));
    }
    const what = path === "/metrics" || path.startsWith("/stats") ? "metrics are off" : `no admin route ${path}`;
    sendError(
      req,
      res,
      sidecarError(
        "NOT_FOUND",
        `${what}; the admin listener serves /metrics, /stats, /stats.json, /health/live, /health/ready`,
      ),
    );
  }
  return (req, res) => {
    serve(req as IncomingMessage, res as ServerResponse).catch((err) => {
      src.log.error("admin.failed", describeError(err));
      sendError(req as IncomingMessage, res as ServerResponse, err);
    });
  };
}
