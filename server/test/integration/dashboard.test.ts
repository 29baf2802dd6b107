// The home page's live list over the socket (dashboard:open / dashboard:entry / dashboard:close): each line is the
// member's own view of the session (common/src/dashboard.ts), it follows step changes, knocks and the deal as they
// happen, a watching socket is not "online" in the session, and it never learns more than the member's session page.
import type { DashboardEntry } from "@backchannel/common";
import { describe, expect, it } from "vitest";
import { backends, Participant, useServer } from "../support/server";
import { ok, openTable, SHORT_RULES, type Table } from "./harness";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const backend of backends()) {
  describe(`dashboard on ${backend}`, () => {
    const suite = useServer(backend);

    const table = async (rules: Record<string, unknown>) => {
      const t = await openTable(suite.server, rules);
      suite.participants.push(...t.all);
      return t;
    };

    /** A second socket of the same account: the person's home page in another tab. */
    const homeOf = async (p: Participant) => {
      const home = Object.assign(new Participant(suite.server.url, `${p.name} (home)`), {
        token: p.token,
        user: p.user,
      });
      await home.connect();
      suite.participants.push(home);
      return home;
    };

    const open = async (home: Participant, sessionId: string) => {
      const ack = (await ok(home.emit("dashboard:open", {}))) as unknown as { sessions: DashboardEntry[] };
      const entry = ack.sessions.find((s) => s.id === sessionId);
      if (!entry) throw new Error("the session is not on the dashboard");
      return entry;
    };
    const entry = async (home: Participant, sessionId: string) =>
      ((await ok(home.emit("dashboard:entry", { sessionId }))) as unknown as { session: DashboardEntry })
        .session;

    /** Waits until a fresh line of the dashboard satisfies the predicate, asking again after every push. */
    const until = async (
      home: Participant,
      sessionId: string,
      pred: (e: DashboardEntry) => boolean,
      what: string,
    ) => {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const e = await entry(home, sessionId);
        if (pred(e)) return e;
        if (Date.now() > deadline) throw new Error(`dashboard never showed ${what}: ${JSON.stringify(e)}`);
        await sleep(50);
      }
    };

    const sessionPushes = (p: Participant, sessionId: string) =>
      p.pushes
        .filter((x) => x.name === "session:event")
        .map((x) => x.payload as { sessionId: string; version: number; event: { type: string } })
        .filter((x) => x.sessionId === sessionId)
        .map((x) => `${x.version}:${x.event.type}`);

    it("lists the session with its state, deadline and who has it open; follows a knock, Step 3 and the deal live", async () => {
      const t: Table = await table({ ...SHORT_RULES, step2DurationMs: 1500 });
      const mediatorHome = await homeOf(t.mediator);
      const first = await open(mediatorHome, t.sessionId);
      expect(first).toMatchObject({ status: "step2", role: "mediator", phase: "step2" });
      expect(first.nextDeadline?.kind).toBe("step2-close");
      expect(first.nextDeadline!.at).toBeGreaterThan(Date.now() - 1000);
      // Everyone at the table has the session open; the home socket itself does not count as a presence.
      expect(first.online?.map((o) => o.userId).sort()).toEqual(t.all.map((p) => p.user.id).sort());
      expect(first.needs).toEqual([]);

      // A knock is the mediator's first need, and the knocking side's own line shows it; the other side's does not.
      await ok(t.respondent.command(t.sessionId, { type: "Knock" }));
      const knocked = await until(mediatorHome, t.sessionId, (e) => e.needs.includes("knock"), "the knock");
      expect(knocked.knocks.map((k) => k.side)).toEqual(["respondent"]);
      const respondentHome = await homeOf(t.respondent);
      const claimantHome = await homeOf(t.claimant);
      expect((await open(respondentHome, t.sessionId)).knocks.map((k) => k.side)).toEqual(["respondent"]);
      const claimantLine = await open(claimantHome, t.sessionId);
      expect(claimantLine.knocks).toEqual([]);
      // Step 2 is open and the claimant has no number: that is what waits for it.
      expect(claimantLine.needs).toEqual(["number"]);
      await ok(t.mediator.command(t.sessionId, { type: "SetMediatorLocation", location: "with_respondent" }));
      await until(mediatorHome, t.sessionId, (e) => e.knocks.length === 0, "the knock answered");

      // Step 2 closes with no numbers: the home sockets receive the step change and the line says Step 3.
      await t.claimant.waitFor((e) => e.type === "Step3Opened", 10_000);
      const step3 = await until(mediatorHome, t.sessionId, (e) => e.status === "step3", "Step 3");
      expect(step3.nextDeadline?.kind).toBe("step3-close");
      expect(sessionPushes(mediatorHome, t.sessionId)).toContain(
        sessionPushes(t.mediator, t.sessionId).find((s) => s.endsWith(":Step3Opened")),
      );

      // Someone closes the session page: the watching sockets are told who is still there.
      t.claimantClient.close();
      const deadline = Date.now() + 5_000;
      for (;;) {
        const last = [...mediatorHome.pushes].reverse().find((p) => p.name === "session:presence");
        const online = (last?.payload as { online: Array<{ userId: string }> } | undefined)?.online ?? [];
        if (online.length === 3 && !online.some((o) => o.userId === t.claimantClient.user.id)) break;
        if (Date.now() > deadline) throw new Error("the home socket was never told of the departure");
        await sleep(20);
      }

      // The deal: the line says so (not just "ended"), nothing waits, no deadline.
      await ok(t.claimant.command(t.sessionId, { type: "SetNumber", amount: 100_000_00 }));
      await ok(t.respondent.command(t.sessionId, { type: "SetNumber", amount: 100_000_00 }));
      for (const home of [mediatorHome, claimantHome, respondentHome]) {
        const done = await until(home, t.sessionId, (e) => e.status === "deal", "the deal");
        expect(done).toMatchObject({ phase: "ended", needs: [], nextDeadline: null, knocks: [] });
        expect(done.endedAt).not.toBeNull();
      }

      // GET /api/sessions serves the same lines (without presence, which only the socket layer knows).
      const listed = await t.claimant.http("GET", "/api/sessions");
      const line = (listed.body as { sessions: DashboardEntry[] }).sessions.find((s) => s.id === t.sessionId);
      expect(line).toMatchObject({ status: "deal", phase: "ended", role: "claimant" });
      expect(line && "online" in line).toBe(false);
    });

    it("tells a withdrawal from a deal, and stops pushing after dashboard:close", async () => {
      const t = await table({ ...SHORT_RULES, step2DurationMs: 60_000, maxSessionMs: 120_000 });
      // Closing the dashboard never takes a session page's room away from a socket that has both open.
      const both = await homeOf(t.respondent);
      await ok(both.emit("session:open", { sessionId: t.sessionId }));
      await open(both, t.sessionId);
      await ok(both.emit("dashboard:close", {}));
      await ok(t.mediator.command(t.sessionId, { type: "SetMediatorLocation", location: "joint" }));
      await both.waitFor((e) => e.type === "MediatorLocationSet");
      const home = await homeOf(t.claimant);
      await open(home, t.sessionId);
      await ok(home.emit("dashboard:close", {}));
      const before = sessionPushes(home, t.sessionId).length;
      await ok(t.claimant.command(t.sessionId, { type: "Withdraw" }));
      await t.respondent.waitFor((e) => e.type === "SessionEnded");
      await sleep(200);
      expect(sessionPushes(home, t.sessionId).length).toBe(before);
      expect(await entry(home, t.sessionId)).toMatchObject({ status: "withdrawn", phase: "ended" });
    });

    it("never learns more than the member's session page: the same pushes, and a hidden act leaves the line unchanged", async () => {
      const t = await table({ ...SHORT_RULES, step2DurationMs: 60_000, maxSessionMs: 120_000 });
      const respondentHome = await homeOf(t.respondent);
      await open(respondentHome, t.sessionId);
      const before = await entry(respondentHome, t.sessionId);
      const pushesBefore = sessionPushes(respondentHome, t.sessionId).length;
      // Acts the respondent's side never sees: the claimant's own side room, and the claimant's Step 2 number
      // (whose "entered" flag is public, but whose amount and timing of later changes are not).
      await ok(
        t.claimant.command(t.sessionId, { type: "PostMessage", room: "side:claimant", text: "our floor" }),
      );
      await ok(t.claimant.command(t.sessionId, { type: "SetNumber", amount: 250_000_00 }));
      await ok(t.mediator.command(t.sessionId, { type: "SetMediatorLocation", location: "joint" }));
      await t.respondent.waitFor((e) => e.type === "MediatorLocationSet");
      await sleep(200);
      // The home socket received exactly what the session page received, in the same stream positions.
      const page = sessionPushes(t.respondent, t.sessionId);
      const homePushes = sessionPushes(respondentHome, t.sessionId);
      expect(homePushes.slice(pushesBefore)).toEqual(
        page.slice(page.length - homePushes.slice(pushesBefore).length),
      );
      expect(homePushes.slice(pushesBefore).some((s) => s.endsWith(":MessagePosted"))).toBe(false);
      const after = await entry(respondentHome, t.sessionId);
      // Only what the respondent's own stream saw moved: the mediator's move (its time), never the claimant's acts.
      const { updatedAt: _a, version: _va, online: _oa, ...restAfter } = after;
      const { updatedAt: _b, version: _vb, online: _ob, ...restBefore } = before;
      expect(restAfter).toEqual(restBefore);
      expect(JSON.stringify(respondentHome.pushes)).not.toContain("25000000");
      expect(JSON.stringify(respondentHome.pushes)).not.toContain("our floor");
    });

    it("refuses what is not the caller's: another's session, a malformed payload", async () => {
      const t = await table({ ...SHORT_RULES, step2DurationMs: 60_000, maxSessionMs: 120_000 });
      const stranger = await new Participant(suite.server.url, "Stranger").signUp();
      await stranger.connect();
      suite.participants.push(stranger);
      expect(await stranger.emit("dashboard:entry", { sessionId: t.sessionId })).toMatchObject({
        ok: false,
        code: "SESSION_NOT_FOUND",
      });
      expect(await stranger.emit("dashboard:open", { extra: 1 })).toMatchObject({
        ok: false,
        code: "INVALID_INPUT",
      });
      const listed = (await ok(stranger.emit("dashboard:open", {}))) as unknown as { sessions: unknown[] };
      expect(listed.sessions).toEqual([]);
    });
  });
}
