/**
 * The sidecar's Prometheus metrics (prom-client, one registry per sidecar). Label values are bounded: service
 * and method names from the protos, protocol names, Connect code names, backend schemes, token ids from the
 * policy file. Children are looked up once per (service, method, protocol, code) and kept, so recording a request
 * costs a property read and two increments.
 */
import { Code } from "@connectrpc/connect";
import { Counter, collectDefaultMetrics, Gauge, type Metric, Registry } from "prom-client";
import type {
  BackendObserver,
  BackendSeries,
  CallOutcome,
  CallSpan,
  DeliveryOutcome,
  ScriptWorkerState,
  ServiceObserver,
} from "../shared/instrument.js";
import type { CircuitStateName } from "../shared/resilience.js";
import {
  type CounterCell,
  CounterFamily,
  type GaugeCell,
  GaugeFamily,
  type HistogramCell,
  HistogramFamily,
} from "./metric-cells.js";

/** Index of a protocol in per-protocol arrays; the label value is PROTOCOLS[i]. */
export const Protocol = { Rest: 0, Connect: 1, Grpc: 2, GrpcWeb: 3 } as const;
export type Protocol = (typeof Protocol)[keyof typeof Protocol];
export const PROTOCOLS = ["rest", "connect", "grpc", "grpc-web"] as const;

/** Connect code → label value ("ok", "not_found", …), as gRPC names them in lower case. */
export const CODE_NAMES: readonly string[] = (() => {
  const names: string[] = ["ok"];
  for (let c = 1; c <= 16; c++) names[c] = Code[c]!.replace(/[A-Z]/g, (m, i) => (i ? "_" : "") + m.toLowerCase());
  return names;
})();

// Requests here take from ~30 µs (in-memory KV over a Unix socket) to seconds (long-polls, scripts).
const REQUEST_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];
const CIRCUIT_VALUE: Record<CircuitStateName, number> = { closed: 0, "half-open": 1, open: 2 };

/** The figures of one (service, method) on each protocol. */
export class MethodSeries {
  private readonly durations: Array<HistogramCell | undefined> = [];
  private readonly codes: Array<Array<CounterCell | undefined>> = [[], [], [], []];

  constructor(
    private readonly m: Metrics,
    readonly service: string,
    readonly method: string,
  ) {}

  /** Records one finished request: its Connect code (0 = ok) and its duration in seconds. */
  observe(protocol: Protocol, code: number, seconds: number): void {
    const d = (this.durations[protocol] ??= this.m.requestDuration.cell(
      this.service,
      this.method,
      PROTOCOLS[protocol],
    ));
    d.observe(seconds);
    const row = this.codes[protocol]!;
    (row[code] ??= this.m.requests.cell(
      this.service,
      this.method,
      PROTOCOLS[protocol],
      CODE_NAMES[code] ?? "unknown",
    )).inc();
  }
}

class BackendFigures implements BackendSeries {
  private readonly outcomes: Partial<Record<CallOutcome, CounterCell>> = {};
  private readonly duration: HistogramCell;
  private readonly state: GaugeCell;

  constructor(
    private readonly m: Metrics,
    readonly service: string,
    readonly backend: string,
  ) {
    this.duration = m.backendDuration.cell(service, backend);
    this.state = m.circuit.cell(service, backend);
  }

  record(outcome: CallOutcome, seconds: number): void {
    (this.outcomes[outcome] ??= this.m.backendCalls.cell(this.service, this.backend, outcome)).inc();
    this.duration.observe(seconds);
  }

  circuit(state: CircuitStateName): void {
    this.state.set(CIRCUIT_VALUE[state]);
  }

  span(method: string): CallSpan | undefined {
    return this.m.tracer?.backendSpan(this.service, this.backend, method);
  }
}

/** What metrics need from tracing: a span per backend call, child of the current request's span. */
export interface BackendTracer {
  backendSpan(service: string, backend: string, method: string): CallSpan | undefined;
}

export interface ConnectionCounts {
  connections: number;
  streams: number;
}

export class Metrics implements BackendObserver, ServiceObserver {
  readonly registry = new Registry();
  readonly requests = new CounterFamily(
    "mikcar_requests_total",
    "Requests served, by service, method, protocol and result code (Connect code names)",
    ["service", "method", "protocol", "code"],
  );
  readonly requestDuration = new HistogramFamily(
    "mikcar_request_duration_seconds",
    "Time from request to response, by service, method and protocol",
    ["service", "method", "protocol"],
    REQUEST_BUCKETS,
  );
  private readonly inflightFamily = new GaugeFamily("mikcar_inflight_requests", "Requests being served, by protocol", [
    "protocol",
  ]);
  /** In-flight gauge per protocol, indexed by Protocol. */
  readonly inflight: GaugeCell[] = PROTOCOLS.map((p) => this.inflightFamily.cell(p));
  readonly backendCalls = new CounterFamily(
    "mikcar_backend_calls_total",
    "Backend calls (each retry counts), by service, backend and outcome (ok, error, timeout, rejected by the breaker)",
    ["service", "backend", "outcome"],
  );
  readonly backendDuration = new HistogramFamily(
    "mikcar_backend_call_duration_seconds",
    "Duration of each backend call (each retry is a call of its own)",
    ["service", "backend"],
    REQUEST_BUCKETS,
  );
  readonly circuit = new GaugeFamily(
    "mikcar_circuit_state",
    "Circuit breaker state per backend: 0 closed, 1 half-open, 2 open",
    ["service", "backend"],
  );
  readonly deliveries = new CounterFamily(
    "mikcar_queue_deliveries_total",
    "Queue deliveries by backend and outcome (acked, redelivered, dead-lettered)",
    ["backend", "outcome"],
  );
  readonly rateLimitedTotal: Counter<string>;
  readonly deniedTotal: Counter<string>;
  tracer: BackendTracer | undefined;
  private readonly methods = new Map<string, Map<string, MethodSeries>>();
  private readonly backends = new Map<string, BackendFigures>();
  private readonly scriptReaders: Array<() => Record<ScriptWorkerState, number>> = [];
  private readonly connectionReaders: Array<() => ConnectionCounts> = [];

  constructor() {
    const registers = [this.registry];
    for (const f of [
      this.requests,
      this.requestDuration,
      this.inflightFamily,
      this.backendCalls,
      this.backendDuration,
      this.circuit,
      this.deliveries,
    ]) {
      this.registry.registerMetric(f as unknown as Metric);
    }
    this.rateLimitedTotal = new Counter({
      name: "mikcar_rate_limited_total",
      help: "Requests refused by a rate limit, by policy token id",
      labelNames: ["token"],
      registers,
    });
    this.deniedTotal = new Counter({
      name: "mikcar_denied_total",
      help: "Requests denied by policy, by policy token id",
      labelNames: ["token"],
      registers,
    });
    const workers = () => this.scriptWorkerCounts();
    new Gauge({
      name: "mikcar_sql_script_workers",
      help: "SQL script workers by state (busy, idle) and scripts waiting for one",
      labelNames: ["state"],
      registers,
      collect() {
        for (const [k, v] of Object.entries(workers())) this.labels(k).set(v);
      },
    });
    const total = (k: keyof ConnectionCounts) => this.connectionCounts()[k];
    new Gauge({
      name: "mikcar_open_connections",
      help: "Open client connections on the API listeners",
      registers,
      collect() {
        this.set(total("connections"));
      },
    });
    new Gauge({
      name: "mikcar_open_streams",
      help: "Open HTTP/2 streams on the API listeners",
      registers,
      collect() {
        this.set(total("streams"));
      },
    });
  }

  /** The series of one service method, made on first use and kept. */
  method(service: string, method: string): MethodSeries {
    let byMethod = this.methods.get(service);
    if (!byMethod) this.methods.set(service, (byMethod = new Map()));
    let s = byMethod.get(method);
    if (!s) byMethod.set(method, (s = new MethodSeries(this, service, method)));
    return s;
  }

  backend(service: string, backend: string): BackendSeries {
    const key = `${service}\u0000${backend}`;
    let b = this.backends.get(key);
    if (!b) this.backends.set(key, (b = new BackendFigures(this, service, backend)));
    return b;
  }

  queueDelivery(backend: string, outcome: DeliveryOutcome, count: number): void {
    this.deliveries.cell(backend, outcome).inc(count);
  }

  scriptWorkers(read: () => Record<ScriptWorkerState, number>): void {
    this.scriptReaders.push(read);
  }

  /** Script workers by state, summed over the SQL services. */
  scriptWorkerCounts(): Record<ScriptWorkerState, number> {
    const sum: Record<ScriptWorkerState, number> = { busy: 0, idle: 0, waiting: 0 };
    for (const read of this.scriptReaders) {
      const s = read();
      for (const k of Object.keys(sum) as ScriptWorkerState[]) sum[k] += s[k];
    }
    return sum;
  }

  /** Open connections and streams, summed over the API listeners. */
  connectionCounts(): ConnectionCounts {
    const out = { connections: 0, streams: 0 };
    for (const read of this.connectionReaders) {
      const c = read();
      out.connections += c.connections;
      out.streams += c.streams;
    }
    return out;
  }

  connections(read: () => ConnectionCounts): void {
    this.connectionReaders.push(read);
  }

  /**
   * Counts a request the policy denied. For the policy layer: call it where it answers 403, with the token's
   * id from the policy file (never the token itself), or "anonymous".
   */
  denied(tokenId: string): void {
    this.deniedTotal.labels(tokenId).inc();
  }

  /** Counts a request refused by a rate limit (429), by token id as for `denied`. */
  rateLimited(tokenId: string): void {
    this.rateLimitedTotal.labels(tokenId).inc();
  }

  /** The Prometheus text exposition. */
  async text(): Promise<string> {
    const own = await this.registry.metrics();
    return `${own}\n${await processRegistry().metrics()}`;
  }
}

let processMetrics: Registry | undefined;

/**
 * Node's process metrics, once per process: prom-client's collectors install observers (GC, event loop delay)
 * that cannot be removed, so every sidecar of a process shares one set.
 */
function processRegistry(): Registry {
  if (!processMetrics) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics });
    // prom-client also exports these three gauges with a `_total` suffix, which Prometheus reserves for counters
    // (promtool rejects them); the same figures stay available by type as nodejs_active_{handles,requests,resources}.
    for (const name of ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"])
      processMetrics.removeSingleMetric(name);
  }
  return processMetrics;
}
