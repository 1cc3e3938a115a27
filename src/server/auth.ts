/**
 * Bearer-token auth, the one rule shared by the REST layer and the RPC interceptor.
 * The token is compared in constant time (over a hash, so length differences leak nothing either).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { sidecarError } from "../shared/errors.js";

export interface AuthCheck {
  /** Throws UNAUTHORIZED unless `authorization` is exactly `Bearer <token>`; a no-op when auth is off. */
  verify(authorization: string | null | undefined): void;
  readonly enabled: boolean;
}

export function createAuth(token: string | undefined): AuthCheck {
  if (token === undefined) return { enabled: false, verify() {} };
  if (token.length === 0) throw new Error("auth token is empty: set a non-empty token or pass --no-auth");
  const expected = createHash("sha256").update(token).digest();
  return {
    enabled: true,
    verify(authorization) {
      if (!authorization?.startsWith("Bearer ")) {
        throw sidecarError("UNAUTHORIZED", "missing or malformed Authorization header (expected: Bearer <token>)");
      }
      const given = createHash("sha256").update(authorization.slice(7)).digest();
      if (!timingSafeEqual(given, expected)) throw sidecarError("UNAUTHORIZED", "invalid token");
    },
  };
}
