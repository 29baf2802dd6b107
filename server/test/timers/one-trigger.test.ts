// One trigger per session, at its next deadline: every command and every tick moves the session's single trigger
// (key "next") to its next deadline; it never asks for one per deadline row. Re-arming from the database hands over
// one trigger per session too. On the embedded node (PGlite + in-process scheduler).
import { nextDeadline } from "@backchannel/common";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../../src/server";
import { NEXT_DEADLINE_TRIGGER } from "../../src/sessions/commands";
import type { DeadlineJob } from "../../src/timers/scheduler";
import { accept, invite, ok, openTable } from "../integration/harness";
import { createStorage, Participant, type Storage, startOn } from "../support/server";

describe("one trigger per session, at its next deadline (PGlite + in-process)", () => {
  let storage: Storage;
  let server: RunningServer;
  const ensured: DeadlineJob[][] = [];
  const cancelled: string[] = [];

  beforeAll(async () => {
    storage = await createStorage("embedded");
    server = await startOn(storage);
    const { scheduler } = server;
    const ensure = scheduler.ensure.bind(scheduler);
    const cancel = scheduler.cancelSession.bind(scheduler);
    scheduler.ensure = (jobs) => {
      ensured.push(jobs);
      return ensure(jobs);
    };
    scheduler.cancelSession = (sessionId, keep) => {
      cancelled.push(sessionId);
      return cancel(sessionId, keep);
    };
  });

  afterAll(async () => {
    await server?.close();
    await storage?.dispose();
  });

  it("moves the session's single trigger with each commit and tick, through to the end", async () => {
    const t = await openTable(server, {
      step2DurationMs: 1200,
      step3DurationMs: 1500,
      maxSessionMs: 20_000,
      proposalConsentMs: 3000,
      proposalAnswerMs: 3000,
    });
    try {
      const mine = () => ensured.filter((jobs) => jobs.some((j) => j.sessionId === t.sessionId));
      // Step 2 is open: reminders and the close are open deadlines, but there is one trigger, at the earliest.
      const state = (await server.sessions.reads.read(t.sessionId)) as Parameters<typeof nextDeadline>[0];
      const next = nextDeadline(state);
      expect(next).not.toBeNull();
      const last = mine().at(-1) as DeadlineJob[];
      expect(last).toEqual([{ sessionId: t.sessionId, key: NEXT_DEADLINE_TRIGGER, dueAt: next?.at }]);
      await ok(t.claimant.command(t.sessionId, { type: "SetNumber", amount: 10_000_000 }));

      // Step 2 closes (no deal: the respondent never entered a number), Step 3 closes, the session ends.
      await t.mediator.waitFor((e) => e.type === "Step3Opened", 5000);
      await t.mediator.waitFor((e) => e.type === "SessionEnded", 5000);
      await server.sessions.commands.drain();
      for (const jobs of mine()) {
        expect(jobs).toHaveLength(1);
        expect(jobs[0]?.key).toBe(NEXT_DEADLINE_TRIGGER);
      }
      // Each moment the session changed by itself moved the trigger; the end dropped it.
      expect(new Set(mine().map((jobs) => jobs[0]?.dueAt)).size).toBeGreaterThanOrEqual(3);
      expect(cancelled).toContain(t.sessionId);
      // Nothing is left to re-arm for it.
      expect(await server.sessions.commands.reconcileDeadlines()).toBe(0);
    } finally {
      for (const p of t.all) p.close();
    }
  });

  it("re-arming from the database hands over one trigger per session, at its earliest deadline", async () => {
    const a = await openTable(server, { step2DurationMs: 600_000, maxSessionMs: 3_600_000 });
    const b = await openTable(server, { step2DurationMs: 900_000, maxSessionMs: 3_600_000 });
    try {
      ensured.length = 0;
      expect(await server.sessions.commands.reconcileDeadlines()).toBe(2);
      const jobs = ensured.flat();
      expect(jobs.map((j) => j.sessionId).sort()).toEqual([a.sessionId, b.sessionId].sort());
      for (const j of jobs) {
        const state = (await server.sessions.reads.read(j.sessionId)) as Parameters<typeof nextDeadline>[0];
        expect(j).toEqual({
          sessionId: j.sessionId,
          key: NEXT_DEADLINE_TRIGGER,
          dueAt: nextDeadline(state)?.at,
        });
      }
    } finally {
      for (const p of [...a.all, ...b.all]) p.close();
    }
  });

  it("only the end withdraws a trigger: a session left without a deadline in setup keeps its own", async () => {
    // Two commits on two nodes may reach the scheduler in either order: a withdrawal for a commit that left no
    // deadline, arriving after the ensure of a newer commit that set one again, would remove the real trigger.
    const claimant = await new Participant(server.url, "Claimant Attorney").signUp();
    const respondent = await new Participant(server.url, "Respondent Adjuster").signUp();
    const created = await claimant.http("POST", "/api/sessions", {
      title: "Smith v. Acme",
      creatorRole: "claimant",
      startAt: Date.now() + 3_600_000,
    });
    expect(created.status).toBe(201);
    const sessionId = (created.body as { view: { id: string } }).view.id;
    await accept(respondent, await invite(claimant, sessionId, "respondent"));
    try {
      const mine = () => ensured.filter((jobs) => jobs.some((j) => j.sessionId === sessionId)).flat();
      for (const p of [claimant, respondent]) {
        await p.connect();
        await ok(p.command(sessionId, { type: "SkipTerms" }));
      }
      await server.sessions.commands.drain();
      // Both skipped: Step 2's start is the session's deadline.
      const startAt = (mine().at(-1) as DeadlineJob).dueAt;
      // A new start withdraws the skips: no deadline until both skip again. Nothing is withdrawn from the scheduler.
      await ok(claimant.command(sessionId, { type: "UpdateSetup", startAt: startAt + 60_000 }));
      await server.sessions.commands.drain();
      const unready = (await server.sessions.reads.read(sessionId)) as Parameters<typeof nextDeadline>[0];
      expect(nextDeadline(unready)).toBeNull();
      expect(cancelled).not.toContain(sessionId);
      for (const p of [claimant, respondent]) await ok(p.command(sessionId, { type: "SkipTerms" }));
      await server.sessions.commands.drain();
      expect(mine().map((j) => j.dueAt)).toEqual([startAt, startAt + 60_000]);
      // The end withdraws it.
      await ok(claimant.command(sessionId, { type: "Cancel" }));
      await server.sessions.commands.drain();
      expect(cancelled).toContain(sessionId);
    } finally {
      claimant.close();
      respondent.close();
    }
  });
});
