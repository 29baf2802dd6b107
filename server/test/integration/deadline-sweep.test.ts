// The database holds every deadline; the scheduler is only a trigger. If a trigger is lost (a job that failed all
// its retries, a flushed Redis), the worker's periodic sweep re-arms it from the database and the step still closes.
import { describe, expect, it } from "vitest";
import { backendLabel, backends, useServer } from "../support/server";
import { ok, openTable, SHORT_RULES } from "./harness";

for (const backend of backends()) {
  describe(`deadline sweep on ${backendLabel(backend)}`, () => {
    const suite = useServer(backend, { DEADLINE_SWEEP_MS: "200" });

    it("closes Step 2 even when its scheduled trigger was lost", async () => {
      const t = await openTable(suite.server, { ...SHORT_RULES, step2DurationMs: 1000 });
      suite.participants.push(...t.all);
      await ok(t.claimant.command(t.sessionId, { type: "SetNumber", amount: 73_914_205 }));
      await ok(t.respondent.command(t.sessionId, { type: "SetNumber", amount: 81_234_567 }));
      // Lose every trigger of this session; its deadline rows stay in the database.
      await suite.server.scheduler.cancelSession(t.sessionId);
      const deal = await t.mediator.waitFor((e) => e.type === "DealMade", 5000);
      expect((deal.payload as { event: { source: string } }).event.source).toBe("step2");
    });
  });
}
