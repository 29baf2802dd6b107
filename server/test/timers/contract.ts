// The behaviour every deadline scheduler must have, registered once per implementation.
// Real timers throughout; margins are generous (never before dueAt - 5 ms, at most 1.5 s late)
// because the machine is shared and BullMQ's delay precision follows Redis's timer tick.

import { randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { DeadlineErrorReporter } from "../../src/timers/report";
import { type DeadlineJob, MAX_ATTEMPTS, type Scheduler } from "../../src/timers/scheduler";

export const EARLY_TOLERANCE_MS = 5;
export const LATE_TOLERANCE_MS = 1500;
// How long to keep watching for a duplicate after the expected firing: duplicates of one
// deadline would be due at the same moment, so they would show up well within this.
const DUPLICATE_WATCH_MS = 700;

export interface SchedulerFactoryOptions {
  onError?: DeadlineErrorReporter;
  retryBaseMs?: number;
}

/** One test's storage; for BullMQ, every scheduler it creates shares one queue. */
export interface SchedulerWorld {
  create(opts?: SchedulerFactoryOptions): Scheduler;
}

export interface Firing {
  job: DeadlineJob;
  firedAt: number;
  latenessMs: number;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function newSessionId(): string {
  return `s-${randomUUID()}`;
}

/** A handler that records each call, then runs an optional behaviour (which may throw). */
export function recorder(behaviour?: (job: DeadlineJob, call: number) => Promise<void>) {
  const firings: Firing[] = [];
  return {
    firings,
    handler: async (job: DeadlineJob, info: { firedAt: number; latenessMs: number }) => {
      firings.push({ job, ...info });
      await behaviour?.(job, firings.length);
    },
    async waitFor(count: number, timeoutMs = 5000): Promise<void> {
      const until = Date.now() + timeoutMs;
      while (firings.length < count) {
        if (Date.now() > until) {
          throw new Error(`expected ${count} firing(s) within ${timeoutMs} ms, saw ${firings.length}`);
        }
        await sleep(5);
      }
    },
  };
}

export function expectOnTime(firing: Firing | undefined, dueAt: number): void {
  expect(firing).toBeDefined();
  const f = firing as Firing;
  expect(f.firedAt).toBeGreaterThanOrEqual(dueAt - EARLY_TOLERANCE_MS);
  expect(f.firedAt).toBeLessThanOrEqual(dueAt + LATE_TOLERANCE_MS);
  expect(f.latenessMs).toBe(f.firedAt - f.job.dueAt);
}

export function schedulerContract(name: string, newWorld: () => Promise<SchedulerWorld> | SchedulerWorld) {
  describe(`${name}: scheduler contract`, () => {
    let world: SchedulerWorld;
    let created: Scheduler[] = [];
    const create = (opts?: SchedulerFactoryOptions) => {
      const s = world.create(opts);
      created.push(s);
      return s;
    };

    beforeEach(async () => {
      world = await newWorld();
      created = [];
    });
    afterEach(async () => {
      await Promise.all(created.map((s) => s.close()));
    });

    it("fires at the due time with the job's ids and its lateness", async () => {
      const rec = recorder();
      const s = create();
      await s.start(rec.handler);
      const job = { sessionId: newSessionId(), key: "step2-close", dueAt: Date.now() + 400 };
      await s.ensure([job]);
      await rec.waitFor(1);
      expect(rec.firings[0]?.job).toStrictEqual(job);
      expectOnTime(rec.firings[0], job.dueAt);
    });

    it("fires a past-due deadline at once", async () => {
      const rec = recorder();
      const s = create();
      await s.start(rec.handler);
      const job = { sessionId: newSessionId(), key: "step3-close", dueAt: Date.now() - 10_000 };
      const ensuredAt = Date.now();
      await s.ensure([job]);
      await rec.waitFor(1);
      expect(rec.firings[0]?.firedAt).toBeLessThanOrEqual(ensuredAt + LATE_TOLERANCE_MS);
      expect(rec.firings[0]?.latenessMs).toBeGreaterThanOrEqual(10_000);
    });

    it("fires once when the same deadline is ensured repeatedly", async () => {
      const rec = recorder();
      const s = create();
      await s.start(rec.handler);
      const job = { sessionId: newSessionId(), key: "step2-close", dueAt: Date.now() + 400 };
      await s.ensure([job]);
      await s.ensure([job, { ...job }]);
      await Promise.all([s.ensure([job]), s.ensure([job])]);
      await rec.waitFor(1);
      await sleep(DUPLICATE_WATCH_MS);
      expect(rec.firings).toHaveLength(1);
      expectOnTime(rec.firings[0], job.dueAt);
    });

    // The old time may fire too (BullMQ keeps it: see bullmq.test.ts), and a handler then finds nothing due; the new
    // time fires, once and on time, whichever the implementation.
    it("moving a deadline later fires at the new time, once", async () => {
      const rec = recorder();
      const s = create();
      await s.start(rec.handler);
      const sessionId = newSessionId();
      const first = Date.now() + 300;
      const moved = first + 900;
      await s.ensure([{ sessionId, key: "step2-close", dueAt: first }]);
      await s.ensure([{ sessionId, key: "step2-close", dueAt: moved }]);
      const until = Date.now() + 4000;
      while (!rec.firings.some((f) => f.job.dueAt === moved) && Date.now() < until) await sleep(5);
      await sleep(DUPLICATE_WATCH_MS);
      const atNew = rec.firings.filter((f) => f.job.dueAt === moved);
      expect(atNew).toHaveLength(1);
      expectOnTime(atNew[0], moved);
      // Besides it, at most the old time, once.
      expect(rec.firings.filter((f) => f.job.dueAt !== moved).map((f) => f.job.dueAt)).toEqual(
        rec.firings.length === 2 ? [first] : [],
      );
    });

    it("moving a deadline earlier fires at the earlier time, and the old time at most once, never early", async () => {
      const rec = recorder();
      const s = create();
      await s.start(rec.handler);
      const sessionId = newSessionId();
      const first = Date.now() + 1200;
      const moved = Date.now() + 300;
      await s.ensure([{ sessionId, key: "proposal-p1-expiry", dueAt: first }]);
      await s.ensure([{ sessionId, key: "proposal-p1-expiry", dueAt: moved }]);
      await rec.waitFor(1);
      expect(rec.firings[0]?.job.dueAt).toBe(moved);
      expectOnTime(rec.firings[0], moved);
      await sleep(first - Date.now() + DUPLICATE_WATCH_MS);
      // BullMQ keeps the old time's job (no ensure withdraws another's: see bullmq.test.ts); its handler then finds
      // nothing due. The in-process scheduler replaces it (see in-process.test.ts).
      expect(rec.firings.slice(1).map((f) => f.job.dueAt)).toEqual(rec.firings.length === 2 ? [first] : []);
      if (rec.firings.length === 2) expectOnTime(rec.firings[1], first);
    });

    it("cancelSession drops the session's pending deadlines except the kept keys", async () => {
      const rec = recorder();
      const s = create();
      await s.start(rec.handler);
      const [a, b] = [newSessionId(), newSessionId()];
      const dueAt = Date.now() + 400;
      await s.ensure([
        { sessionId: a, key: "step2-close", dueAt },
        { sessionId: a, key: "reminder-1", dueAt },
        { sessionId: a, key: "step3-close", dueAt: dueAt + 100 },
        { sessionId: b, key: "step2-close", dueAt },
      ]);
      await s.cancelSession(a, ["reminder-1"]);
      await s.cancelSession(newSessionId()); // a session with nothing pending
      await rec.waitFor(2);
      await sleep(DUPLICATE_WATCH_MS);
      const fired = rec.firings.map((f) => `${f.job.sessionId === a ? "a" : "b"}/${f.job.key}`).sort();
      expect(fired).toEqual(["a/reminder-1", "b/step2-close"]);
    });

    it("cancelSession without keepKeys drops every pending deadline of the session", async () => {
      const rec = recorder();
      const s = create();
      await s.start(rec.handler);
      const sessionId = newSessionId();
      const dueAt = Date.now() + 300;
      await s.ensure([
        { sessionId, key: "step2-close", dueAt },
        { sessionId, key: "reminder-1", dueAt },
      ]);
      await s.cancelSession(sessionId);
      await sleep(300 + DUPLICATE_WATCH_MS);
      expect(rec.firings).toHaveLength(0);
    });

    it("retries a failed handler and reports the error", async () => {
      const failure = new Error("handler failed on purpose");
      const rec = recorder(async (_job, call) => {
        if (call === 1) throw failure;
      });
      const reported: Array<{ err: unknown; job: DeadlineJob }> = [];
      const s = create({ retryBaseMs: 200, onError: (err, job) => reported.push({ err, job }) });
      await s.start(rec.handler);
      const job = { sessionId: newSessionId(), key: "step2-close", dueAt: Date.now() + 100 };
      await s.ensure([job]);
      await rec.waitFor(2);
      expect(rec.firings.map((f) => f.job)).toStrictEqual([job, job]);
      // The retry waits for its backoff (not immediate), so it is not a duplicate firing.
      expect((rec.firings[1]?.firedAt ?? 0) - (rec.firings[0]?.firedAt ?? 0)).toBeGreaterThanOrEqual(150);
      expect(reported).toEqual([{ err: failure, job }]);
      await sleep(DUPLICATE_WATCH_MS);
      expect(rec.firings).toHaveLength(2);
    });

    it(`gives up after ${MAX_ATTEMPTS} attempts, and a later ensure fires the deadline again`, async () => {
      const rec = recorder(async (_job, call) => {
        if (call <= MAX_ATTEMPTS) throw new Error("always failing");
      });
      let reported = 0;
      const s = create({ retryBaseMs: 50, onError: () => reported++ });
      await s.start(rec.handler);
      const job = { sessionId: newSessionId(), key: "step3-close", dueAt: Date.now() - 1000 };
      await s.ensure([job]);
      await rec.waitFor(MAX_ATTEMPTS, 8000);
      await sleep(DUPLICATE_WATCH_MS + 800); // longer than the next backoff would be
      expect(rec.firings).toHaveLength(MAX_ATTEMPTS);
      expect(reported).toBe(MAX_ATTEMPTS);
      // The database still holds the deadline open, so the next reconciliation re-arms it.
      await s.ensure([job]);
      await rec.waitFor(MAX_ATTEMPTS + 1);
      expect(rec.firings.at(-1)?.job).toStrictEqual(job);
    });

    it("re-arms an overdue deadline ensured again after its firing finished", async () => {
      const rec = recorder();
      const s = create();
      await s.start(rec.handler);
      const job = { sessionId: newSessionId(), key: "step2-close", dueAt: Date.now() - 50 };
      await s.ensure([job]);
      await rec.waitFor(1);
      await sleep(200); // let the firing's bookkeeping settle
      await s.ensure([job]);
      await rec.waitFor(2);
      expect(rec.firings[1]?.job).toStrictEqual(job);
    });

    it("close waits for a running handler", async () => {
      let started = false;
      let finished = false;
      const s = create();
      await s.start(async () => {
        started = true;
        await sleep(500);
        finished = true;
      });
      await s.ensure([{ sessionId: newSessionId(), key: "step2-close", dueAt: Date.now() }]);
      while (!started) await sleep(5);
      await s.close();
      expect(finished).toBe(true);
    });

    it("runs one session's handlers one at a time, other sessions in parallel", async () => {
      const running = new Map<string, number>();
      let maxSameSession = 0;
      let maxOverall = 0;
      const rec = recorder(async (job) => {
        running.set(job.sessionId, (running.get(job.sessionId) ?? 0) + 1);
        maxSameSession = Math.max(maxSameSession, ...running.values());
        maxOverall = Math.max(
          maxOverall,
          [...running.values()].reduce((x, y) => x + y, 0),
        );
        await sleep(250);
        running.set(job.sessionId, (running.get(job.sessionId) ?? 1) - 1);
      });
      const s = create();
      await s.start(rec.handler);
      const [a, b] = [newSessionId(), newSessionId()];
      const dueAt = Date.now() + 100;
      await s.ensure([
        { sessionId: a, key: "step2-close", dueAt },
        { sessionId: a, key: "reminder-1", dueAt },
        { sessionId: b, key: "step2-close", dueAt },
      ]);
      await rec.waitFor(3);
      expect(maxSameSession).toBe(1);
      expect(maxOverall).toBe(2);
    });

    it("holds deadlines ensured before start and fires the due ones once started", async () => {
      const rec = recorder();
      const s = create();
      const job = { sessionId: newSessionId(), key: "step2-close", dueAt: Date.now() + 50 };
      await s.ensure([job]);
      await sleep(400);
      await s.start(rec.handler);
      await rec.waitFor(1);
      expect(rec.firings[0]?.job).toStrictEqual(job);
      expect(rec.firings[0]?.latenessMs).toBeGreaterThanOrEqual(300);
    });

    it("refuses malformed deadlines without scheduling any of the batch, naming no values", async () => {
      const rec = recorder();
      const s = create();
      await s.start(rec.handler);
      const good = { sessionId: newSessionId(), key: "step2-close", dueAt: Date.now() };
      const bad = [
        { sessionId: "", key: "k", dueAt: 1 },
        { sessionId: "s", key: "", dueAt: 1 },
        { sessionId: "s", key: "k", dueAt: Number.NaN },
        { sessionId: "s", key: "k", dueAt: 1234.5 },
      ];
      for (const b of bad) {
        const err = await s.ensure([good, b]).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(TypeError);
        expect(String((err as Error).message)).not.toMatch(/\d/);
      }
      await sleep(DUPLICATE_WATCH_MS);
      expect(rec.firings).toHaveLength(0);
    });
  });
}
