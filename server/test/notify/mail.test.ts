// The mail channel against a real SMTP server (smtp-server on 127.0.0.1), every mail kind, parsed back with
// mailparser: recipients, subjects, unsubscribe links and headers, the invitation's link and calendar, the deal
// mail's summary for members only, and no confidential number in any mail.
import type { AddressInfo } from "node:net";
import {
  type Command,
  formatAmount,
  NOTICE_CHANNELS,
  NOTICE_KINDS,
  type NoticeKind,
  type SessionState,
} from "@backchannel/common";
import type { ParsedMail } from "mailparser";
import { PDFDocument } from "pdf-lib";
import { SMTPServer } from "smtp-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CLAIMANT,
  CLAIMANT_CLIENT,
  MEDIATOR,
  OUTSIDER,
  RESPONDENT,
  Scenario,
  setNumber,
  T0,
} from "../../../common/test/engine/builder";
import type { MailChannel, PendingNotice } from "../../src/notify/channels";
import { createMailChannel } from "../../src/notify/mail";
import { createUnsubscribeTokens, unsubscribeKeyFrom } from "../../src/notify/unsubscribe";
import { everythingIn, type ReceivedMail, type SmtpPeer, startSmtpPeer } from "../support/smtp";
import { pdfText } from "./pdf-text";

const PUBLIC_URL = "https://mediate.example.test";
const tokens = createUnsubscribeTokens(unsubscribeKeyFrom(Buffer.alloc(32, 9)));

/** The two sides' confidential numbers: 41,234.56 and 59,876.54 dollars. Neither may ever reach a mail. */
const DEMAND = 4_123_456;
const OFFER = 5_987_654;
const CONFIDENTIAL_SPELLINGS = ["41,234.56", "41234.56", "4123456", "59,876.54", "59876.54", "5987654"];

const TITLE = `Smith & Sons v. <Jones>, "Acme"`;
const TERMS = "The respondent pays $_____ to the claimant within 30 days.\nFull release of all claims.";

type Received = ReceivedMail;

let peer: SmtpPeer;
let port: number;
let mail: MailChannel;
let received: Received[] = [];
let dealSession: SessionState;
let step2Session: SessionState;

/** A session that reached a Step 2 deal on approved terms, run through the real engine. */
function sessionWithDeal(): SessionState {
  const s = new Scenario().create({ title: TITLE, termsText: TERMS }).cast();
  s.ok({ type: "ApproveTerms", actor: CLAIMANT, version: 1 } as Command);
  s.ok({ type: "ApproveTerms", actor: RESPONDENT, version: 1 } as Command);
  if (s.s.phase !== "step2") throw new Error("Step 2 did not open");
  s.ok(setNumber(CLAIMANT, DEMAND));
  s.ok(setNumber(RESPONDENT, OFFER));
  s.tickAt(s.s.step2ClosesAt as number);
  if (!s.s.deal) throw new Error("no deal");
  // The numbers stay in the state after the deal: the mails below are built from a state that holds them.
  if (s.s.numbers.claimant?.amount !== DEMAND || s.s.numbers.respondent?.amount !== OFFER)
    throw new Error("the confidential numbers are not in the state");
  return s.s;
}

function notice(kind: NoticeKind, overrides: Partial<PendingNotice> = {}): PendingNotice {
  return {
    id: `n-${kind}`,
    sessionId: "session-1",
    userId: RESPONDENT,
    email: "respondent@example.test",
    name: "Rita Respondent",
    kind,
    title: `Title of ${kind}`,
    body: `Body of the ${kind} notice in ${TITLE}.`,
    link: null,
    ...overrides,
  };
}

/** Sends and returns the one message the SMTP server received for it. */
async function sendAndReceive(n: PendingNotice, session: SessionState | null): Promise<Received> {
  const before = received.length;
  expect(await mail.send(n, session)).toBe("sent");
  expect(received.length).toBe(before + 1);
  return received[received.length - 1] as Received;
}

function headerLine(m: ParsedMail, name: string): string | undefined {
  return m.headerLines.find((h) => h.key === name.toLowerCase())?.line.replace(/\r?\n[ \t]+/g, " ");
}

const everything = everythingIn;

/** A mail channel sending to the test's SMTP peer, on the given clock. */
function channelToPeer(now: () => number): MailChannel {
  return createMailChannel({
    smtpUrl: `smtp://127.0.0.1:${port}`,
    from: "Backchannel <no-reply@backchannel.test>",
    dataDir: "/nonexistent-never-used",
    publicUrl: PUBLIC_URL,
    unsubscribe: tokens,
    now,
  });
}

beforeAll(async () => {
  dealSession = sessionWithDeal();
  step2Session = Scenario.inStep2({}, { seed: 3 }).s;
  peer = await startSmtpPeer();
  received = peer.received;
  port = peer.port;
  mail = channelToPeer(() => T0 + 3 * 24 * 3600_000);
});

afterAll(async () => {
  await mail?.close();
  await peer?.close();
});

describe("mail over SMTP", () => {
  it("names the SMTP server as its destination, without credentials", () => {
    expect(mail.destination).toBe(`smtp://127.0.0.1:${port}`);
    const withPassword = createMailChannel({
      smtpUrl: "smtps://alice:s3cret-pass@mail.example.test",
      from: "x@example.test",
      dataDir: "/nonexistent",
      publicUrl: PUBLIC_URL,
      unsubscribe: tokens,
    });
    expect(withPassword.destination).toBe("smtps://mail.example.test:465");
    expect(withPassword.destination).not.toContain("s3cret");
    return withPassword.close();
  });

  const MAIL_KINDS = NOTICE_KINDS.filter((k) => NOTICE_CHANNELS[k].mail);

  it.each(MAIL_KINDS)(
    "%s: one recipient, subject, body, session link and a working unsubscribe link",
    async (kind) => {
      const n =
        kind === "invitation"
          ? notice(kind, {
              userId: null,
              name: null,
              email: "invitee@example.test",
              link: `${PUBLIC_URL}/join#tok-1`,
            })
          : notice(kind);
      const r = await sendAndReceive(n, kind === "deal" ? dealSession : step2Session);

      expect(r.rcpt).toEqual([n.email]);
      expect(r.from).toBe("no-reply@backchannel.test");
      const sessionTitle = kind === "deal" ? TITLE : step2Session.title;
      expect(r.parsed.subject).toBe(`Title of ${kind}: ${sessionTitle}`);
      expect(r.parsed.messageId).toBe(`<notice-n-${kind}@backchannel>`);
      expect(r.parsed.text).toContain(n.body);
      expect(r.parsed.html).toContain(`Body of the ${kind} notice in Smith &amp; Sons v. &lt;Jones&gt;`);

      // One-click unsubscribe (RFC 8058) in the headers, and the same token in the body's link.
      const listUnsubscribe = headerLine(r.parsed, "List-Unsubscribe");
      const headerMatch = /^List-Unsubscribe: <(https:\/\/[^>]+)>$/.exec(listUnsubscribe ?? "");
      expect(headerMatch, listUnsubscribe).not.toBeNull();
      const headerUrl = new URL((headerMatch as RegExpExecArray)[1] as string);
      expect(`${headerUrl.origin}${headerUrl.pathname}`).toBe(`${PUBLIC_URL}/api/notifications/unsubscribe`);
      expect(headerLine(r.parsed, "List-Unsubscribe-Post")).toBe(
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
      );
      const headerToken = headerUrl.searchParams.get("token") as string;
      expect(tokens.verify(headerToken)).toEqual({ email: n.email, channel: "mail", kind });

      const pageLink = new RegExp(`${PUBLIC_URL}/unsubscribe\\?token=([A-Za-z0-9_.%-]+)`).exec(
        r.parsed.text ?? "",
      );
      expect(pageLink).not.toBeNull();
      expect(tokens.verify(decodeURIComponent((pageLink as RegExpExecArray)[1] as string))).toEqual({
        email: n.email,
        channel: "mail",
        kind,
      });
      expect(r.parsed.html).toContain(`href="${PUBLIC_URL}/unsubscribe?token=`);

      if (kind !== "invitation") expect(r.parsed.text).toContain(`${PUBLIC_URL}/sessions/session-1`);
      for (const spelling of CONFIDENTIAL_SPELLINGS) expect(everything(r)).not.toContain(spelling);
    },
  );

  it("invitation: the link prominently, what the session is, and its times as a text/calendar attachment", async () => {
    const link = `${PUBLIC_URL}/invitations/accept#token-abc123`;
    const r = await sendAndReceive(
      notice("invitation", {
        id: "inv-mail",
        userId: null,
        name: null,
        email: "new.person@example.test",
        title: "You are invited",
        body: `Claire Attorney invites you to ${step2Session.title} as the respondent.`,
        link,
      }),
      step2Session,
    );
    expect(r.rcpt).toEqual(["new.person@example.test"]);
    expect(r.parsed.text).toContain(`Accept the invitation: ${link}`);
    expect(r.parsed.html).toMatch(
      new RegExp(`<a href="${link.replace(/[.#/]/g, "\\$&")}"[^>]*>Accept the invitation</a>`),
    );
    expect(r.parsed.text).toContain("confidential");
    expect(r.parsed.text).toContain("Step 2 closes: ");

    const ics = r.parsed.attachments.find((a) => a.contentType === "text/calendar");
    expect(ics, "a text/calendar attachment").toBeDefined();
    const calendar = (ics as { content: Buffer }).content.toString("utf8");
    expect(calendar).toMatch(/^BEGIN:VCALENDAR\r\n/);
    expect(calendar).toContain(`UID:session-1-step2-close@backchannel`);
    const closes = new Date(step2Session.step2ClosesAt as number).toISOString().replace(/[-:]|\.\d{3}/g, "");
    expect(calendar).toContain(`DTSTART:${closes}`);
    // No amount in an invitation at all.
    expect(r.parsed.text).not.toMatch(/\$\s?\d/);
  });

  it("deal to a member: the amount, how and when, the parties, the terms with the blank filled, the rules", async () => {
    const deal = dealSession.deal as NonNullable<SessionState["deal"]>;
    const amount = formatAmount(deal.amount, "USD");
    const r = await sendAndReceive(
      notice("deal", { id: "deal-member", title: "Deal reached", body: `A deal was made in ${TITLE}.` }),
      dealSession,
    );
    const text = r.parsed.text ?? "";
    expect(text).toContain(`Settlement amount: ${amount}`);
    expect(text).toContain("Step 2: the two sealed numbers met");
    expect(text).toContain("When: ");
    expect(text).toContain("- Claire Attorney (Claimant)");
    expect(text).toContain(`- ${RESPONDENT} (Respondent)`);
    expect(text).toContain(`- ${MEDIATOR} (Mediator)`);
    expect(text).toContain(`- ${CLAIMANT_CLIENT} (Claimant)`);
    expect(text).toContain(`The respondent pays ${amount} to the claimant within 30 days.`);
    expect(text).not.toContain("_____");
    expect(text).toContain("- Step 2 lasts 48 hours. Nothing is compared before its deadline."); // describeRules
    expect(r.parsed.html).toContain(`The respondent pays ${amount} to the claimant`);
    for (const spelling of CONFIDENTIAL_SPELLINGS) expect(everything(r)).not.toContain(spelling);

    // The same summary as a PDF attachment, announced in the body.
    expect(text).toContain("The attached PDF (settlement.pdf) holds this summary");
    const pdfs = r.parsed.attachments.filter((a) => a.contentType === "application/pdf");
    expect(pdfs).toHaveLength(1);
    const pdf = pdfs[0] as (typeof pdfs)[number];
    expect(pdf.filename).toBe("Smith Sons v. Jones Acme settlement.pdf");
    expect(pdf.content.subarray(0, 5).toString("latin1")).toBe("%PDF-");
    expect((await PDFDocument.load(pdf.content)).getPageCount()).toBeGreaterThanOrEqual(1);
    const pdfWords = pdfText(pdf.content);
    expect(pdfWords).toContain(amount);
    expect(pdfWords).toContain(`The respondent pays ${amount} to the claimant within 30 days.`);
    expect(pdfWords).toContain(`${RESPONDENT} (Respondent)`);
    for (const spelling of CONFIDENTIAL_SPELLINGS) expect(pdfWords).not.toContain(spelling);
  });

  it("a deal's members share one rendered PDF; another deal gets its own", async () => {
    // A clock that moves on at every reading: a PDF rendered for each mail would carry a different creation date.
    let clock = T0 + 3 * 24 * 3600_000;
    const moving = channelToPeer(() => (clock += 1000));
    const pdfOf = async (n: PendingNotice, session: SessionState) => {
      const before = received.length;
      expect(await moving.send(n, session)).toBe("sent");
      const got = received.slice(before);
      expect(got).toHaveLength(1);
      const pdf = (got[0] as Received).parsed.attachments.find((a) => a.contentType === "application/pdf");
      expect(pdf, n.id).toBeDefined();
      return (pdf as NonNullable<typeof pdf>).content;
    };
    try {
      const toRespondent = await pdfOf(notice("deal", { id: "shared-1" }), dealSession);
      const toClaimant = await pdfOf(
        notice("deal", { id: "shared-2", userId: CLAIMANT, email: "claimant@example.test", name: "Claire" }),
        dealSession,
      );
      expect(toClaimant.equals(toRespondent)).toBe(true);
      // Another deal (another title): a PDF of its own, with its own title.
      const other = { ...dealSession, title: "Another v. Deal" };
      const toOther = await pdfOf(notice("deal", { id: "shared-3" }), other);
      expect(toOther.equals(toRespondent)).toBe(false);
      expect(pdfText(toOther)).toContain("Another v. Deal");
    } finally {
      await moving.close();
    }
  });

  it("deal to someone who is not a member: nothing sent, or (address only, no account) no amount and no summary", async () => {
    const deal = dealSession.deal as NonNullable<SessionState["deal"]>;
    const amountDigits = String(deal.amount / 100);

    const before = received.length;
    expect(await mail.send(notice("deal", { id: "deal-outsider", userId: OUTSIDER }), dealSession)).toBe(
      "not-a-member",
    );
    expect(received.length).toBe(before);

    for (const [id, n, session] of [
      ["deal-address", notice("deal", { id: "deal-address", userId: null }), dealSession],
      ["deal-nosession", notice("deal", { id: "deal-nosession" }), null],
    ] as const) {
      const r = await sendAndReceive(n, session);
      const all = everything(r);
      expect(all, id).not.toContain(formatAmount(deal.amount, "USD"));
      expect(all, id).not.toContain(amountDigits);
      expect(r.parsed.text, id).not.toMatch(/\$\s?\d/);
      expect(r.parsed.text, id).not.toContain("Settlement amount");
      expect(r.parsed.text, id).not.toContain("The respondent pays");
      expect(r.parsed.text, id).not.toContain("settlement.pdf");
      expect(r.parsed.attachments, id).toHaveLength(0);
      for (const spelling of CONFIDENTIAL_SPELLINGS) expect(all).not.toContain(spelling);
    }
  });

  it.each(["ended", "proposal", "consent", "reminder", "step2-open"] as const)(
    "%s to a user who is not a member is not sent",
    async (kind) => {
      const before = received.length;
      expect(await mail.send(notice(kind, { userId: OUTSIDER }), step2Session)).toBe("not-a-member");
      expect(received.length).toBe(before);
    },
  );

  it("a retry of the same notice carries the same Message-ID", async () => {
    const n = notice("ended", { id: "retry-1" });
    const first = await sendAndReceive(n, step2Session);
    const second = await sendAndReceive(n, step2Session);
    expect(first.parsed.messageId).toBe("<notice-retry-1@backchannel>");
    expect(second.parsed.messageId).toBe(first.parsed.messageId);
  });

  it("throws when the SMTP server cannot be reached (the caller retries)", async () => {
    const closed = new SMTPServer({ authOptional: true, logger: false });
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", () => resolve()));
    const deadPort = (closed.server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const dead = createMailChannel({
      smtpUrl: `smtp://127.0.0.1:${deadPort}`,
      from: "no-reply@backchannel.test",
      dataDir: "/nonexistent",
      publicUrl: PUBLIC_URL,
      unsubscribe: tokens,
    });
    try {
      await expect(dead.send(notice("ended", { id: "dead" }), step2Session)).rejects.toThrow();
    } finally {
      await dead.close();
    }
  });
});
