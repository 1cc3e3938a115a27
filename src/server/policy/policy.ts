/**
 * A checked policy document compiled for the hot path: tokens by the SHA-256 of their secret, certificate
 * subjects, and per token a map service → method → which names it may touch (one regular expression made
 * from the rules' globs). Also the principal of a sidecar without a policy (one token, or none, with full access).
 */
import { createHash } from "node:crypto";
import type { NameView } from "../../services/resources.js";
import { PolicyError, type PolicyDocument, type ServiceMethods } from "./document.js";

/** What one token may do with one method. */
export interface MethodGrant {
  /** Some rule allows this method on any resource. */
  readonly any: boolean;
  /** Otherwise, the names (as the caller sends them) it may touch. */
  readonly match: RegExp | undefined;
  /** The caller's view of names for namespaced services, and for the others (no namespace there). */
  readonly view: NameView | undefined;
  readonly flatView: NameView | undefined;
}

export interface Principal {
  /** Shown in logs, metrics and errors; never the token itself. */
  readonly id: string;
  readonly namespace: string;
  readonly rate: { perSecond: number; burst: number } | undefined;
  /** Service → method → grant; undefined means full access (no policy). */
  readonly grants: ReadonlyMap<string, ReadonlyMap<string, MethodGrant>> | undefined;
}

export interface Policy {
  /** Hex SHA-256 of a bearer token → its principal and digest. */
  readonly byHash: ReadonlyMap<string, { principal: Principal; digest: string }>;
  /** mTLS subject (certificate CN or URI SAN) → principal. */
  readonly bySubject: ReadonlyMap<string, Principal>;
  readonly size: number;
}

/** `*` any run of characters (slashes included), `?` one character, everything else literal. */
export function globSource(glob: string): string {
  let re = "";
  for (const c of glob) {
    if (c === "*") re += "[\\s\\S]*";
    else if (c === "?") re += "[\\s\\S]";
    else re += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  return re;
}

function makeView(ns: string, grant: { any: boolean; match: RegExp | undefined }): NameView {
  const visible = grant.any ? undefined : grant.match;
  if (ns === "") {
    return {
      namespace: "",
      into: (n) => n,
      strip: (n) => n,
      out: (n) => (visible === undefined || visible.test(n) ? n : undefined),
    };
  }
  const len = ns.length;
  return {
    namespace: ns,
    into: (n) => ns + n,
    strip: (n) => (n.startsWith(ns) ? n.slice(len) : n),
    out: (n) => {
      if (!n.startsWith(ns)) return undefined;
      const own = n.slice(len);
      return visible === undefined || visible.test(own) ? own : undefined;
    },
  };
}

/** Compiles a checked document; `services` are the services this sidecar runs, with their method names. */
export function compilePolicy(doc: PolicyDocument, services: ServiceMethods): Policy {
  const byHash = new Map<string, { principal: Principal; digest: string }>();
  const bySubject = new Map<string, Principal>();
  doc.tokens.forEach((t, i) => {
    const collected = new Map<string, Map<string, { any: boolean; globs: string[] }>>();
    for (const r of t.allow) {
      const offered = services.get(r.service);
      if (!offered) continue; // a service this sidecar does not run (warned about when checked)
      let perMethod = collected.get(r.service);
      if (!perMethod) collected.set(r.service, (perMethod = new Map()));
      for (const m of r.methods.includes("*") ? offered : r.methods) {
        let g = perMethod.get(m);
        if (!g) perMethod.set(m, (g = { any: false, globs: [] }));
        if (r.resources === undefined) g.any = true;
        else g.globs.push(...r.resources);
      }
    }
    const ns = t.namespace ?? "";
    const grants = new Map<string, Map<string, MethodGrant>>();
    for (const [service, perMethod] of collected) {
      const out = new Map<string, MethodGrant>();
      for (const [m, g] of perMethod) {
        const match = g.any ? undefined : new RegExp(`^(?:${g.globs.map(globSource).join("|")})$`, "u");
        const base = { any: g.any, match };
        out.set(m, {
          ...base,
          view: ns !== "" || !g.any ? makeView(ns, base) : undefined,
          flatView: g.any ? undefined : makeView("", base),
        });
      }
      grants.set(service, out);
    }
    const principal: Principal = {
      id: t.id,
      namespace: ns,
      rate: t.rate
        ? { perSecond: t.rate.per_second, burst: t.rate.burst ?? Math.max(1, Math.ceil(t.rate.per_second)) }
        : undefined,
      grants,
    };
    if (t.mtls_subject !== undefined) bySubject.set(t.mtls_subject, principal);
    else {
      const hex = t.sha256 ?? createHash("sha256").update(t.token!).digest("hex");
      if (byHash.has(hex)) throw new PolicyError(`tokens[${i}]: the same token is given to another entry`);
      byHash.set(hex, { principal, digest: hex });
    }
  });
  return { byHash, bySubject, size: doc.tokens.length };
}

/** The principal of a sidecar without a policy: whoever passes the single-token check may do anything. */
export function fullAccess(id: string): Principal {
  return { id, namespace: "", rate: undefined, grants: undefined };
}
