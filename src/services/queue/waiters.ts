/**
 * Wake-ups for long-polls, shared by the backends: a version counter per key, bumped whenever something may
 * have become receivable, and waiters that resolve on the next bump. Reading the version before a receive and
 * waiting "since" it closes the gap where a message arrives between an empty receive and the wait.
 */
interface Waiter {
  wake(): void;
}

export class Waiters {
  private versions = new Map<string, number>();
  private waiting = new Map<string, Set<Waiter>>();

  version(key: string): number {
    return this.versions.get(key) ?? 0;
  }

  /**
   * Bumps `key`'s version and wakes its waiters; with `one`, only the longest-waiting one. A backend passes
   * `one` when a single message became receivable for one consumer set: waking every long-poll on a queue for
   * each push would have all of them race for it and all but one go back to sleep (at 256 connections on 16
   * queues, that herd cost more than the push). Callers that are between a receive and their wait see the new
   * version and retry on their own.
   */
  notify(key: string, one = false): void {
    this.versions.set(key, this.version(key) + 1);
    const set = this.waiting.get(key);
    if (!set) return;
    if (one) set.values().next().value?.wake();
    else for (const w of set) w.wake();
  }

  /** Wakes every waiter (e.g. after a reconnect, when anything may have changed). */
  notifyAll(): void {
    for (const key of [...this.waiting.keys()]) this.notify(key);
  }

  wait(key: string, since: number, ms: number, signal: AbortSignal): Promise<void> {
    if (this.version(key) !== since || ms <= 0 || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      let set = this.waiting.get(key);
      if (!set) this.waiting.set(key, (set = new Set()));
      const waiter: Waiter = {
        wake: () => {
          clearTimeout(timer);
          signal.removeEventListener("abort", waiter.wake);
          set!.delete(waiter);
          if (set!.size === 0 && this.waiting.get(key) === set) this.waiting.delete(key);
          resolve();
        },
      };
      const timer = setTimeout(waiter.wake, ms);
      signal.addEventListener("abort", waiter.wake);
      set.add(waiter);
    });
  }
}
