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

  notify(key: string): void {
    this.versions.set(key, this.version(key) + 1);
    for (const w of this.waiting.get(key) ?? []) w.wake();
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
