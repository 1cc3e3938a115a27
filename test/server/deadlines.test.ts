import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Deadlines } from "../../src/shared/deadlines.js";

// Fake clock: the queue reads performance.now() and arms setTimeout, so both are faked; nothing here waits.
describe("Deadlines", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("fires each deadline once its time has passed, in start order", () => {
    const d = new Deadlines(100);
    const fired: string[] = [];
    d.start(() => fired.push("a"));
    vi.advanceTimersByTime(40);
    d.start(() => fired.push("b"));
    vi.advanceTimersByTime(59);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual(["a"]);
    vi.advanceTimersByTime(40);
    expect(fired).toEqual(["a", "b"]);
  });

  it("never fires a cancelled deadline, and still fires the ones behind it", () => {
    const d = new Deadlines(100);
    const fired: string[] = [];
    const a = d.start(() => fired.push("a"));
    vi.advanceTimersByTime(10);
    const b = d.start(() => fired.push("b"));
    d.start(() => fired.push("c"));
    a.cancel();
    b.cancel();
    vi.advanceTimersByTime(200);
    expect(fired).toEqual(["c"]);
  });

  it("keeps working after the queue has emptied, and after a callback throws", () => {
    const d = new Deadlines(50);
    const fired: string[] = [];
    d.start(() => {
      throw new Error("boom");
    });
    d.start(() => fired.push("after"));
    expect(() => vi.advanceTimersByTime(50)).toThrow("boom");
    vi.advanceTimersByTime(1);
    expect(fired).toEqual(["after"]);
    for (let i = 0; i < 3000; i++) d.start(() => fired.push("x")).cancel();
    d.start(() => fired.push("last"));
    vi.advanceTimersByTime(50);
    expect(fired).toEqual(["after", "last"]);
  });
});
