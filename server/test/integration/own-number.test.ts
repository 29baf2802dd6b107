// A side's own number (issue 7, item 4): the command's ack echoes it (one presenter for REST and the socket), and
// GET /api/sessions/:id/number is the one way to fetch it, with the side's history. They agree with each other and
// with the member's snapshot, and the history holds the side's numbers only.
import { describe, expect, it } from "vitest";
import { backendLabel, backends, useServer } from "../support/server";
import { ok, openTable } from "./harness";

const RULES = { step2DurationMs: 60_000, step3DurationMs: 60_000, maxSessionMs: 600_000 };
const FIRST = 91_234_517;
const SECOND = 90_112_233;
const OFFER = 40_512_377;

interface Own {
  side: string;
  amount: number;
  setAt: number;
  setBy: string;
  history?: Array<{ amount: number; step: number; by: string; at: number }>;
}

for (const backend of backends()) {
  describe(`own number: ack, GET /number and the snapshot agree (${backendLabel(backend)})`, () => {
    const suite = useServer(backend);

    it("answers the same number through the socket ack, the REST ack, GET /number and the view", async () => {
      const t = await openTable(suite.server, RULES);
      suite.participants.push(...t.all);
      const socketAck = await ok(t.claimant.command(t.sessionId, { type: "SetNumber", amount: FIRST }));
      const restAck = await t.claimant.http("POST", `/api/sessions/${t.sessionId}/commands`, {
        idempotencyKey: `k-${Date.now()}-rest`,
        command: { type: "SetNumber", amount: SECOND },
      });
      expect(restAck.status).toBe(200);
      await ok(t.respondent.command(t.sessionId, { type: "SetNumber", amount: OFFER }));

      const first = (socketAck as unknown as { own: Own }).own;
      const second = (restAck.body as unknown as { ok: true; version: number; own: Own }).own;
      expect(first).toMatchObject({ side: "claimant", amount: FIRST, setBy: t.claimant.user.id });
      expect(second).toMatchObject({ side: "claimant", amount: SECOND, setBy: t.claimant.user.id });
      // Both acks have the same keys: one presenter.
      expect(Object.keys(restAck.body).sort()).toEqual(Object.keys(socketAck).sort());

      for (const member of [t.claimant, t.claimantClient]) {
        const fetched = await member.http("GET", `/api/sessions/${t.sessionId}/number`);
        expect(fetched.status).toBe(200);
        const { own, version } = fetched.body as unknown as { own: Own; version: number };
        const { history, ...rest } = own;
        const view = await member.http("GET", `/api/sessions/${t.sessionId}`);
        const snapshot = view.body as unknown as { version: number; view: { numbers: { own: Own } } };
        expect(rest).toEqual(snapshot.view.numbers.own);
        expect(version).toBe(snapshot.version);
        expect({ ...rest, changesLeft: undefined, nextChangeAt: undefined }).toMatchObject({
          side: second.side,
          amount: second.amount,
          setAt: second.setAt,
          setBy: second.setBy,
        });
        // The side's numbers only, oldest first: never the other side's.
        expect(history?.map((h) => h.amount)).toEqual([FIRST, SECOND]);
        expect(history?.every((h) => h.by === t.claimant.user.id && h.step === 2)).toBe(true);
        expect(fetched.text).not.toContain(String(OFFER));
      }

      const theirs = await t.respondent.http("GET", `/api/sessions/${t.sessionId}/number`);
      const theirOwn = (theirs.body as unknown as { own: Own }).own;
      expect(theirOwn.history?.map((h) => h.amount)).toEqual([OFFER]);
      expect(theirs.text).not.toContain(String(FIRST));
      expect(theirs.text).not.toContain(String(SECOND));

      const mediator = await t.mediator.http("GET", `/api/sessions/${t.sessionId}/number`);
      expect(mediator.status).toBe(403);
      expect((mediator.body as { error: { code: string } }).error.code).toBe("WRONG_ROLE");
    });

    it("answers amount null and an empty history to a side that has no number yet", async () => {
      const t = await openTable(suite.server, RULES);
      suite.participants.push(...t.all);
      const none = await t.respondent.http("GET", `/api/sessions/${t.sessionId}/number`);
      expect(none.status).toBe(200);
      expect((none.body as { own: unknown }).own).toMatchObject({
        side: "respondent",
        amount: null,
        history: [],
      });
    });
  });
}
