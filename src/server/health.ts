/**
 * Readiness, one answer for three audiences: `GET /health` on the API port, `GET /health/ready` on the admin
 * port (JSON, 200 or 503) and `grpc.health.v1.Health` (Check, List, Watch per service name). A service is ready
 * when a live probe of its backend answers (with a short deadline, so a stopped Redis shows up at once and
 * recovery too) and its circuit breaker is not open.
 */
import type { ConnectRouter } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../../gen/health/v1/health_pb.js";
import type { ServiceInstance } from "../services/module.js";
import type { CircuitStateName } from "../shared/resilience.js";

export interface HealthEntry {
  /** REST name, e.g. "kv". */
  name: string;
  instance: ServiceInstance;
}

export interface HealthReport {
  status: "ok" | "degraded";
  services: Record<string, { backend: string; status: "ok" | "unavailable"; breaker: CircuitStateName }>;
}

const PROBE_TIMEOUT_MS = 2_000;
const WATCH_INTERVAL_MS = 5_000;

/** Ready: the backend answers and its breaker lets calls through. */
async function ready(instance: ServiceInstance): Promise<boolean> {
  return (await probe(instance)) && instance.policy?.state !== "open";
}

async function probe(instance: ServiceInstance): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), PROBE_TIMEOUT_MS);
  });
  try {
    return await Promise.race([instance.healthy().catch(() => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function createHealth(entries: readonly HealthEntry[]) {
  const byRpcName = new Map(entries.map((e) => [e.instance.desc.typeName, e]));

  async function report(): Promise<HealthReport> {
    const results = await Promise.all(entries.map(async (e) => [e, await probe(e.instance)] as const));
    const services: HealthReport["services"] = {};
    let all = true;
    for (const [e, ok] of results) {
      const breaker = e.instance.policy?.state ?? "closed";
      services[e.name] = { backend: e.instance.backend, status: ok ? "ok" : "unavailable", breaker };
      all &&= ok && breaker !== "open";
    }
    return { status: all ? "ok" : "degraded", services };
  }

  /** "" is the whole server; otherwise a fully-qualified service name. Undefined when unknown. */
  async function statusOf(service: string): Promise<Status | undefined> {
    if (service === "") return (await report()).status === "ok" ? Status.SERVING : Status.NOT_SERVING;
    const e = byRpcName.get(service);
    if (!e) return undefined;
    return (await ready(e.instance)) ? Status.SERVING : Status.NOT_SERVING;
  }

  function register(router: ConnectRouter) {
    router.service(Health, {
      async check(req) {
        const s = await statusOf(req.service);
        if (s === undefined) throw new ConnectError(`unknown service ${req.service}`, Code.NotFound);
        return { status: s };
      },
      async list() {
        const names = ["", ...byRpcName.keys()];
        const statuses = await Promise.all(names.map(async (n) => [n, { status: (await statusOf(n))! }] as const));
        return { statuses: Object.fromEntries(statuses) };
      },
      async *watch(req, ctx) {
        // Current status at once, then each change; an unknown service is SERVICE_UNKNOWN, as the spec says.
        let last: Status | undefined;
        while (!ctx.signal.aborted) {
          const cur = (await statusOf(req.service)) ?? Status.SERVICE_UNKNOWN;
          if (cur !== last) {
            last = cur;
            yield { status: cur };
          }
          await new Promise<void>((resolve) => {
            const t = setTimeout(done, WATCH_INTERVAL_MS);
            function done() {
              clearTimeout(t);
              ctx.signal.removeEventListener("abort", done);
              resolve();
            }
            ctx.signal.addEventListener("abort", done);
          });
        }
      },
    });
  }

  return { report, register };
}
