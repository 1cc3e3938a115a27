/**
 * A loopback OTLP/HTTP trace receiver: accepts `POST /v1/traces` in the OTLP JSON encoding (what
 * @opentelemetry/exporter-trace-otlp-http sends) and keeps the decoded spans, ids as lower-case hex.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  status: { code?: number };
  service: string;
}

export interface OtlpReceiver {
  url: string;
  spans: ReceivedSpan[];
  /** Content types of the requests received, to show what was decoded. */
  contentTypes: string[];
  close(): Promise<void>;
}

interface AnyValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
}

function value(v: AnyValue): unknown {
  return v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : (v.boolValue ?? v.doubleValue));
}

function hexId(id: unknown): string {
  if (typeof id !== "string") return "";
  // OTLP/JSON carries ids as hex; tolerate base64 from older encoders.
  return /^[0-9a-f]*$/i.test(id) ? id.toLowerCase() : Buffer.from(id, "base64").toString("hex");
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const contentTypes: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      contentTypes.push(req.headers["content-type"] ?? "");
      if (req.method !== "POST" || req.url !== "/v1/traces" || !req.headers["content-type"]?.includes("json")) {
        res.writeHead(415).end();
        return;
      }
      const doc = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      for (const rs of doc.resourceSpans ?? []) {
        const attrs = Object.fromEntries(
          (rs.resource?.attributes ?? []).map((a: { key: string; value: AnyValue }) => [a.key, value(a.value)]),
        );
        for (const ss of rs.scopeSpans ?? []) {
          for (const sp of ss.spans ?? []) {
            spans.push({
              traceId: hexId(sp.traceId),
              spanId: hexId(sp.spanId),
              parentSpanId: hexId(sp.parentSpanId),
              name: sp.name,
              kind: sp.kind,
              attributes: Object.fromEntries(
                (sp.attributes ?? []).map((a: { key: string; value: AnyValue }) => [a.key, value(a.value)]),
              ),
              status: sp.status ?? {},
              service: String(attrs["service.name"] ?? ""),
            });
          }
        }
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    contentTypes,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
