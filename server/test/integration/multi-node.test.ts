// Two web nodes and one worker sharing PostgreSQL and Redis: pushes and presence cross nodes through the Redis adapter,
// deadlines fire from the worker, and two nodes racing on one session still make exactly one deal.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../../src/server";
import { backends, createStorage, Participant, type Storage, startOn } from "../support/server";
import { accept, invite, ok } from "./harness";

const servicesAvailable = backends().includes("services");

describe.runIf(servicesAvailable)("several nodes on PostgreSQL + Redis", () => {
  let storage: Storage;
  let webA: RunningServer;
  let webB: RunningServer;
  let worker: RunningServer;
  const people: Participant[] = [];

  beforeAll(async () => {
    storage = await createStorage("services");
    webA = await startOn(storage, { ROLE: "web" });
    webB = await startOn(storage, { ROLE: "web" });
    worker = await startOn(storage, { ROLE: "worker" });
  });
  afterAll(async () => {
    for (const p of people) p.close();
    for (const s of [webA, webB, worker]) await s?.close();
    await storage?.dispose();
  });

  /** Claimant and mediator on node A, respondent on node B. */
  async function crossNodeSession(rules: Record<string, unknown>) {
    const claimant = await new Participant(webA.url, "Claimant").signUp();
    const mediator = await new Participant(webA.url, "Mediator").signUp();
    const respondentOnA = await new Participant(webA.url, "Respondent").signUp();
    const created = await claimant.http("POST", "/api/sessions", {
      title: "Cross-node",
      creatorRole: "claimant",
      rules,
    });
    const sessionId = (created.body as { view: { id: string } }).view.id;
    await accept(respondentOnA, await invite(claimant, sessionId, "respondent"));
    await accept(mediator, await invite(claimant, sessionId, "mediator"));
    const respondent = Object.assign(new Participant(webB.url, "Respondent"), {
      token: respondentOnA.token,
      user: respondentOnA.user,
    });
    for (const p of [claimant, mediator, respondent]) {
      people.push(p);
      await p.connect();
      await ok(p.emit("session:open", { sessionId }));
    }
    await ok(claimant.command(sessionId, { type: "SkipTerms" }));
    await ok(respondent.command(sessionId, { type: "SkipTerms" }));
    return { sessionId, claimant, mediator, respondent };
  }

  it("pushes across nodes and fires the Step 2 deadline from the worker node", async () => {
    const t = await crossNodeSession({ step2DurationMs: 700, step3DurationMs: 5000, maxSessionMs: 20_000 });
    await t.respondent.waitFor((e) => e.type === "Step2Opened"); // committed on A, pushed on B
    await ok(t.claimant.command(t.sessionId, { type: "SetNumber", amount: 73_914_205 }));
    await ok(t.respondent.command(t.sessionId, { type: "SetNumber", amount: 81_234_567 }));
    const deals = await Promise.all(
      [t.claimant, t.mediator, t.respondent].map((p) => p.waitFor((e) => e.type === "DealMade", 5000)),
    );
    expect(new Set(deals.map((d) => (d.payload as { event: { amount: number } }).event.amount)).size).toBe(1);
  });

  it("presence counts the people on every node, and follows one who leaves on the other node", async () => {
    const t = await crossNodeSession({
      step2DurationMs: 60_000,
      step3DurationMs: 120_000,
      maxSessionMs: 600_000,
    });
    // The mediator is on A; the respondent, on B, is found through the adapter's cross-node query.
    const online = async (count: number) => {
      for (let i = 0; i < 200; i++) {
        const last = [...t.mediator.pushes].reverse().find((p) => p.name === "session:presence");
        const list = (last?.payload as { online: Array<{ userId: string }> } | undefined)?.online ?? [];
        if (list.length === count) return list.map((o) => o.userId).sort();
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`presence never reached ${count}`);
    };
    const everyone = [t.claimant, t.mediator, t.respondent].map((p) => p.user.id).sort();
    expect(await online(3)).toEqual(everyone);
    t.respondent.close();
    expect(await online(2)).toEqual([t.claimant.user.id, t.mediator.user.id].sort());
  });

  it("a session that ends without a deal leaves no plaintext state on any node (issue 6 point 5)", async () => {
    const t = await crossNodeSession({
      step2DurationMs: 60_000,
      step3DurationMs: 120_000,
      maxSessionMs: 600_000,
    });
    await t.claimant.waitFor((e) => e.type === "Step2Opened");
    // Each node holds the session's state (with the numbers) after a command it ran itself.
    await ok(t.claimant.command(t.sessionId, { type: "SetNumber", amount: 73_914_205 }));
    await ok(t.respondent.command(t.sessionId, { type: "SetNumber", amount: 81_234_567 }));
    expect(webA.sessions.holdsState(t.sessionId)).toBe(true);
    expect(webB.sessions.holdsState(t.sessionId)).toBe(true);
    // Node A ends it without a deal: its key is destroyed, and node B must drop its copy too.
    await ok(t.claimant.command(t.sessionId, { type: "Withdraw" }));
    await t.respondent.waitFor((e) => e.type === "SessionEnded");
    const deadline = Date.now() + 2000;
    while (webB.sessions.holdsState(t.sessionId) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    expect(webA.sessions.holdsState(t.sessionId)).toBe(false);
    expect(webB.sessions.holdsState(t.sessionId)).toBe(false);
  });

  it("makes exactly one deal when both sides match at once on different nodes", async () => {
    const t = await crossNodeSession({ step2DurationMs: 300, step3DurationMs: 10_000, maxSessionMs: 20_000 });
    await t.claimant.command(t.sessionId, { type: "SetNumber", amount: 90_000_001 });
    await t.respondent.command(t.sessionId, { type: "SetNumber", amount: 10_000_001 });
    await t.mediator.waitFor((e) => e.type === "Step3Opened", 5000);
    // Both move to a matching number at the same moment, one through each node.
    const [a, b] = await Promise.all([
      t.claimant.command(t.sessionId, { type: "SetNumber", amount: 50_000_001 }),
      t.respondent.command(t.sessionId, { type: "SetNumber", amount: 60_000_001 }),
    ]);
    await t.mediator.waitFor((e) => e.type === "DealMade", 5000);
    await new Promise((r) => setTimeout(r, 300));
    // The row lock serialises them: whichever commits second sees the first one's number and makes the deal.
    // Deciding both against the same stale state would make no deal at all (or two).
    expect([a.ok, b.ok]).toEqual([true, true]);
    const events = await t.mediator.http("GET", `/api/sessions/${t.sessionId}/events?since=0`);
    const all = (events.body as { events: Array<{ event: { type: string } }> }).events;
    expect(all.filter((e) => e.event.type === "DealMade")).toHaveLength(1);
    expect(t.mediator.pushes.filter((p) => JSON.stringify(p).includes('"DealMade"'))).toHaveLength(1);
  });

  it("a node whose copy of a session went stale (the other node moved it) still decides on the stored session", async () => {
    const t = await crossNodeSession({ step2DurationMs: 300, step3DurationMs: 10_000, maxSessionMs: 20_000 });
    await t.claimant.command(t.sessionId, { type: "SetNumber", amount: 90_000_001 });
    await t.respondent.command(t.sessionId, { type: "SetNumber", amount: 10_000_001 });
    await t.mediator.waitFor((e) => e.type === "Step3Opened", 5000);
    // Node A commits, then node B moves the session on: A's copy (what it committed last) is now stale.
    await ok(t.claimant.command(t.sessionId, { type: "SetNumber", amount: 80_000_001 }));
    await ok(t.respondent.command(t.sessionId, { type: "SetNumber", amount: 20_000_002 }));
    // On A again, a number that crosses only B's latest offer: decided on A's stale copy it would make no deal; the
    // write's guard refuses the stale copy and the command runs again on the stored session, which makes the deal.
    await ok(t.claimant.command(t.sessionId, { type: "SetNumber", amount: 20_000_001 }));
    const deal = await t.mediator.waitFor((e) => e.type === "DealMade", 5000);
    expect((deal.payload as { event: { amount: number } }).event.amount).toBeGreaterThanOrEqual(20_000_001);
    const events = await t.mediator.http("GET", `/api/sessions/${t.sessionId}/events?since=0`);
    const all = (events.body as { events: Array<{ event: { type: string } }> }).events;
    expect(all.filter((e) => e.event.type === "DealMade")).toHaveLength(1);
  });

  it("never refuses on a stale copy: an invitation issued on one node is accepted on the other", async () => {
    const t = await crossNodeSession({
      step2DurationMs: 60_000,
      step3DurationMs: 120_000,
      maxSessionMs: 600_000,
    });
    // Node B ran the session's last command (the respondent's SkipTerms); node A now issues an invitation, so B's copy
    // does not know it. Accepted on B, decided on that copy it would be refused (no such invitation): B must lock.
    const token = await invite(t.claimant, t.sessionId, "claimant");
    const colleague = await new Participant(webB.url, "Claimant Colleague").signUp();
    people.push(colleague);
    const r = await accept(colleague, token);
    expect((r.body as { sessionId: string }).sessionId).toBe(t.sessionId);
    // And a command on A after B moved the session on is applied too (A's copy is stale now).
    await ok(
      t.claimant.command(t.sessionId, { type: "PostMessage", room: "side:claimant", text: "Welcome" }),
    );
  });
});
