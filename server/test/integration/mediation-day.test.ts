// The traditional mediation day around the confidential numbers: presence, where the mediator is, knocks,
// rooms with explicit audiences, the conveyed-offer ledger, reminders, and the operational endpoints.
import { describe, expect, it } from "vitest";
import { backends, Participant, useServer } from "../support/server";
import { ok, openTable, SHORT_RULES } from "./harness";

for (const backend of backends()) {
  describe(`mediation day on ${backend}`, () => {
    const suite = useServer(backend);

    const table = async (rules?: Record<string, unknown>) => {
      const t = await openTable(
        suite.server,
        rules ?? { ...SHORT_RULES, step2DurationMs: 60_000, maxSessionMs: 120_000 },
      );
      suite.participants.push(...t.all);
      return t;
    };

    it("shows who is connected, and updates when someone leaves", async () => {
      const t = await table();
      const online = async (minCount: number) => {
        for (let i = 0; i < 100; i++) {
          const last = [...t.mediator.pushes].reverse().find((p) => p.name === "session:presence");
          const list = (last?.payload as { online: Array<{ userId: string }> } | undefined)?.online ?? [];
          if (list.length === minCount) return list;
          await new Promise((r) => setTimeout(r, 20));
        }
        throw new Error("presence never reached the expected count");
      };
      expect((await online(4)).map((o) => o.userId).sort()).toEqual(t.all.map((p) => p.user.id).sort());
      t.claimantClient.close();
      expect(await online(3)).not.toContainEqual(
        expect.objectContaining({ userId: t.claimantClient.user.id }),
      );
    });

    it("serves clients on HTTP long-polling (Socket.IO's default first transport) as well as WebSocket", async () => {
      const t = await table();
      const polling = Object.assign(new Participant(suite.server.url, "Polling Claimant"), {
        token: t.claimant.token,
        user: t.claimant.user,
      });
      await polling.connect({ transports: ["polling"] });
      await ok(polling.emit("session:open", { sessionId: t.sessionId }));
      await ok(
        polling.command(t.sessionId, { type: "PostMessage", room: "side:claimant", text: "over polling" }),
      );
      await polling.waitFor((e) => e.type === "MessagePosted");
      polling.close();
      expect((await fetch(`${suite.server.url}/healthz`)).status).toBe(200);
    });

    it("tells the parties where the mediator is, and lets a party knock", async () => {
      const t = await table();
      const until = Date.now() + 15 * 60_000;
      await ok(
        t.mediator.command(t.sessionId, {
          type: "SetMediatorLocation",
          location: "with_claimant",
          until,
          note: null,
        }),
      );
      for (const p of [t.claimant, t.respondent]) {
        const ev = await p.waitFor((e) => e.type === "MediatorLocationSet");
        expect((ev.payload as { event: { location: string; until: number } }).event).toMatchObject({
          location: "with_claimant",
          until,
        });
      }
      await ok(t.respondent.command(t.sessionId, { type: "Knock" }));
      await t.mediator.waitFor((e) => e.type === "MediatorRequested");
      // A party can't move the mediator.
      expect(
        await t.claimant.command(t.sessionId, {
          type: "SetMediatorLocation",
          location: "joint",
          until: null,
          note: null,
        }),
      ).toMatchObject({ ok: false, code: "WRONG_ROLE" });
    });

    it("delivers each room's messages to its audience only, and keeps the joint room closed until opened", async () => {
      const t = await table();
      expect(
        await t.claimant.command(t.sessionId, { type: "PostMessage", room: "joint", text: "Hello all" }),
      ).toMatchObject({
        ok: false,
        code: "ROOM_CLOSED",
      });
      await ok(t.mediator.command(t.sessionId, { type: "OpenJointRoom" }));
      await ok(t.claimant.command(t.sessionId, { type: "PostMessage", room: "joint", text: "Joint hello" }));
      await ok(
        t.claimant.command(t.sessionId, {
          type: "PostMessage",
          room: "caucus:claimant",
          text: "Caucus secret",
        }),
      );
      await ok(
        t.claimant.command(t.sessionId, {
          type: "PostMessage",
          room: "side:claimant",
          text: "Side-only secret",
        }),
      );
      await t.claimantClient.waitFor((e) => e.type === "MessagePosted" && e.text === "Side-only secret");
      await t.mediator.waitFor((e) => e.type === "MessagePosted" && e.text === "Caucus secret");
      await t.respondent.waitFor((e) => e.type === "MessagePosted" && e.text === "Joint hello");
      await new Promise((r) => setTimeout(r, 200));
      const text = (p: { pushes: unknown[] }) => JSON.stringify(p.pushes);
      expect(text(t.respondent)).not.toContain("Caucus secret");
      expect(text(t.respondent)).not.toContain("Side-only secret");
      expect(text(t.mediator)).not.toContain("Side-only secret");
      // The respondent can't write into the claimant's rooms.
      expect(
        await t.respondent.command(t.sessionId, { type: "PostMessage", room: "caucus:claimant", text: "hi" }),
      ).toMatchObject({ ok: false });
      // Snapshots filter by audience too.
      const view = await t.respondent.http("GET", `/api/sessions/${t.sessionId}`);
      expect(view.text).toContain("Joint hello");
      expect(view.text).not.toContain("Caucus secret");
    });

    it("keeps the conveyed-offer ledger, separate from the confidential numbers", async () => {
      const t = await table();
      await ok(
        t.mediator.command(t.sessionId, {
          type: "RecordConveyed",
          from: "respondent",
          amount: 1_000_000,
          note: "Opening offer",
          counters: null,
        }),
      );
      const recorded = await t.claimant.waitFor((e) => e.type === "LedgerItemRecorded");
      const itemId = (recorded.payload as { event: { itemId: string } }).event.itemId;
      await ok(
        t.mediator.command(t.sessionId, {
          type: "RecordBracket",
          from: "claimant",
          ourAmount: 5_000_000,
          theirAmount: 3_000_000,
          note: null,
          counters: itemId,
        }),
      );
      // Drafted with the mediator, the claimant's bracket is not the respondent's to see yet.
      const bracket = await t.claimantClient.waitFor(
        (e) =>
          e.type === "LedgerItemRecorded" &&
          (e as unknown as { item: { kind: string } }).item.kind === "bracket",
      );
      const bracketId = (bracket.payload as { event: { itemId: string } }).event.itemId;
      const draftView = await t.respondent.http("GET", `/api/sessions/${t.sessionId}`);
      expect(draftView.text).not.toContain(bracketId);
      expect(JSON.stringify(t.respondent.pushes)).not.toContain(bracketId);
      await ok(
        t.mediator.command(t.sessionId, { type: "UpdateLedgerItem", itemId: bracketId, state: "conveyed" }),
      );
      const conveyed = await t.respondent.waitFor(
        (e) => e.type === "LedgerItemUpdated" && e.itemId === bracketId,
      );
      const details = (conveyed.payload as { event: { details: { item: { ourAmount: number } } } }).event
        .details;
      expect(details.item.ourAmount).toBe(5_000_000);
      await ok(
        t.mediator.command(t.sessionId, { type: "UpdateLedgerItem", itemId: bracketId, state: "accepted" }),
      );
      const view = await t.respondent.http("GET", `/api/sessions/${t.sessionId}`);
      const ledger = (
        view.body as { view: { ledger: Array<{ itemId: string; state: string; item: { kind: string } }> } }
      ).view.ledger;
      expect(ledger.find((i) => i.itemId === itemId)?.state).toBe("countered");
      expect(ledger.find((i) => i.itemId === bracketId)?.state).toBe("accepted");
      // Accepting a bracket turns X and Y into conveyed positions.
      expect(ledger.filter((i) => i.item.kind === "conveyed")).toHaveLength(3);
      // Only a mediator keeps the ledger.
      expect(
        await t.claimant.command(t.sessionId, {
          type: "RecordConveyed",
          from: "claimant",
          amount: 1,
          note: null,
          counters: null,
        }),
      ).toMatchObject({ ok: false, code: "WRONG_ROLE" });
    });

    it("reminds a side without a number before Step 2 closes (scaled down for a short step)", async () => {
      const t = await table({ ...SHORT_RULES, step2DurationMs: 2000 });
      await ok(t.claimant.command(t.sessionId, { type: "SetNumber", amount: 73_914_205 }));
      const reminder = await t.respondent.waitFor((e) => e.type === "ReminderDue", 3000);
      expect((reminder.payload as { event: { side: string } }).event.side).toBe("respondent");
      await new Promise((r) => setTimeout(r, 300));
      // The claimant entered a number: no reminder for it, and nobody else learns of the respondent's reminder.
      for (const p of [t.claimant, t.mediator]) {
        expect(p.pushes.some((x) => JSON.stringify(x).includes("ReminderDue"))).toBe(false);
      }
    });

    it("serves /healthz, /readyz, and Prometheus /metrics on the metrics listener, without any number in them", async () => {
      const t = await table();
      await ok(t.claimant.command(t.sessionId, { type: "SetNumber", amount: 73_914_205 }));
      const health = await fetch(`${suite.server.url}/healthz`);
      expect(health.status).toBe(200);
      const ready = await fetch(`${suite.server.url}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ ok: true });
      expect((await fetch(`${suite.server.url}/metrics`)).status).toBe(404);
      const metrics = await (await fetch(`${suite.server.metricsUrl}/metrics`)).text();
      expect(metrics).toContain("backchannel_commands_total");
      expect(metrics).toMatch(
        /backchannel_commands_total\{[^}]*type="SetNumber"[^}]*outcome="ok"[^}]*\} [1-9]/,
      );
      expect(metrics).toContain("backchannel_command_duration_seconds_bucket");
      expect(metrics).toContain("backchannel_deadline_lateness_seconds");
      expect(metrics).toContain("backchannel_sockets");
      expect(metrics).not.toContain("73914205");
    });
  });
}
