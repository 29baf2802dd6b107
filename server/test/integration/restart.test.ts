// Stop the server mid-session and start it again on the same storage: state intact, a deadline that passed
// while it was down fires at start-up, and clients resync by version.
import { afterAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../../src/server";
import { backends, createStorage, Participant, type Storage, startOn } from "../support/server";
import { ok, openTable, SHORT_RULES } from "./harness";

for (const backend of backends()) {
  describe(`restart on ${backend}`, () => {
    let storage: Storage;
    const servers: RunningServer[] = [];
    afterAll(async () => {
      for (const s of servers) await s.close();
      await storage?.dispose();
    });

    it("keeps state, fires the overdue Step 2 deadline at start-up, and lets clients resync", async () => {
      storage = await createStorage(backend);
      const first = await startOn(storage);
      servers.push(first);
      const t = await openTable(first, { ...SHORT_RULES, step2DurationMs: 1500 });
      await ok(t.claimant.command(t.sessionId, { type: "SetNumber", amount: 73_914_205 }));
      await ok(t.respondent.command(t.sessionId, { type: "SetNumber", amount: 81_234_567 }));
      // The mediator's own stream position: the last push it saw (the respondent's NumberSet).
      const numberSet = await t.mediator.waitFor((e) => e.type === "NumberSet" && e.side === "respondent");
      const seenVersion = (numberSet.payload as { version: number }).version;
      for (const p of t.all) p.close();
      await first.close();

      // Down across the Step 2 deadline.
      await new Promise((r) => setTimeout(r, 2000));

      const second = await startOn(storage);
      servers.push(second);
      const mediator = Object.assign(new Participant(second.url, "Mediator"), {
        token: t.mediator.token,
        user: t.mediator.user,
      });
      // The overdue deadline fires at start-up: wait for the deal to be stored.
      let view: { phase: string; outcome: string; deal: { amount: number } | null } | undefined;
      for (let i = 0; i < 100; i++) {
        const r = await mediator.http("GET", `/api/sessions/${t.sessionId}`);
        view = (r.body as { view: typeof view }).view;
        if (view?.phase === "ended") break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(view?.outcome).toBe("deal");
      expect(view?.deal?.amount).toBeGreaterThanOrEqual(73_914_205);
      expect(view?.deal?.amount).toBeLessThanOrEqual(81_234_567);

      // A client that last saw `seenVersion` resyncs by version and gets exactly what it missed.
      await mediator.connect();
      const sync = (await ok(
        mediator.emit("sync", { sessionId: t.sessionId, sinceVersion: seenVersion }),
      )) as unknown as {
        version: number;
        events: Array<{ version: number; event: { type: string } }>;
      };
      expect(sync.events.map((e) => e.event.type)).toEqual(["Step2Closed", "DealMade", "SessionEnded"]);
      expect(sync.events[0]?.version).toBe(seenVersion + 1);
      expect(JSON.stringify(sync)).not.toContain("73914205");
      mediator.close();

      // Everything from before the restart is intact: the claimant's own number and the audit chain.
      const claimant = Object.assign(new Participant(second.url, "Claimant"), {
        token: t.claimant.token,
        user: t.claimant.user,
      });
      const own = await claimant.http("GET", `/api/sessions/${t.sessionId}/number`);
      expect((own.body as { own: { amount: number } }).own.amount).toBe(73_914_205);
      const audit = await claimant.http("GET", `/api/sessions/${t.sessionId}/audit`);
      const { verifyAuditExport } = await import("../../src/store/audit");
      const key = (await claimant.http("GET", "/api/audit/key")).body as { pem: string };
      // Signed by the same key before and after the restart (it lives in the data folder). Each commit's last push
      // carries its head; a client keeps those.
      const heads = t.claimant.pushes
        .filter((x) => x.name === "session:event")
        .flatMap((x) => {
          const { head } = x.payload as { head?: unknown };
          return head ? [head] : [];
        });
      expect(heads.length).toBeGreaterThan(0);
      expect(verifyAuditExport(audit.body, { savedHeads: heads, publicKeyPem: key.pem })).toMatchObject({
        ok: true,
        savedHeadsChecked: heads.length,
      });
      // A second start of an embedded database opens (and fsyncs) its data folder: seconds on a busy machine.
    }, 60_000);
  });
}
