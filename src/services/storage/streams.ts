/** Guards for streamed uploads: a size limit, an announced size, an idle timeout and the caller's signal. */
import { sidecarError } from "../../shared/errors.js";

export interface GuardOptions {
  maxBytes: number;
  /** Exact size the client announced, if any. */
  expected?: number;
  /** Longest wait for the next chunk; 0 disables. */
  idleMs: number;
  signal?: AbortSignal;
}

export function tooLarge(maxBytes: number) {
  return sidecarError("PAYLOAD_TOO_LARGE", `object exceeds the limit of ${maxBytes} bytes`, { limit: maxBytes });
}

/**
 * Waits for `p`, but no longer than `idleMs` and not past `signal`. Node's own request timeout is off for
 * streamed bodies, so a client that stops sending would otherwise hold an upload (and a temp file) forever.
 */
export function withIdle<T>(p: Promise<T>, idleMs: number, signal?: AbortSignal): Promise<T> {
  if (idleMs <= 0 && !signal) return p;
  return new Promise<T>((resolve, reject) => {
    const timer =
      idleMs > 0
        ? setTimeout(
            () => finish(() => reject(sidecarError("REQUEST_TIMEOUT", `upload stalled: no data for ${idleMs} ms`))),
            idleMs,
          )
        : undefined;
    const onAbort = () => finish(() => reject(signal!.reason ?? sidecarError("REQUEST_TIMEOUT", "upload cancelled")));
    const finish = (f: () => void) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      f();
    };
    // Handlers go on `p` first: when the caller is already gone, the read it started (usually of a request the
    // client just reset) still settles, and a rejection nobody handles would take the whole process down.
    p.then(
      (v) => finish(() => resolve(v)),
      (e) => finish(() => reject(e)),
    );
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Passes chunks through, failing as soon as a guard trips; ends the source when stopped early. */
export async function* guarded(source: AsyncIterator<Uint8Array>, o: GuardOptions): AsyncGenerator<Uint8Array> {
  let total = 0;
  let done = false;
  try {
    for (;;) {
      const r = await withIdle(source.next(), o.idleMs, o.signal);
      if (r.done) break;
      total += r.value.length;
      if (total > o.maxBytes) throw tooLarge(o.maxBytes);
      if (o.expected !== undefined && total > o.expected) {
        throw sidecarError("BAD_REQUEST", `upload sent more than the announced ${o.expected} bytes`);
      }
      if (r.value.length > 0) yield r.value;
    }
    done = true;
  } finally {
    // A pending next() may never settle (stalled client); don't wait for the source to acknowledge.
    if (!done) void Promise.resolve(source.return?.()).catch(() => {});
  }
  if (o.expected !== undefined && total !== o.expected) {
    throw sidecarError("BAD_REQUEST", `upload ended after ${total} of the announced ${o.expected} bytes`);
  }
}
