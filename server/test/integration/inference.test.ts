// Issue 6: what a party could infer rather than read. Over real HTTP and Socket.IO, on both backends:
// - positions: each participant's pushes, syncs and snapshots count only what its role may see (no gap betrays
//   that the other side answered a proposal or talked in its own room);
// - heads: the last push of each commit carries its stream's signed head, and the audit export verifies against the
//   heads saved;
// - a late command: a command arriving after a deadline, before its trigger, does not learn the outcome first.
import { describe, expect, it } from "vitest";
import { verifyAuditExport } from "../../src/store/audit";
import { backendLabel, backends, type Participant, useServer } from "../support/server";
import { ok, openTable, SHORT_RULES, type Table } from "./harness";

interface EventPush {
  sessionId: string;
  version: number;
  head?: { position: number; head: string; stream: string };
  finalHead?: { position: number };
  event: { type: string };
}

function eventPushes(p: Participant): EventPush[] {
  return p.pushes.filter((x) => x.name === "session:event").map((x) => x.payload as EventPush);
}

/** Every push a participant received is the next position of its stream: 1 after the last, never a jump. */
function expectContiguous(p: Participant, from: number) {
  const versions = eventPushes(p).map((x) => x.version);
  expect(versions, `${p.name}'s push positions`).toEqual(versions.map((_, i) => from + i + 1));
  for (const push of eventPushes(p)) if (push.head) expect(push.head.position).toBe(push.version);
  // Every commit's last push is signed: so is the last of all.
  expect(eventPushes(p).at(-1)?.head, `${p.name}'s last push carries a head`).toBeDefined();
}

async function syncAll(p: Participant, sessionId: string) {
  const ack = (await ok(p.emit("sync", { sessionId, sinceVersion: 0 }))) as unknown as {
    version: number;
    events: Array<{ version: number; event: { type: string } }>;
  };
  return ack;
}

for (const backend of backends()) {
  describe(`inference on ${backendLabel(backend)}`, () => {
    let offset = 0;
    const suite = useServer(backend, {}, { now: () => Date.now() + offset });

    const table = async (rules: Record<string, unknown> = SHORT_RULES) => {
      const t = await openTable(suite.server, rules);
      suite.participants.push(...t.all);
      return t;
    };

    /** Reaches Step 3 with a pending smart proposal (both numbers entered, no deal at the Step 2 deadline). */
    async function toProposal(t: Table) {
      await ok(t.claimant.command(t.sessionId, { type: "SetNumber", amount: 91_000_00 }));
      await ok(t.respondent.command(t.sessionId, { type: "SetNumber", amount: 90_000_00 }));
      await t.mediator.waitFor((e) => e.type === "Step3Opened");
      await ok(t.claimant.command(t.sessionId, { type: "RequestProposal" }));
      const requested = await t.respondent.waitFor((e) => e.type === "ProposalRequested");
      const requestId = (requested.payload as { event: { requestId: string } }).event.requestId;
      await ok(t.respondent.command(t.sessionId, { type: "ConsentProposal", requestId }));
      const made = await t.mediator.waitFor((e) => e.type === "SmartProposalMade");
      return (made.payload as { event: { proposalId: string } }).event.proposalId;
    }

    it("a side's hidden acts leave no gap in anyone else's positions, and every stream is 1..n", async () => {
      // Step 2 runs from openTable's return: long enough for the four opens below and both numbers on a loaded
      // machine (at 400 ms a slow CI pass closed it first, and its Step3Opened push was cleared with the rest).
      const t = await table({ ...SHORT_RULES, step2DurationMs: 2000, step3DurationMs: 8000 });
      // Where each participant's stream stood when it opened (its snapshot's position).
      const opened = new Map<Participant, number>();
      for (const p of t.all) {
        const ack = (await ok(p.emit("session:open", { sessionId: t.sessionId }))) as unknown as {
          version: number;
        };
        opened.set(p, ack.version);
        p.pushes.length = 0;
      }
      const proposalId = await toProposal(t);
      // Hidden from the respondent and the mediator: the claimant talks in its own room and answers the proposal.
      await ok(
        t.claimant.command(t.sessionId, { type: "PostMessage", room: "side:claimant", text: "just us" }),
      );
      await ok(t.claimant.command(t.sessionId, { type: "AnswerProposal", proposalId, accept: false }));
      // Hidden from the claimant: the respondent knocks for the mediator.
      await ok(t.respondent.command(t.sessionId, { type: "Knock" }));
      // Seen by all: a joint-room message after the hidden acts.
      await ok(t.mediator.command(t.sessionId, { type: "OpenJointRoom" }));
      await ok(
        t.mediator.command(t.sessionId, { type: "PostMessage", room: "joint", text: "back together" }),
      );
      for (const p of t.all) await p.waitFor((e) => e.type === "MessagePosted" && e.room === "joint");
      for (const p of t.all) expectContiguous(p, opened.get(p) as number);
      // The respondent and the mediator never heard of the claimant's answer.
      for (const p of [t.respondent, t.mediator]) {
        expect(eventPushes(p).some((x) => x.event.type === "ProposalAnswered")).toBe(false);
      }
      // A sync from the start numbers every stream 1..n, and ends where the pushes ended.
      for (const p of t.all) {
        const all = await syncAll(p, t.sessionId);
        expect(all.events.map((e) => e.version)).toEqual(all.events.map((_, i) => i + 1));
        expect(all.version).toBe(eventPushes(p).at(-1)?.version);
      }
      // Members of one role share one stream; the roles' streams differ in length by what each was shown.
      const claimantSync = await syncAll(t.claimant, t.sessionId);
      const clientSync = await syncAll(t.claimantClient, t.sessionId);
      expect(clientSync.events.map((e) => e.event.type)).toEqual(
        claimantSync.events.map((e) => e.event.type),
      );
      // The session list shows a member its own position, never the session's global version.
      const list = await t.mediator.http("GET", "/api/sessions");
      const listed = (list.body.sessions as Array<{ id: string; version: number }>).find(
        (s) => s.id === t.sessionId,
      );
      expect(listed?.version).toBe(eventPushes(t.mediator).at(-1)?.version);
    });

    it("each commit's last push carries its stream's signed head, and each role's audit export verifies against them", async () => {
      const t = await table({ ...SHORT_RULES, step2DurationMs: 400 });
      await ok(t.claimant.command(t.sessionId, { type: "SetNumber", amount: 80_000_00 }));
      await ok(t.respondent.command(t.sessionId, { type: "SetNumber", amount: 81_000_00 }));
      for (const p of t.all) await p.waitFor((e) => e.type === "DealMade");
      const key = await t.claimant.http("GET", "/api/audit/key");
      expect(key.status).toBe(200);
      const publicKeyPem = (key.body as { pem: string }).pem;
      for (const p of t.all) {
        const pushes = eventPushes(p);
        const heads = pushes.flatMap((x) => (x.head ? [x.head] : []));
        const deal = pushes.find((x) => x.event.type === "DealMade") as EventPush;
        expect(deal.finalHead?.position).toBe(pushes.at(-1)?.version);
        // Step 2's close, the deal and the end are one commit: one signed head for all of its pushes, on the last.
        const closing = pushes.slice(pushes.findIndex((x) => x.event.type === "Step2Closed"));
        expect(closing.length, `${p.name}: the closing commit's pushes`).toBeGreaterThan(1);
        expect(closing.map((x) => x.head?.position ?? null)).toEqual(
          closing.map((x, i) => (i === closing.length - 1 ? x.version : null)),
        );
        const audit = await p.http("GET", `/api/sessions/${t.sessionId}/audit`);
        expect(audit.status).toBe(200);
        const verdict = verifyAuditExport(audit.body, { savedHeads: heads, publicKeyPem });
        expect(verdict).toMatchObject({ ok: true, savedHeadsChecked: heads.length });
        // No placeholder for what this role could not see: as many entries as its stream is long.
        expect((audit.body.events as unknown[]).length).toBe(deal.finalHead?.position);
        expect(audit.text).not.toMatch(/"version"/);
      }
    });

    it("a sender's ack may precede its own command's pushes, but never a deal's: everyone hears of that first", async () => {
      const t = await table({ ...SHORT_RULES, step2DurationMs: 400, step3DurationMs: 60_000 });
      await ok(t.claimant.command(t.sessionId, { type: "SetNumber", amount: 91_000_00 }));
      await ok(t.respondent.command(t.sessionId, { type: "SetNumber", amount: 90_000_00 }));
      for (const p of t.all) await p.waitFor((e) => e.type === "Step3Opened");
      for (const p of t.all) p.pushes.length = 0;
      // What a participant's socket handled, in order: pushes by event type, and its own answers.
      const order = (p: Participant) =>
        p.pushes.flatMap((x) =>
          x.name === "ack"
            ? ["ack"]
            : x.name === "session:event"
              ? [(x.payload as EventPush).event.type]
              : [],
        );
      // A number that makes no deal: the ack leaves before the room pushes (group commit announces after answering).
      await ok(t.claimant.commandMarked(t.sessionId, { type: "SetNumber", amount: 95_000_00 }));
      await t.claimant.waitFor((e) => e.type === "NumberSet", 2000);
      expect(order(t.claimant)).toEqual(["ack", "NumberSet"]);
      for (const p of t.all) p.pushes.length = 0;
      // The crossing number: its sender's socket (like everyone's) had the deal before the ack that made it.
      await ok(t.respondent.commandMarked(t.sessionId, { type: "SetNumber", amount: 95_000_00 }));
      const seen = order(t.respondent);
      expect(seen).toContain("DealMade");
      expect(seen.indexOf("DealMade")).toBeLessThan(seen.indexOf("ack"));
      for (const p of t.all) await p.waitFor((e) => e.type === "DealMade", 2000);
    });

    it("a command after the Step 2 deadline, before its trigger, is refused only after everyone heard of the deal", async () => {
      offset = 0;
      const t = await table({
        ...SHORT_RULES,
        step2DurationMs: 60_000,
        step3DurationMs: 120_000,
        maxSessionMs: 600_000,
      });
      await ok(t.claimant.command(t.sessionId, { type: "SetNumber", amount: 50_000_00 }));
      await ok(t.respondent.command(t.sessionId, { type: "SetNumber", amount: 50_000_00 }));
      // The server's clock passes the deadline; its trigger (on the real clock) is a minute away.
      offset = 61_000;
      try {
        const late = await t.respondent.command(t.sessionId, { type: "SetNumber", amount: 49_000_00 });
        expect(late).toMatchObject({ ok: false, code: "SESSION_ENDED" });
        // The sender's own socket had the deal before its refusal, and so had everyone else, at once.
        expect(eventPushes(t.respondent).some((x) => x.event.type === "DealMade")).toBe(true);
        for (const p of t.all) await p.waitFor((e) => e.type === "DealMade", 2000);
      } finally {
        offset = 0;
      }
    });
  });
}
