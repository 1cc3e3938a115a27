/**
 * The figures behind `/stats.json` and the `/stats` page: requests/s, p50/p99 latency and errors per service and
 * method over the last minute, each backend's state and call latency, connections, streams, queue deliveries and
 * script workers. Read from the metric cells once a second (a ring of snapshots), so the request path does no
 * extra work for it.
 */
import type { ServiceInstance } from "../services/module.js";
import type { HealthReport } from "./health.js";
import { quantile } from "./metric-cells.js";
import type { Metrics } from "./metrics.js";

const WINDOW_MS = 60_000;
// Codes that are the sidecar's or a backend's fault (5xx on REST); a 404 is an answer, not an error.
const ERROR_CODES = new Set(["unknown", "deadline_exceeded", "internal", "unavailable", "data_loss", "unimplemented"]);

interface Series {
  count: number;
  errors: number;
  /** Duration histogram, per bucket (not cumulative). */
  buckets: number[];
}

interface Snapshot {
  at: number;
  methods: Map<string, Series>;
  backends: Map<string, Series>;
}

export interface StatsJson {
  time: string;
  windowSeconds: number;
  uptimeSeconds: number;
  totals: { requests: number; rps: number; errors: number; inflight: number; connections: number; streams: number };
  methods: Array<{
    service: string;
    method: string;
    requests: number;
    rps: number;
    errors: number;
    p50Ms: number | null;
    p99Ms: number | null;
  }>;
  backends: Array<{
    service: string;
    backend: string;
    state: "up" | "down" | "open" | "half-open";
    calls: number;
    rps: number;
    errors: number;
    p50Ms: number | null;
    p99Ms: number | null;
  }>;
  queueDeliveries: Record<string, number>;
  scriptWorkers: Record<string, number>;
}

export interface StatsSources {
  metrics: Metrics;
  services: ReadonlyArray<{ name: string; instance: ServiceInstance }>;
  health(): Promise<HealthReport>;
  connections(): { connections: number; streams: number };
}

export class StatsWindow {
  private ring: Snapshot[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly started = Date.now();
  private healthCache: { at: number; report: Promise<HealthReport> } | undefined;

  constructor(private readonly src: StatsSources) {}

  start(): void {
    if (this.timer) return;
    this.ring.push(this.snapshot());
    this.timer = setInterval(() => {
      this.ring.push(this.snapshot());
      const cutoff = Date.now() - WINDOW_MS - 1_000;
      while (this.ring.length > 2 && this.ring[0]!.at < cutoff) this.ring.shift();
    }, 1_000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private snapshot(): Snapshot {
    const m = this.src.metrics;
    const methods = new Map<string, Series>();
    const series = (map: Map<string, Series>, key: string, n: number) => {
      let s = map.get(key);
      if (!s) map.set(key, (s = { count: 0, errors: 0, buckets: new Array<number>(n).fill(0) }));
      return s;
    };
    const nb = m.requestDuration.bounds.length + 1;
    for (const c of m.requests.all()) {
      const s = series(methods, `${c.labels.service}\u0000${c.labels.method}`, nb);
      s.count += c.value;
      if (ERROR_CODES.has(c.labels.code!)) s.errors += c.value;
    }
    for (const c of m.requestDuration.all()) {
      const s = series(methods, `${c.labels.service}\u0000${c.labels.method}`, nb);
      c.counts.forEach((n, i) => {
        s.buckets[i]! += n;
      });
    }
    const backends = new Map<string, Series>();
    for (const c of m.backendCalls.all()) {
      const s = series(backends, `${c.labels.service}\u0000${c.labels.backend}`, nb);
      s.count += c.value;
      if (c.labels.outcome !== "ok") s.errors += c.value;
    }
    for (const c of m.backendDuration.all()) {
      const s = series(backends, `${c.labels.service}\u0000${c.labels.backend}`, nb);
      c.counts.forEach((n, i) => {
        s.buckets[i]! += n;
      });
    }
    return { at: Date.now(), methods, backends };
  }

  private health(): Promise<HealthReport> {
    const now = Date.now();
    if (!this.healthCache || now - this.healthCache.at > 1_000) {
      this.healthCache = { at: now, report: this.src.health() };
    }
    return this.healthCache.report;
  }

  async json(): Promise<StatsJson> {
    const now = this.snapshot();
    const base = this.ring.find((s) => s.at >= now.at - WINDOW_MS) ?? this.ring[0] ?? now;
    const secs = Math.max(1, (now.at - base.at) / 1000);
    const bounds = this.src.metrics.requestDuration.bounds;
    const diff = (cur: Series, old: Series | undefined) => {
      const count = cur.count - (old?.count ?? 0);
      const buckets = cur.buckets.map((n, i) => n - (old?.buckets[i] ?? 0));
      const ms = (q: number) => {
        const v = quantile(buckets, bounds, q);
        return v === undefined ? null : Math.round(v * 1e6) / 1e3;
      };
      return {
        count,
        rps: Math.round((count / secs) * 10) / 10,
        errors: cur.errors - (old?.errors ?? 0),
        p50Ms: ms(0.5),
        p99Ms: ms(0.99),
      };
    };
    const methods: StatsJson["methods"] = [];
    let total = 0;
    let errors = 0;
    for (const [key, cur] of now.methods) {
      const [service, method] = key.split("\u0000") as [string, string];
      const d = diff(cur, base.methods.get(key));
      total += d.count;
      errors += d.errors;
      methods.push({
        service,
        method,
        requests: d.count,
        rps: d.rps,
        errors: d.errors,
        p50Ms: d.p50Ms,
        p99Ms: d.p99Ms,
      });
    }
    methods.sort((a, b) => a.service.localeCompare(b.service) || a.method.localeCompare(b.method));
    const report = await this.health();
    const backends: StatsJson["backends"] = this.src.services.map(({ name, instance }) => {
      const key = `${name}\u0000${instance.backend}`;
      const cur = now.backends.get(key);
      const d = cur ? diff(cur, base.backends.get(key)) : { count: 0, rps: 0, errors: 0, p50Ms: null, p99Ms: null };
      const breaker = instance.policy?.state ?? "closed";
      const up = report.services[name]?.status === "ok";
      const state = breaker !== "closed" ? breaker : up ? "up" : "down";
      return {
        service: name,
        backend: instance.backend,
        state,
        calls: d.count,
        rps: d.rps,
        errors: d.errors,
        p50Ms: d.p50Ms,
        p99Ms: d.p99Ms,
      };
    });
    const m = this.src.metrics;
    const queueDeliveries: Record<string, number> = { acked: 0, redelivered: 0, "dead-lettered": 0 };
    for (const c of m.deliveries.all())
      queueDeliveries[c.labels.outcome!] = (queueDeliveries[c.labels.outcome!] ?? 0) + c.value;
    let inflight = 0;
    for (const g of m.inflight) inflight += g.value;
    const conns = this.src.connections();
    return {
      time: new Date(now.at).toISOString(),
      windowSeconds: Math.round(secs),
      uptimeSeconds: Math.round((now.at - this.started) / 1000),
      totals: {
        requests: total,
        rps: Math.round((total / secs) * 10) / 10,
        errors,
        inflight,
        connections: conns.connections,
        streams: conns.streams,
      },
      methods,
      backends,
      queueDeliveries,
      scriptWorkers: m.scriptWorkerCounts(),
    };
  }
}
