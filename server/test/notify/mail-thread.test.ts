// The mail thread (mail-thread.ts): messages composed in a worker thread come back whole and each to its own request,
// a deal mail with its PDF; a notice rendered there (its template, the session's summary) says what rendering it here
// says; a thread that stops fails the mails in flight (their triggers retry) and the next mail starts a new one; the
// thread runs at a lower priority than the loop.
import { readdirSync, readFileSync } from "node:fs";
import { getPriority } from "node:os";
import { type Command, type SettlementSummary, settlementSummary, viewState } from "@backchannel/common";
import { simpleParser } from "mailparser";
import { afterEach, describe, expect, it } from "vitest";
import { CLAIMANT, RESPONDENT, Scenario, setNumber } from "../../../common/test/engine/builder";
import type { PendingNotice } from "../../src/notify/channels";
import {
  createComposer,
  type MailToCompose,
  type MailToRender,
  toCompose,
} from "../../src/notify/mail-compose";
import { MAIL_THREAD_NICE, type MailThread, openMailThread } from "../../src/notify/mail-thread";
import { settlementPdf } from "../../src/notify/settlement-pdf";
import { pdfText } from "./pdf-text";

/** A real deal's session. */
function dealSession() {
  const s = new Scenario().create({ title: "Thread v. Loop", termsText: "Pays $_____ in 30 days." }).cast();
  s.ok({ type: "ApproveTerms", actor: CLAIMANT, version: 1 } as Command);
  s.ok({ type: "ApproveTerms", actor: RESPONDENT, version: 1 } as Command);
  s.ok(setNumber(CLAIMANT, 1_000_000));
  s.ok(setNumber(RESPONDENT, 2_000_000));
  s.tickAt(s.s.step2ClosesAt as number);
  return s.s;
}

/** A real deal's settlement summary, as the respondent sees it. */
function dealSummary(): SettlementSummary {
  const state = dealSession();
  const view = viewState(state, { userId: RESPONDENT, role: "respondent" }, state.updatedAt, 9);
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

/** Each task (thread) of this process and its nice value, from /proc (field 19 of its stat, after the name). */
function tasksNice(): Array<{ tid: number; nice: number }> {
  return readdirSync("/proc/self/task").map((tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { tid: Number(tid), nice: Number(fields[16]) };
  });
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

  // Linux only: elsewhere a thread has no nice value of its own (and the thread does not set one).
  it.runIf(process.platform === "linux")(
    "composes at a lower priority than the loop: the thread's nice value is raised, the loop's left alone",
    async () => {
      const nice = () => tasksNice();
      const loopBefore = getPriority();
      expect(nice().filter((n) => n.nice === loopBefore + MAIL_THREAD_NICE)).toEqual([]);
      thread = openMailThread();
      await thread.compose(mail(1));
      const after = nice();
      // The process's own task is the event loop's thread: unchanged. Exactly one task (the mail thread) was lowered.
      expect(after.find((t) => t.tid === process.pid)?.nice).toBe(loopBefore);
      expect(getPriority()).toBe(loopBefore);
      expect(after.filter((t) => t.nice === Math.min(19, loopBefore + MAIL_THREAD_NICE))).toHaveLength(1);
    },
  );

  it("attaches a deal mail's settlement summary as a PDF rendered in the thread", async () => {
    thread = openMailThread();
    const parsed = await simpleParser(await thread.compose(mail(1, { settlement: SUMMARY })));
    const pdf = parsed.attachments.find((a) => a.contentType === "application/pdf");
    expect(pdf?.filename).toBe("Thread v. Loop settlement.pdf");
    const words = pdfText(pdf?.content as Buffer);
    expect(words).toContain("Thread v. Loop");
    expect(words).toContain(SUMMARY.amount);
  });

  it("lays out a download's settlement PDF in the thread, byte for byte as here", async () => {
    thread = openMailThread();
    const options = { pageSize: "Letter" as const, now: Date.UTC(2026, 11, 4, 3, 0) };
    const [there, here] = await Promise.all([thread.pdf(SUMMARY, options), settlementPdf(SUMMARY, options)]);
    expect(pdfText(there)).toContain("Thread v. Loop");
    expect(Buffer.compare(there, Buffer.from(here))).toBe(0);
  });

  it("a thread that stops fails the mails in flight; the next mail starts a new thread", async () => {
    thread = openMailThread();
    const inFlight = thread.compose(mail(7, { settlement: SUMMARY }));
    await thread.close();
    await expect(inFlight).rejects.toThrow(/mail thread stopped/);
    const again = await simpleParser(await thread.compose(mail(8)));
    expect(again.messageId).toBe("<notice-8@backchannel>");
  });

  it("renders a notice's mail in the thread as this thread would: the member's deal mail, its PDF, its unsubscribe link", async () => {
    const session = dealSession();
    const notice: PendingNotice = {
      id: "0b5e5c1e-2a4b-4c55-9a8e-5d2b8f3c7a10",
      sessionId: "5e551011-0000-4000-8000-000000000001",
      userId: RESPONDENT,
      email: "respondent@example.test",
      name: "Ray Respondent",
      kind: "deal",
      title: "Deal reached",
      body: "Your mediation reached a settlement.",
      link: null,
    };
    const request: MailToRender = {
      notice,
      session,
      publicUrl: "https://mediate.example.test",
      unsubscribeToken: "payload.mac-of-this-mail",
      from: "Backchannel <no-reply@backchannel.test>",
      messageId: "<notice-render@backchannel>",
      now: Date.UTC(2026, 11, 3, 9, 0, 0),
    };
    thread = openMailThread();
    const there = await simpleParser(await thread.render(request));
    const here = await simpleParser(await createComposer()(toCompose(request)));
    expect(there.subject).toBe(here.subject);
    expect(there.text).toBe(here.text);
    expect(there.html).toBe(here.html);
    expect(there.headers.get("list-unsubscribe")).toEqual(here.headers.get("list-unsubscribe"));
    expect(there.text).toContain("/unsubscribe?token=payload.mac-of-this-mail");
    expect(there.to).toEqual(here.to);
    // The member's deal mail: the amount in its body and its summary as a PDF.
    const amount = dealSummary().amount;
    expect(there.text).toContain(amount);
    const pdf = there.attachments.find((a) => a.contentType === "application/pdf");
    expect(pdfText(pdf?.content as Buffer)).toContain(amount);
  });
});
