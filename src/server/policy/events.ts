/**
 * Policy events, for whoever counts them (metrics: `mikcar_denied_total{token}`, `mikcar_rate_limited_total{token}`).
 * The access log records the same refusals on its own.
 *
 * @example
 * sidecar.events.on("denied", (d) => deniedTotal.inc({ token: d.token }));
 */
import { EventEmitter } from "node:events";
import type { Denial } from "./authorize.js";

export interface PolicyEventMap {
  /** A call the policy refused (403). */
  denied: [Denial];
  /** A call a rate limit refused (429); `bucket` is `token:<id>` or `server`. */
  rate_limited: [{ token: string; bucket: string }];
  /** The policy (or the TLS certificates) was reloaded, or a reload failed and the old one stays. */
  reloaded: [{ what: "policy" | "tls"; ok: boolean; error?: string }];
}

export class PolicyEvents extends EventEmitter<PolicyEventMap> {}
