/**
 * W3C traceparent in and out, and OpenTelemetry spans over OTLP/HTTP to a receiver started here: a server span
 * per request, child of the caller's span, and a client span per backend call, child of the request's span.
 */
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KvService } from "../../gen/mikcar/kv/v1/kv_pb.js";
import { type OtlpReceiver, startOtlpReceiver } from "../helpers/otlp-receiver.js";
import { type RunningSidecar, startSidecar } from "../helpers/sidecar.js";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER = "00f067aa0ba902b7";
const TP = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/;

let otlp: OtlpReceiver;
let s: RunningSidecar;
let restTp: string;
let rpcTp: string;
beforeAll(async () => {
  otlp = await startOtlpReceiver();
  s = await startSidecar({ services: { kv: "memory://" }, otlpEndpoint: otlp.url });
  await fetch(`${s.url}/kv/set/t`, { method: "POST", body: "v" });
  const r = await fetch(`${s.url}/kv/get/t`, { headers: { traceparent: `00-${TRACE}-${CALLER}-01` } });
  restTp = r.headers.get("traceparent") ?? "";
  const kv = createClient(KvService, createConnectTransport({ baseUrl: s.url, httpVersion: "1.1" }));
  await kv.get(
    { key: "t" },
    {
      headers: { traceparent: `00-${TRACE}-${"1".repeat(16)}-01` },
      onHeader: (h) => {
        rpcTp = h.get("traceparent") ?? "";
      },
    },
  );
  await s.close(); // flushes the span batch
});
afterAll(() => otlp?.close());

describe("traces", () => {
  it("answers with a traceparent naming its own span in the caller's trace", () => {
    const m = TP.exec(restTp);
    expect(m?.[1]).toBe(TRACE);
    expect(m?.[2]).not.toBe(CALLER);
    expect(TP.exec(rpcTp)?.[1]).toBe(TRACE);
  });

  it("exports OTLP/HTTP JSON that decodes into request and backend spans with the right parents", () => {
    expect(otlp.contentTypes.every((t) => t.includes("application/json"))).toBe(true);
    const inTrace = otlp.spans.filter((sp) => sp.traceId === TRACE);
    expect(inTrace.every((sp) => sp.service === "mikcar")).toBe(true);

    const restSpan = inTrace.find((sp) => sp.parentSpanId === CALLER)!;
    expect(restSpan).toBeDefined();
    expect(restSpan.name).toBe("kv/Get");
    expect(restSpan.kind).toBe(2); // SERVER
    expect(restSpan.spanId).toBe(TP.exec(restTp)![2]);
    expect(restSpan.attributes["http.response.status_code"]).toBe(200);
    const restBackend = inTrace.find((sp) => sp.parentSpanId === restSpan.spanId)!;
    expect(restBackend).toMatchObject({ name: "kv.memory get", kind: 3 }); // CLIENT

    const rpcSpan = inTrace.find((sp) => sp.parentSpanId === "1".repeat(16))!;
    expect(rpcSpan).toMatchObject({ name: "mikcar.kv.v1.KvService/Get", kind: 2 });
    expect(rpcSpan.attributes["rpc.system"]).toBe("connect_rpc");
    expect(rpcSpan.spanId).toBe(TP.exec(rpcTp)![2]);
    expect(inTrace.find((sp) => sp.parentSpanId === rpcSpan.spanId)?.name).toBe("kv.memory get");
  });

  it("starts a new trace for requests without a traceparent", () => {
    const set = otlp.spans.find((sp) => sp.name === "kv/Set")!;
    expect(set).toBeDefined();
    expect(set.traceId).not.toBe(TRACE);
    expect(set.parentSpanId).toBe("");
  });
});
