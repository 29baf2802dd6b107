// GET /api/sessions/:id/settlement.pdf against a real server: 409 WRONG_STEP before the deal, 404 for an outsider,
// and for every member after the deal a PDF download holding the summary and neither side's number.
import { PDFDocument } from "pdf-lib";
import { describe, expect, it } from "vitest";
import { NO_DEAL_YET_MESSAGE } from "../../src/http/settlement";
import { pdfText } from "../notify/pdf-text";
import { backendLabel, backends, Participant, useServer } from "../support/server";
import { ok, openTable, SHORT_RULES } from "./harness";

const DEMAND = 4_123_456;
const OFFER = 5_987_654;
const SPELLINGS = ["41,234.56", "41234.56", "4123456", "59,876.54", "59876.54", "5987654"];

async function download(p: Participant, sessionId: string, query = "") {
  const res = await fetch(`${p.baseUrl}/api/sessions/${sessionId}/settlement.pdf${query}`, {
    headers: { authorization: `Bearer ${p.token}` },
  });
  return { res, bytes: new Uint8Array(await res.arrayBuffer()) };
}

for (const backend of backends()) {
  describe(`GET /api/sessions/:id/settlement.pdf (${backendLabel(backend)})`, () => {
    const suite = useServer(backend);

    it("refuses before the deal and outsiders; serves every member the PDF after it", async () => {
      const t = await openTable(suite.server, SHORT_RULES);
      suite.participants.push(...t.all);
      const outsider = await new Participant(suite.server.url, "Olive Outsider").signUp();

      const early = await t.claimant.http("GET", `/api/sessions/${t.sessionId}/settlement.pdf`);
      expect(early.status).toBe(409);
      expect(early.body).toEqual({ error: { code: "WRONG_STEP", message: NO_DEAL_YET_MESSAGE } });

      await ok(t.claimant.command(t.sessionId, { type: "SetNumber", amount: DEMAND }));
      await ok(t.respondent.command(t.sessionId, { type: "SetNumber", amount: OFFER }));
      const dealPush = await t.respondent.waitFor((e) => e.type === "DealMade", 10_000);
      const amountCents = (dealPush.payload as { event: { amount: number } }).event.amount;
      const amount = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" }).format(
        amountCents / 100,
      );

      for (const who of [outsider]) {
        const r = await who.http("GET", `/api/sessions/${t.sessionId}/settlement.pdf`);
        expect(r.status).toBe(404);
        expect((r.body as { error: { code: string } }).error.code).toBe("SESSION_NOT_FOUND");
      }
      const unknown = await t.claimant.http("GET", `/api/sessions/${crypto.randomUUID()}/settlement.pdf`);
      expect(unknown.status).toBe(404);
      const anonymous = await fetch(`${suite.server.url}/api/sessions/${t.sessionId}/settlement.pdf`);
      expect(anonymous.status).toBe(401);

      for (const member of t.all) {
        const { res, bytes } = await download(member, t.sessionId);
        expect(res.status, member.name).toBe(200);
        expect(res.headers.get("content-type")).toBe("application/pdf");
        expect(res.headers.get("cache-control")).toBe("private, no-store");
        expect(res.headers.get("content-disposition")).toMatch(
          /^attachment; filename="Smith v. Acme settlement\.pdf"/,
        );
        expect(Buffer.from(bytes.subarray(0, 5)).toString("latin1")).toBe("%PDF-");
        const text = pdfText(bytes);
        expect(text).toContain(amount);
        expect(text).toContain("Claimant Attorney (Claimant)");
        expect(text).toMatch(/Audit record head \(your role's stream, position \d+\)/);
        for (const s of SPELLINGS) expect(text, member.name).not.toContain(s);
      }
      const letter = await download(t.mediator, t.sessionId, "?size=letter");
      expect(Math.round((await PDFDocument.load(letter.bytes)).getPage(0).getWidth())).toBe(612);
    });
  });
}
