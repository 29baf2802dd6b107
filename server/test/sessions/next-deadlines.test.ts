// The stored deadlines as the scheduler's re-arm reads them (SessionRepository.nextDeadlines): each session's earliest
// deadline, all of them at start-up, or only the sessions with one due by a time (the worker's sweep), earliest first.
import { expect, it } from "vitest";
import { SessionRepository } from "../../src/sessions/repository";
import { createSession, MASTER_KEY } from "../store/fixtures";
import { describeBackends } from "../support/db";

describeBackends("the next deadline of each session", ({ db }) => {
  it("lists each session once, at its earliest deadline; with a time, only the sessions with one due by then", async () => {
    const [a, b, c] = [await createSession(db()), await createSession(db()), await createSession(db())];
    const rows: Array<[string, string, number]> = [
      [a.sessionId, "reminder-claimant-0", 1_000],
      [a.sessionId, "step2-close", 5_000],
      [b.sessionId, "proposal-expiry", 3_000],
      [b.sessionId, "step3-close", 4_000],
      [c.sessionId, "step2-open", 10_000],
    ];
    for (const [sessionId, key, dueAt] of rows)
      await db().query("INSERT INTO deadlines (session_id, key, kind, due_at) VALUES ($1, $2, $3, $4)", [
        sessionId,
        key,
        key.replace(/-claimant-0$/, ""),
        dueAt,
      ]);
    const repo = new SessionRepository(db(), MASTER_KEY);
    const mine = (list: Array<{ sessionId: string; dueAt: number }>) =>
      list.filter((d) => [a, b, c].some((s) => s.sessionId === d.sessionId));

    expect(mine(await repo.nextDeadlines())).toEqual([
      { sessionId: a.sessionId, dueAt: 1_000 },
      { sessionId: b.sessionId, dueAt: 3_000 },
      { sessionId: c.sessionId, dueAt: 10_000 },
    ]);
    // Due by 3,500: a (its earliest, 1,000, though its Step 2 close is later) and b; not c.
    expect(mine(await repo.nextDeadlines(3_500))).toEqual([
      { sessionId: a.sessionId, dueAt: 1_000 },
      { sessionId: b.sessionId, dueAt: 3_000 },
    ]);
    expect(mine(await repo.nextDeadlines(3_000))).toHaveLength(2); // due at exactly that time counts
    expect(mine(await repo.nextDeadlines(999))).toEqual([]);
  });
});
