/**
 * Who is calling, and may they call now: the bearer token (compared in constant time, over its SHA-256) or
 * the client certificate names a principal; then the rate limits that apply take one token each. Runs once
 * per request, for REST in the server's fallback and for RPC in an interceptor; the answer goes into the
 * request state for the guarded services (guard.ts) to authorise each call.
 */
import { createHash, hash } from "node:crypto";
import { sidecarError } from "../../shared/errors.js";
import type { PolicyEvents } from "./events.js";
import { fullAccess, type Principal } from "./policy.js";
import type { RequestState } from "./request-state.js";
import type { PolicySource } from "./source.js";
import { type Bucket, type RateStore, rateLimited, type Refusal } from "./rate-limit.js";

export interface GateOptions {
  /** The single token of a sidecar without a policy (SIDECAR_TOKEN); ignored when a policy is given. */
  authToken?: string;
  policy?: PolicySource;
  /** Server-wide bucket (`--rate-limit`). */
  serverRate?: { perSecond: number; burst: number };
  store?: RateStore;
  events: PolicyEvents;
  /** mTLS is on: a verified certificate alone admits a caller when no policy or token says otherwise. */
  mtls?: boolean;
}

export interface Gate {
  /** Auth is on (a token, a policy or client certificates). */
  readonly enabled: boolean;
  /**
   * Identifies the caller (401 if unknown; the principal goes into `state`, so that even a refused call is
   * logged with its token) and applies rate limits (429). Synchronous unless the bucket store is remote.
   */
  admit(authorization: string | null | undefined, state: RequestState | undefined): Principal | Promise<Principal>;
}

// One-shot hashing where Node has it (20.12+): it skips the Hash object, about a microsecond per request.
const sha256hex: (s: string) => string =
  typeof hash === "function" ? (s) => hash("sha256", s, "hex") : (s) => createHash("sha256").update(s).digest("hex");

/**
 * Compares two hex digests of equal length without an early exit (the time does not depend on where they
 * differ). A hex string straight from one-shot hashing is the cheapest form here: a Buffer costs an allocation
 * per request, and timingSafeEqual would need two.
 */
function sameDigest(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

const ANONYMOUS = fullAccess("anonymous");
const SIDECAR_TOKEN = fullAccess("sidecar-token");

const malformed = () =>
  sidecarError("UNAUTHORIZED", "missing or malformed Authorization header (expected: Bearer <token>)");

export function createGate(o: GateOptions): Gate {
  if (o.authToken !== undefined && o.authToken.length === 0)
    throw new Error("auth token is empty: set a non-empty token or pass --no-auth");
  const expected = o.authToken === undefined ? undefined : sha256hex(o.authToken);
  const policy = o.policy;
  const serverBucket: Bucket | undefined = o.serverRate ? { key: "server", ...o.serverRate } : undefined;
  const tokenBuckets = new WeakMap<Principal, Bucket>();

  const identify = (authorization: string | null | undefined, peer: readonly string[] | undefined): Principal => {
    const p = policy?.current;
    if (p) {
      if (authorization != null) {
        if (!authorization.startsWith("Bearer ")) throw malformed();
        const digest = sha256hex(authorization.slice(7));
        // The map is keyed by the hash, so its lookup learns nothing about the token; the compare is the check.
        const hit = p.byHash.get(digest);
        if (!hit || !sameDigest(hit.digest, digest)) throw sidecarError("UNAUTHORIZED", "invalid token");
        return hit.principal;
      }
      if (peer)
        for (const name of peer) {
          const principal = p.bySubject.get(name);
          if (principal) return principal;
        }
      throw peer
        ? sidecarError(
            "UNAUTHORIZED",
            "the client certificate names no token of the policy, and no bearer token was given",
          )
        : malformed();
    }
    if (expected) {
      if (!authorization?.startsWith("Bearer ")) throw malformed();
      if (!sameDigest(sha256hex(authorization.slice(7)), expected)) throw sidecarError("UNAUTHORIZED", "invalid token");
      return SIDECAR_TOKEN;
    }
    return ANONYMOUS;
  };

  const bucketsOf = (principal: Principal): Bucket[] => {
    const out: Bucket[] = [];
    if (principal.rate) {
      let b = tokenBuckets.get(principal);
      if (!b) tokenBuckets.set(principal, (b = { key: `token:${principal.id}`, ...principal.rate }));
      out.push(b);
    }
    if (serverBucket) out.push(serverBucket);
    return out;
  };

  const refuse = (principal: Principal, buckets: Bucket[], r: Refusal): never => {
    const bucket = buckets[r.index]!;
    o.events.emit("rate_limited", { token: principal.id, bucket: bucket.key });
    throw rateLimited(bucket, r.waitMs, principal.id);
  };

  return {
    enabled: expected !== undefined || policy !== undefined || o.mtls === true,
    admit(authorization, state) {
      const principal = identify(authorization, state?.peer);
      if (state) {
        state.caller = principal;
        if (state.record) state.record.token = principal.id;
      }
      if (!o.store || (!principal.rate && !serverBucket)) return principal;
      const buckets = bucketsOf(principal);
      const r = o.store.take(buckets);
      if (r instanceof Promise) return r.then((refusal) => (refusal ? refuse(principal, buckets, refusal) : principal));
      return r ? refuse(principal, buckets, r) : principal;
    },
  };
}
