/**
 * The one authorisation function: may this principal call service.Method on these names? Used by the guarded
 * implementation (guard.ts) that REST rows and the RPC router both call, so the two can never disagree.
 */
import { sidecarError } from "../../shared/errors.js";
import type { NameView } from "../../services/resources.js";
import type { Principal } from "./policy.js";

export interface Denial {
  token: string;
  service: string;
  method: string;
  resource?: string;
}

/**
 * Returns the caller's view of names for this call (undefined: names pass unchanged and unfiltered), or throws
 * PERMISSION_DENIED naming the token, the method and the first name it may not touch. `namespaced` is false for
 * services whose names are not the caller's own (email senders). `declared` is false when the service says
 * nothing about this method's names: then only a rule without `resources` allows it, since a resource rule could
 * not be checked (fail closed). `onDeny` sees every refusal (metrics, logs).
 */
export function authorize(
  p: Principal,
  service: string,
  method: string,
  names: readonly string[],
  namespaced: boolean,
  declared: boolean,
  onDeny?: (d: Denial) => void,
): NameView | undefined {
  if (p.grants === undefined) return undefined;
  const g = p.grants.get(service)?.get(method);
  if (g === undefined || (!g.any && !declared)) throw denied(p, service, method, names[0], onDeny);
  if (!g.any) {
    for (const n of names) if (!g.match!.test(n)) throw denied(p, service, method, n, onDeny);
  }
  return namespaced ? g.view : g.flatView;
}

/** True when the principal may call `method` of `service` at all (on some resource). */
export function mayCall(p: Principal, service: string, method: string): boolean {
  return p.grants === undefined || p.grants.get(service)?.has(method) === true;
}

function denied(
  p: Principal,
  service: string,
  method: string,
  resource: string | undefined,
  onDeny?: (d: Denial) => void,
) {
  onDeny?.({ token: p.id, service, method, ...(resource !== undefined ? { resource } : {}) });
  const on = resource !== undefined ? ` on ${quote(resource)}` : "";
  return sidecarError("PERMISSION_DENIED", `token ${quote(p.id)} may not call ${service}.${method}${on}`, {
    token: p.id,
  });
}

/** 'name' for messages, shortened and with control characters shown escaped. */
function quote(s: string): string {
  const short = s.length > 200 ? `${s.slice(0, 200)}…` : s;
  return `'${short.replace(/[\x00-\x1f\x7f']/g, (c) => (c === "'" ? "\\'" : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`))}'`;
}
