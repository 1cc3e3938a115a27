/**
 * In-process change feed for backends whose writes all pass through this process (memory, lmdb). Each watcher
 * has a bounded buffer: a watcher that falls too far behind is ended with RESOURCE_EXHAUSTED rather than
 * letting memory grow without bound.
 */
import { sidecarError } from "../../shared/errors.js";
import type { KvEvent } from "./backend.js";

const MAX_BUFFERED = 10_000;

interface Watcher {
  prefix: string;
  push(e: KvEvent): void;
}

export class EventHub {
  private watchers = new Set<Watcher>();

  get active(): boolean {
    return this.watchers.size > 0;
  }

  emit(event: KvEvent): void {
    for (const w of this.watchers) if (event.key.startsWith(w.prefix)) w.push(event);
  }

  async *subscribe(prefix: string, signal: AbortSignal): AsyncIterable<KvEvent> {
    const queue: KvEvent[] = [];
    let wake: (() => void) | undefined;
    let overflow = false;
    const watcher: Watcher = {
      prefix,
      push: (e) => {
        if (queue.length >= MAX_BUFFERED) overflow = true;
        else queue.push(e);
        wake?.();
      },
    };
    // Unhooked at once, even if the consumer is stuck mid-write and never resumes this generator.
    const onAbort = () => {
      this.watchers.delete(watcher);
      wake?.();
    };
    this.watchers.add(watcher);
    signal.addEventListener("abort", onAbort);
    try {
      while (!signal.aborted) {
        if (overflow) throw sidecarError("TOO_MANY_REQUESTS", "watcher fell too far behind; reconnect to resume");
        const next = queue.shift();
        if (next) {
          yield next;
          continue;
        }
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      this.watchers.delete(watcher);
      signal.removeEventListener("abort", onAbort);
    }
  }
}
