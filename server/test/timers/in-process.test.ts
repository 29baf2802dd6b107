import { afterEach, describe, expect, it, vi } from "vitest";
import { createInProcessScheduler, MAX_TIMEOUT_MS } from "../../src/timers/in-process";
import { leftToNewcomerPass } from "../support/db";
import { schedulerContract } from "./contract";

/** Needs no service: .ci/run's first pass leaves it to the newcomer pass (support/db.ts). */
const elsewhere = leftToNewcomerPass("the in-process scheduler (no service)");

if (!elsewhere)
  schedulerContract("in-process", () => ({
    create: (opts) => createInProcessScheduler(opts),
  }));

describe.skipIf(elsewhere)("in-process scheduler: long waits", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  const DAY_MS = 24 * 3600 * 1000;

  it("a deadline 30 days away fires neither early nor late (setTimeout caps at 2^31-1 ms)", async () => {
    vi.useFakeTimers();
    const fired: number[] = [];
    const s = createInProcessScheduler();
    await s.start(async (_job, info) => {
      fired.push(info.firedAt);
    });
    const dueAt = Date.now() + 30 * DAY_MS;
    await s.ensure([{ sessionId: "s1", key: "step3-close", dueAt }]);

    // A single setTimeout of 30 days would have fired after 1 ms (TimeoutOverflowWarning).
    await vi.advanceTimersByTimeAsync(10);
    expect(fired).toEqual([]);
    await vi.advanceTimersByTimeAsync(MAX_TIMEOUT_MS + 1000); // past the first chunk
    expect(fired).toEqual([]);
    await vi.advanceTimersByTimeAsync(dueAt - Date.now() - 1);
    expect(fired).toEqual([]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(fired).toHaveLength(1);
    expect(fired[0]).toBeGreaterThanOrEqual(dueAt);
    expect(fired[0]).toBeLessThanOrEqual(dueAt + 10);
    await s.close();
  });

  it("uses the injected clock for due times and lateness", async () => {
    vi.useFakeTimers();
    const skewMs = 60_000; // the injected clock runs a minute ahead of the timers' clock
    const firings: Array<{ firedAt: number; latenessMs: number }> = [];
    const s = createInProcessScheduler({ now: () => Date.now() + skewMs });
    await s.start(async (_job, info) => {
      firings.push(info);
    });
    const dueAt = Date.now() + skewMs + 5000; // 5 s ahead by the injected clock
    await s.ensure([{ sessionId: "s1", key: "step2-close", dueAt }]);
    await vi.advanceTimersByTimeAsync(4990);
    expect(firings).toEqual([]);
    await vi.advanceTimersByTimeAsync(20);
    expect(firings).toHaveLength(1);
    expect(firings[0]?.firedAt).toBeGreaterThanOrEqual(dueAt);
    expect(firings[0]?.latenessMs).toBe((firings[0]?.firedAt ?? 0) - dueAt);
    await s.close();
  });
});

describe.skipIf(elsewhere)("in-process scheduler: concurrency", () => {
  it("runs at most `concurrency` handlers at once, and every due one in the end", async () => {
    const s = createInProcessScheduler({ concurrency: 2 });
    let running = 0;
    let maxRunning = 0;
    let done = 0;
    await s.start(async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await new Promise((resolve) => setTimeout(resolve, 20));
      running--;
      done++;
    });
    const dueAt = Date.now();
    await s.ensure(Array.from({ length: 6 }, (_, i) => ({ sessionId: `s${i}`, key: "next", dueAt })));
    const until = Date.now() + 5000;
    while (done < 6 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(done).toBe(6);
    expect(maxRunning).toBe(2);
    await s.close();
  });
});

describe.skipIf(elsewhere)("in-process scheduler: a moved deadline", () => {
  /**
   * Ensures `first`, then `moved`, for one session and key; the due times that fired by `watchUntil` (and, when none
   * had by then, up to 3 s for the first).
   */
  async function firedAfterMove(first: number, moved: number, watchUntil: number): Promise<number[]> {
    const s = createInProcessScheduler();
    const fired: number[] = [];
    await s.start(async (job) => {
      fired.push(job.dueAt);
    });
    await s.ensure([{ sessionId: "s", key: "next", dueAt: first }]);
    await s.ensure([{ sessionId: "s", key: "next", dueAt: moved }]);
    const giveUp = Date.now() + 3000;
    while (Date.now() < watchUntil || (fired.length === 0 && Date.now() < giveUp))
      await new Promise((resolve) => setTimeout(resolve, 10));
    await s.close();
    return fired;
  }

  it("moving a deadline later fires only at the new time (one process: its ensures come in commit order)", async () => {
    const first = Date.now() + 200;
    const moved = first + 400;
    expect(await firedAfterMove(first, moved, moved + 500)).toEqual([moved]);
  });

  it("moving a deadline earlier fires only at the new time", async () => {
    const first = Date.now() + 600;
    const moved = Date.now() + 200;
    expect(await firedAfterMove(first, moved, first + 500)).toEqual([moved]);
  });
});
