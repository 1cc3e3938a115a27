/**
 * A bounded memory of recently acknowledged ids, so acking an id twice answers "already acked" (mikcar handlers
 * ack after pop) while an id that was never delivered is still NOT_FOUND. Oldest ids are forgotten first.
 */
export class RecentIds {
  private ids = new Set<string>();

  constructor(private limit = 10_000) {}

  add(id: string): void {
    this.ids.delete(id);
    this.ids.add(id);
    if (this.ids.size > this.limit) this.ids.delete(this.ids.values().next().value!);
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }
}
