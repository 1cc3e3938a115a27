/**
 * A per-service concurrency cap (`--<service>-max-concurrency`): at most `max` calls run against the backend
 * at once; the next ones wait in line up to `waitMs` and then get 503, so one noisy handler cannot take every
 * connection of a database pool and starve the rest.
 */
import { sidecarError } from "../../shared/errors.js";

interface Waiter {
  grant(): void;
  timer: NodeJS.Timeout;
}

export class Bulkhead {
  private active = 0;
  private readonly queue: Waiter[] = [];

  constructor(
    readonly service: string,
    readonly max: number,
    readonly waitMs: number,
  ) {}

  /** A slot: call the returned function once when the call is over. Waits in line (FIFO) when all are taken. */
  acquire(signal?: AbortSignal): Promise<() => void> | (() => void) {
    if (this.active < this.max && this.queue.length === 0) {
      this.active++;
      return this.releaser();
    }
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        grant: () => {
          clearTimeout(w.timer);
          signal?.removeEventListener("abort", onAbort);
          this.active++;
          resolve(this.releaser());
        },
        timer: setTimeout(() => {
          this.drop(w);
          signal?.removeEventListener("abort", onAbort);
          reject(
            sidecarError(
              "UNAVAILABLE",
              `${this.service} is at its concurrency limit (${this.max} calls in flight) and no slot freed up within ${this.waitMs} ms; retry later`,
            ),
          );
        }, this.waitMs),
      };
      const onAbort = () => {
        clearTimeout(w.timer);
        this.drop(w);
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.queue.push(w);
    });
  }

  /** Calls running and waiting, for tests and stats. */
  get load(): { active: number; waiting: number } {
    return { active: this.active, waiting: this.queue.length };
  }

  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.active--;
      this.queue.shift()?.grant();
    };
  }

  private drop(w: Waiter) {
    const i = this.queue.indexOf(w);
    if (i >= 0) this.queue.splice(i, 1);
  }
}
