// End to end over real HTTP and Socket.IO: every path of RULES.md with sub-second steps, on the embedded
// defaults and (when DATABASE_URL + REDIS_URL are set) on PostgreSQL + Redis + BullMQ.
import { describe, expect, it } from "vitest";
import { backendLabel, backends, Participant, useServer } from "../support/server";
import { accept, allPushText, invite, ok, openTable, SHORT_RULES, type Table } from "./harness";

// Distinctive amounts that cannot collide with timestamps, versions or ids.
const DEMAND = 73_914_205;
const OFFER = 81_234_567;
const LOW_OFFER = 70_212_303;

interface DealPush {
  at: number;
  payload: { version: number; event: { type: string; amount: number; source: string } };
}

async function dealSeenByAll(t: Table, timeoutMs = 5000) {
  const seen = await Promise.all(t.all.map((p) => p.waitFor((e) => e.type === "DealMade", timeoutMs)));
  return seen as unknown as DealPush[];
}

function expectNoNumberIn(p: Participant, ...numbers: number[]) {
  const text = allPushText(p);
  for (const n of numbers) expect(text, `${p.name} received ${n}`).not.toContain(String(n));
}

for (const backend of backends()) {
  describe(`scenarios on ${backendLabel(backend)}`, () => {
    const suite = useServer(backend);

    const table = async (rules?: Record<string, unknown>) => {
      const t = await openTable(suite.server, rules);
      suite.participants.push(...t.all);
      return t;
    };

    it("makes a deal at the Step 2 deadline, inside the overlap, and tells everyone at once", async () => {
      const t = await table();
      const own = await ok(t.claimant.command(t.sessionId, { type: "SetNumber", amount: DEMAND }));
      expect((own as unknown as { own: { amount: number } }).own.amount).toBe(DEMAND);
      await ok(t.respondent.command(t.sessionId, { type: "SetNumber", amount: OFFER }));
      // Sealed: nothing is compared before the deadline.
      expect(t.all.some((p) => p.pushes.some((x) => JSON.stringify(x).includes("DealMade")))).toBe(false);
      const deals = await dealSeenByAll(t);
      const amounts = deals.map((d) => d.payload.event.amount);
      expect(new Set(amounts).size).toBe(1);
      expect(amounts[0]).toBeGreaterThanOrEqual(DEMAND);
      expect(amounts[0]).toBeLessThanOrEqual(OFFER);
      expect(deals[0]?.payload.event.source).toBe("step2");
      const spread = Math.max(...deals.map((d) => d.at)) - Math.min(...deals.map((d) => d.at));
      expect(spread).toBeLessThan(1000);
      // The mediator never sees a number; the other side never sees this side's number.
      expectNoNumberIn(t.mediator, DEMAND, OFFER);
      expectNoNumberIn(t.respondent, DEMAND);
      expectNoNumberIn(t.claimant, OFFER);
      expectNoNumberIn(t.claimantClient, OFFER);
      // Room pushes carry no number at all, not even to the number's own side.
      for (const p of t.all) expectNoNumberIn(p, DEMAND, OFFER);
    });

    it("opens Step 3 when Step 2 closes without a match, then makes a live deal on the matching change", async () => {
      const t = await table();
      await ok(t.claimant.command(t.sessionId, { type: "SetNumber", amount: DEMAND }));
      await t.mediator.waitFor((e) => e.type === "Step3Opened", 5000);
      const closed = await t.mediator.waitFor((e) => e.type === "Step2Closed");
      expect((closed.payload as { event: { deal: boolean } }).event.deal).toBe(false);
      const sentAt = Date.now();
      await ok(t.respondent.command(t.sessionId, { type: "SetNumber", amount: DEMAND }));
      const deals = await dealSeenByAll(t, 2000);
      for (const d of deals) {
        expect(d.payload.event.amount).toBe(DEMAND); // exact match settles at that number
        expect(d.payload.event.source).toBe("step3");
        expect(d.at - sentAt).toBeLessThan(1000);
      }
      // An exact match reveals the number as the deal amount, by the rules; before the deal, nothing did.
      const beforeDeal = t.mediator.pushes.filter((p) => !JSON.stringify(p).includes("DealMade"));
      expect(JSON.stringify(beforeDeal)).not.toContain(String(DEMAND));
    });

    it("lets another member of the same side fetch the side's number, and nobody else", async () => {
      const t = await table();
      await ok(t.claimant.command(t.sessionId, { type: "SetNumber", amount: DEMAND }));
      await t.claimantClient.waitFor((e) => e.type === "NumberSet");
      const mine = await t.claimantClient.http("GET", `/api/sessions/${t.sessionId}/number`);
      expect(mine.status).toBe(200);
      const own = (mine.body as { own: { amount: number; history: Array<{ amount: number; step: number }> } })
        .own;
      expect(own.amount).toBe(DEMAND);
      expect(own.history).toEqual([
        expect.objectContaining({ amount: DEMAND, step: 2, by: t.claimant.user.id }),
      ]);
      const theirs = await t.respondent.http("GET", `/api/sessions/${t.sessionId}/number`);
      expect(theirs.status).toBe(200);
      expect(theirs.text).not.toContain(String(DEMAND));
      const med = await t.mediator.http("GET", `/api/sessions/${t.sessionId}/number`);
      expect(med.status).toBe(403);
      expect(med.text).not.toContain(String(DEMAND));
      // A view-only member may not bid.
      const refused = await t.claimantClient.command(t.sessionId, { type: "SetNumber", amount: DEMAND + 1 });
      expect(refused).toMatchObject({ ok: false, code: "NO_BIDDING_RIGHTS" });
      // The snapshot and sync of the other side and the mediator hold no number either.
      for (const p of [t.respondent, t.mediator]) {
        const view = await p.http("GET", `/api/sessions/${t.sessionId}`);
        expect(view.text).not.toContain(String(DEMAND));
        const sync = await p.emit("sync", { sessionId: t.sessionId, sinceVersion: 0 });
        expect(JSON.stringify(sync)).not.toContain(String(DEMAND));
      }
      const ownSync = await t.claimantClient.emit("sync", { sessionId: t.sessionId, sinceVersion: 0 });
      expect(JSON.stringify(ownSync)).toContain(String(DEMAND));
    });

    it("lets nobody outside a side plant a reader in it (the creator and the mediator included)", async () => {
      const t = await table();
      await ok(t.respondent.command(t.sessionId, { type: "SetNumber", amount: OFFER }));
      for (const outsider of [t.claimant, t.mediator]) {
        const r = await outsider.http("POST", `/api/sessions/${t.sessionId}/invitations`, {
          role: "respondent",
          canBid: false,
        });
        expect(r.status).toBe(403);
        expect((r.body as { error: { code: string } }).error.code).toBe("WRONG_SIDE");
        expect(r.text).not.toContain(String(OFFER));
      }
      // The respondent's own side can bring in a colleague, who then sees the side's number.
      const colleague = await new Participant(suite.server.url, "Respondent Colleague").signUp();
      suite.participants.push(colleague);
      await accept(colleague, await invite(t.respondent, t.sessionId, "respondent", false));
      const theirs = await colleague.http("GET", `/api/sessions/${t.sessionId}/number`);
      expect((theirs.body as { own: { amount: number } }).own.amount).toBe(OFFER);
    });

    const toStep3 = async (t: Table, demand: number, offer: number) => {
      await ok(t.claimant.command(t.sessionId, { type: "SetNumber", amount: demand }));
      await ok(t.respondent.command(t.sessionId, { type: "SetNumber", amount: offer }));
      await t.mediator.waitFor((e) => e.type === "Step3Opened", 5000);
    };

    it("smart proposal: requested, consented, accepted by both -> deal at the proposed amount", async () => {
      const t = await table();
      await toStep3(t, DEMAND, LOW_OFFER); // gap about 5% of the demand
      await ok(t.claimant.command(t.sessionId, { type: "RequestProposal" }));
      const requested = await t.respondent.waitFor((e) => e.type === "ProposalRequested");
      const requestId = (requested.payload as { event: { requestId: string } }).event.requestId;
      // Bidding pauses for both sides while a request is pending.
      expect(await t.respondent.command(t.sessionId, { type: "SetNumber", amount: OFFER })).toMatchObject({
        ok: false,
        code: "BIDDING_PAUSED",
      });
      await ok(t.respondent.command(t.sessionId, { type: "ConsentProposal", requestId }));
      const made = await t.claimant.waitFor((e) => e.type === "SmartProposalMade");
      const proposalId = (made.payload as { event: { proposalId: string } }).event.proposalId;
      const fetched = await t.claimant.http("GET", `/api/sessions/${t.sessionId}`);
      const amount = (fetched.body as { view: { proposal: { amount: number } } }).view.proposal.amount;
      expect(amount).toBeGreaterThan(LOW_OFFER);
      expect(amount).toBeLessThan(DEMAND);
      const medView = await t.mediator.http("GET", `/api/sessions/${t.sessionId}`);
      expect(medView.text).not.toContain(String(amount));
      await ok(t.claimant.command(t.sessionId, { type: "AnswerProposal", proposalId, accept: true }));
      await ok(t.respondent.command(t.sessionId, { type: "AnswerProposal", proposalId, accept: true }));
      const deals = await dealSeenByAll(t);
      for (const d of deals) {
        expect(d.payload.event.amount).toBe(amount);
        expect(d.payload.event.source).toBe("smart_proposal");
      }
      // The deal amount is everyone's once agreed; before the deal the mediator saw no proposal amount.
      expectNoNumberIn(t.mediator, DEMAND, LOW_OFFER);
      const beforeDeal = t.mediator.pushes.filter((p) => !JSON.stringify(p).includes("DealMade"));
      expect(JSON.stringify(beforeDeal)).not.toContain(String(amount));
    });

    it("smart proposal: one rejection -> everyone learns only 'not accepted', bidding resumes", async () => {
      const t = await table();
      await toStep3(t, DEMAND, LOW_OFFER);
      await ok(t.respondent.command(t.sessionId, { type: "RequestProposal" }));
      const req = await t.claimant.waitFor((e) => e.type === "ProposalRequested");
      await ok(
        t.claimant.command(t.sessionId, {
          type: "ConsentProposal",
          requestId: (req.payload as { event: { requestId: string } }).event.requestId,
        }),
      );
      const made = await t.respondent.waitFor((e) => e.type === "SmartProposalMade");
      const proposalId = (made.payload as { event: { proposalId: string } }).event.proposalId;
      await ok(t.claimant.command(t.sessionId, { type: "AnswerProposal", proposalId, accept: false }));
      await ok(t.respondent.command(t.sessionId, { type: "AnswerProposal", proposalId, accept: true }));
      for (const p of t.all) {
        const resolved = await p.waitFor((e) => e.type === "ProposalResolved");
        expect((resolved.payload as { event: { accepted: boolean } }).event.accepted).toBe(false);
      }
      // Nobody but the claimant side learns how the claimant answered, nor even that it did.
      await t.claimantClient.waitFor((e) => e.type === "ProposalAnswered" && e.side === "claimant");
      for (const p of [t.respondent, t.mediator]) {
        const events = p.pushes.filter((x) => x.name === "session:event");
        const answers = events.filter((x) => JSON.stringify(x).includes("ProposalAnswered"));
        // The respondent sees only its own answer; the mediator none.
        expect(
          answers.every((x) => (x.payload as { event: { side: string } }).event.side === "respondent"),
        ).toBe(true);
        if (p === t.mediator) expect(answers).toEqual([]);
        // Their positions run on without a gap where the answer was: it is not in their streams at all.
        const versions = events.map((x) => (x.payload as { version: number }).version);
        expect(versions).toEqual(versions.map((_, i) => (versions[0] as number) + i));
      }
      await ok(t.respondent.command(t.sessionId, { type: "SetNumber", amount: LOW_OFFER + 100 }));
      // Nor can the audit export tell them: it has no entry, no placeholder and no digest for the answer.
      for (const p of [t.respondent, t.mediator]) {
        const exported = await p.http("GET", `/api/sessions/${t.sessionId}/audit`);
        const events = (
          exported.body as {
            events: Array<{ position: number; content: { type: string; payload: { side?: string } } }>;
          }
        ).events;
        expect(events.map((e) => e.position)).toEqual(events.map((_, i) => i + 1));
        const claimantAnswers = events.filter(
          (e) => e.content.type === "ProposalAnswered" && e.content.payload.side === "claimant",
        );
        expect(claimantAnswers).toEqual([]);
      }
    });

    it("smart proposal: too far apart -> answered so, bidding resumes", async () => {
      const t = await table();
      await toStep3(t, DEMAND, 10_000_000); // gap far above 20% of the demand
      await ok(t.claimant.command(t.sessionId, { type: "RequestProposal" }));
      const req = await t.respondent.waitFor((e) => e.type === "ProposalRequested");
      await ok(
        t.respondent.command(t.sessionId, {
          type: "ConsentProposal",
          requestId: (req.payload as { event: { requestId: string } }).event.requestId,
        }),
      );
      for (const p of t.all) await p.waitFor((e) => e.type === "ProposalTooFarApart");
      await ok(t.claimant.command(t.sessionId, { type: "SetNumber", amount: DEMAND - 100 }));
    });

    it("mediator's proposal accepted by both sides -> deal; the mediator never sees the numbers", async () => {
      const t = await table();
      await toStep3(t, DEMAND, LOW_OFFER);
      await ok(
        t.mediator.command(t.sessionId, {
          type: "PutMediatorProposal",
          amount: 72_000_000,
          answerBy: Date.now() + 2500,
        }),
      );
      const put = await t.claimant.waitFor((e) => e.type === "MediatorProposalPut");
      const proposalId = (put.payload as { event: { proposalId: string } }).event.proposalId;
      // Live bidding continues meanwhile.
      await ok(t.claimant.command(t.sessionId, { type: "SetNumber", amount: DEMAND - 1000 }));
      await ok(t.claimant.command(t.sessionId, { type: "AnswerProposal", proposalId, accept: true }));
      await ok(t.respondent.command(t.sessionId, { type: "AnswerProposal", proposalId, accept: true }));
      const deals = await dealSeenByAll(t);
      for (const d of deals) {
        expect(d.payload.event.amount).toBe(72_000_000);
        expect(d.payload.event.source).toBe("mediator_proposal");
      }
      expectNoNumberIn(t.mediator, DEMAND, DEMAND - 1000, LOW_OFFER);
    });

    it("mediator's proposal not answered in time -> 'not accepted' for everyone", async () => {
      const t = await table();
      await toStep3(t, DEMAND, LOW_OFFER);
      await ok(
        t.mediator.command(t.sessionId, {
          type: "PutMediatorProposal",
          amount: 72_000_000,
          answerBy: Date.now() + 400,
        }),
      );
      for (const p of t.all) {
        const r = await p.waitFor((e) => e.type === "ProposalResolved", 4000);
        expect((r.payload as { event: { accepted: boolean } }).event.accepted).toBe(false);
      }
    });

    it("withdrawal ends the session with no deal, everyone is told, and the numbers are destroyed", async () => {
      const t = await table();
      await ok(t.claimant.command(t.sessionId, { type: "SetNumber", amount: DEMAND }));
      await ok(t.respondent.command(t.sessionId, { type: "Withdraw" }));
      for (const p of t.all) {
        const ended = await p.waitFor((e) => e.type === "SessionEnded");
        expect((ended.payload as { event: { outcome: string } }).event.outcome).toBe("withdrawn");
      }
      expect(await t.claimant.command(t.sessionId, { type: "SetNumber", amount: DEMAND })).toMatchObject({
        ok: false,
        code: "SESSION_ENDED",
      });
      // Key destroyed: even the claimant's own side can no longer read the number back.
      const own = await t.claimant.http("GET", `/api/sessions/${t.sessionId}/number`);
      expect(own.text).not.toContain(String(DEMAND));
      const sync = await t.claimant.emit("sync", { sessionId: t.sessionId, sinceVersion: 0 });
      expect(JSON.stringify(sync)).not.toContain(String(DEMAND));
    });

    it("expires at the Step 3 deadline with no deal", async () => {
      const t = await table({ ...SHORT_RULES, step3DurationMs: 500 });
      await ok(t.claimant.command(t.sessionId, { type: "SetNumber", amount: DEMAND }));
      for (const p of t.all) {
        const ended = await p.waitFor((e) => e.type === "SessionEnded", 5000);
        expect((ended.payload as { event: { outcome: string } }).event.outcome).toBe("expired");
      }
    });

    it("applies a retried command once (idempotency key)", async () => {
      const t = await table();
      const a = await ok(
        t.claimant.command(t.sessionId, { type: "SetNumber", amount: DEMAND }, "same-key-123"),
      );
      // Something else happens in between; the retry still answers with the version it produced.
      await ok(t.respondent.command(t.sessionId, { type: "SetNumber", amount: LOW_OFFER }));
      const b = await ok(
        t.claimant.command(t.sessionId, { type: "SetNumber", amount: DEMAND }, "same-key-123"),
      );
      expect(b.version).toBe(a.version);
      // The same key for a different action is refused, not answered with the first action's result.
      const reused = await t.claimant.command(
        t.sessionId,
        { type: "SetNumber", amount: DEMAND + 500 },
        "same-key-123",
      );
      expect(reused).toMatchObject({ ok: false, code: "CONFLICT" });
      const events = await t.claimant.http("GET", `/api/sessions/${t.sessionId}/events?since=0`);
      const sets = (
        events.body as { events: Array<{ event: { type: string; side: string } }> }
      ).events.filter((e) => e.event.type === "NumberSet" && e.event.side === "claimant");
      expect(sets).toHaveLength(1);
    });

    it("resyncs by version: a client that missed pushes gets exactly what it missed", async () => {
      const t = await table();
      const before = await ok(t.mediator.emit("sync", { sessionId: t.sessionId, sinceVersion: 0 }));
      await ok(t.mediator.command(t.sessionId, { type: "OpenJointRoom" }));
      await ok(t.claimant.command(t.sessionId, { type: "PostMessage", room: "joint", text: "Good morning" }));
      const after = (await ok(
        t.mediator.emit("sync", { sessionId: t.sessionId, sinceVersion: before.version }),
      )) as unknown as {
        version: number;
        events: Array<{ version: number; event: { type: string } }>;
      };
      expect(after.events.map((e) => e.event.type)).toEqual(["JointRoomOpened", "MessagePosted"]);
      expect(after.version).toBe(before.version + 2);
    });

    it("exports an audit log every participant can verify", async () => {
      const t = await table();
      await ok(t.claimant.command(t.sessionId, { type: "SetNumber", amount: DEMAND }));
      await ok(t.respondent.command(t.sessionId, { type: "SetNumber", amount: OFFER }));
      await dealSeenByAll(t);
      const { verifyAuditExport } = await import("../../src/store/audit");
      const { sessionEventPushSchema } = await import("@backchannel/common");
      const key = (await t.claimant.http("GET", "/api/audit/key")).body as { pem: string };
      // Every push a client received is in the shape the shared schema describes (and carries no amount).
      for (const p of t.all) {
        for (const push of p.pushes.filter((x) => x.name === "session:event")) {
          expect(sessionEventPushSchema.safeParse(push.payload).success).toBe(true);
        }
      }
      for (const p of [t.claimant, t.respondent, t.mediator]) {
        // The deal notice carries the stream's final head: the head the export ends on, signed by the server.
        const dealPush = p.pushes.find((x) => JSON.stringify(x).includes('"DealMade"'));
        const finalHead = (dealPush?.payload as { finalHead?: { head: string } } | undefined)?.finalHead;
        expect(finalHead?.head).toMatch(/^[0-9a-f]{64}$/);
        const r = await p.http("GET", `/api/sessions/${t.sessionId}/audit`);
        expect(r.status).toBe(200);
        const verdict = verifyAuditExport(r.body, { savedHeads: [finalHead], publicKeyPem: key.pem });
        expect(verdict).toMatchObject({ ok: true, head: finalHead?.head, savedHeadsChecked: 1 });
        if (p !== t.claimant) expect(r.text).not.toContain(String(DEMAND));
        if (p !== t.respondent) expect(r.text).not.toContain(String(OFFER));
      }
    });
  });
}
