// The mail thread (mail-thread.ts): messages composed in a worker thread come back whole and each to its own request,
// a deal mail with its PDF; a thread that stops fails the mails in flight (their triggers retry) and the next mail
// starts a new one.
import { type Command, type SettlementSummary, settlementSummary, viewState } from "@backchannel/common";
import { simpleParser } from "mailparser";
import { afterEach, describe, expect, it } from "vitest";
import { CLAIMANT, RESPONDENT, Scenario, setNumber } from "../../../common/test/engine/builder";
import type { MailToCompose } from "../../src/notify/mail-compose";
import { type MailThread, openMailThread } from "../../src/notify/mail-thread";
import { pdfText } from "./pdf-text";

/** A real deal's settlement summary, as the respondent sees it. */
function dealSummary(): SettlementSummary {
  const s = new Scenario().create({ title: "Thread v. Loop", termsText: "Pays $_____ in 30 days." }).cast();
  s.ok({ type: "ApproveTerms", actor: CLAIMANT, version: 1 } as Command);
  s.ok({ type: "ApproveTerms", actor: RESPONDENT, version: 1 } as Command);
  s.ok(setNumber(CLAIMANT, 1_000_000));
  s.ok(setNumber(RESPONDENT, 2_000_000));
  s.tickAt(s.s.step2ClosesAt as number);
  const view = viewState(s.s, { userId: RESPONDENT, role: "respondent" }, s.s.updatedAt, 9);
  const summary = settlementSummary(view, { stream: "respondent", position: 9, head: "0f".repeat(32) });
  if (!summary) throw new Error("no deal");
  return summary;
}
const SUMMARY = dealSummary();

function mail(i: number, extra: Partial<MailToCompose> = {}): MailToCompose {
  return {
    from: "Backchannel <no-reply@backchannel.test>",
    to: `member-${i}@example.test`,
    subject: `Subject ${i}`,
    text: `Text of mail ${i}`,
    html: `<p>Html of mail ${i}</p>`,
    headers: { "X-Test": String(i) },
    messageId: `<notice-${i}@backchannel>`,
    date: Date.UTC(2026, 11, 2, 12, 0, i),
    attachments: [{ filename: "session.ics", contentType: "text/calendar", content: `BEGIN:VCALENDAR ${i}` }],
    ...extra,
  };
}

let thread: MailThread | null = null;
afterEach(async () => {
  await thread?.close();
  thread = null;
});

describe("the mail thread", () => {
  it("composes many mails at once, each reply to its own request, CRLF line ends", async () => {
    thread = openMailThread();
    const t = thread;
    const messages = await Promise.all(Array.from({ length: 40 }, (_, i) => t.compose(mail(i))));
    for (const [i, bytes] of messages.entries()) {
      expect(Buffer.isBuffer(bytes)).toBe(true);
      expect(bytes.toString("latin1")).not.toMatch(/[^\r]\n/);
      const parsed = await simpleParser(bytes);
      expect(parsed.messageId).toBe(`<notice-${i}@backchannel>`);
      expect(parsed.subject).toBe(`Subject ${i}`);
      expect(parsed.text?.trim()).toBe(`Text of mail ${i}`);
      expect(parsed.date?.getTime()).toBe(Date.UTC(2026, 11, 2, 12, 0, i));
      expect(parsed.attachments.map((a) => a.content.toString())).toEqual([`BEGIN:VCALENDAR ${i}`]);
    }
  });

  it("attaches a deal mail's settlement summary as a PDF rendered in the thread", async () => {
    thread = openMailThread();
    const parsed = await simpleParser(await thread.compose(mail(1, { settlement: SUMMARY })));
    const pdf = parsed.attachments.find((a) => a.contentType === "application/pdf");
    expect(pdf?.filename).toBe("Thread v. Loop settlement.pdf");
    const words = pdfText(pdf?.content as Buffer);
    expect(words).toContain("Thread v. Loop");
    expect(words).toContain(SUMMARY.amount);
  });

  it("a thread that stops fails the mails in flight; the next mail starts a new thread", async () => {
    thread = openMailThread();
    const inFlight = thread.compose(mail(7, { settlement: SUMMARY }));
    await thread.close();
    await expect(inFlight).rejects.toThrow(/mail thread stopped/);
    const again = await simpleParser(await thread.compose(mail(8)));
    expect(again.messageId).toBe("<notice-8@backchannel>");
  });
});
