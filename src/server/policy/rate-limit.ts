/**
 * Token buckets: one per policy token that has a `rate`, and one for the whole server (`--rate-limit`). A call
 * takes one token from every bucket that applies, or from none (so a call refused by the server-wide bucket
 * does not also use up the caller's own). Buckets live in memory, or in Redis (redis-rate-store.ts) so that
 * replicas behind a load balancer share one limit.
 */
import { sidecarError } from "../../shared/errors.js";

export interface Bucket {
  /** Stable name: `token:<id>` or `server`. */
  readonly key: string;
  readonly perSecond: number;
  readonly burst: number;
}

/** Why a call was refused: the bucket that ran dry (its index in the call's list) and the ms until it refills. */
export interface Refusal {
  index: number;
  waitMs: number;
}

export interface RateStore {
  /** Takes one token from each bucket, or from none and says which bucket ran dry. */
  take(buckets: readonly Bucket[]): Refusal | undefined | Promise<Refusal | undefined>;
  close(): Promise<void>;
}

/** `1000/s`, `60/m`, `3600/h` → tokens per second. */
export function parseRate(text: string, what: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*\/\s*(s|sec|second|m|min|minute|h|hour)\s*$/i.exec(text);
  const n = m ? Number(m[1]) : Number.NaN;
  if (!m || !(n > 0)) throw new Error(`${what} must look like 1000/s, 60/m or 3600/h; got ${JSON.stringify(text)}`);
  const unit = m[2]!.toLowerCase()[0];
  return n / (unit === "s" ? 1 : unit === "m" ? 60 : 3600);
}

/** How a rate reads in messages: "100/s (burst 200)". */
export function describeRate(b: Bucket): string {
  const rate = b.perSecond >= 1 ? `${round(b.perSecond)}/s` : `${round(b.perSecond * 60)}/m`;
  return `${rate} (burst ${b.burst})`;
}

const round = (n: number) => Math.round(n * 1000) / 1000;

/** The 429 for a refused call: `retry_after` (whole seconds, at least 1) in the body and in `Retry-After`. */
export function rateLimited(bucket: Bucket, waitMs: number, token: string): Error {
  const retryAfter = Math.max(1, Math.ceil(waitMs / 1000));
  const whose = bucket.key === "server" ? "the server's rate limit" : `the rate limit of token '${token}'`;
  const err = sidecarError("RATE_LIMITED", `${whose} of ${describeRate(bucket)} is used up; retry in ${retryAfter} s`, {
    retry_after: retryAfter,
    token,
  });
  err.metadata.set("retry-after", String(retryAfter));
  return err;
}

/** In-process buckets. `now` is injectable so that tests need not wait. */
export class MemoryRateStore implements RateStore {
  private state = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly now: () => number = () => performance.now()) {}

  take(buckets: readonly Bucket[]): Refusal | undefined {
    const t = this.now();
    let refusal: Refusal | undefined;
    const states = buckets.map((b, index) => {
      let s = this.state.get(b.key);
      if (!s) this.state.set(b.key, (s = { tokens: b.burst, at: t }));
      s.tokens = Math.min(b.burst, s.tokens + ((t - s.at) * b.perSecond) / 1000);
      s.at = t;
      if (s.tokens < 1) {
        const waitMs = ((1 - s.tokens) * 1000) / b.perSecond;
        if (!refusal || waitMs > refusal.waitMs) refusal = { index, waitMs };
      }
      return s;
    });
    if (refusal) return refusal;
    for (const s of states) s.tokens -= 1;
    return undefined;
  }

  async close(): Promise<void> {
    this.state.clear();
  }
}
