// What a notice says by mail: a subject, a plain-text part and a simple, accessible HTML part, built from the stored
// notice (whose text never holds an amount) and, for two kinds, from the session as it stands now:
// - an invitation adds its link, a word on what Backchannel is, and the session's times as an .ics attachment;
// - a deal, to a member of the session only, adds the settlement summary: the amount, how and when it was made, the
//   parties, the agreed terms with the amount filled in, and the rules.
// Nothing is ever read from session.numbers, a proposal's amount or the ledger: the deal amount is the only amount a
// mail can carry, and only a member's deal mail carries it. Every mail has an unsubscribe link for its kind, in the
// body and in List-Unsubscribe (RFC 2369) with one-click POST (RFC 8058).
import {
  NOTICE_LABELS,
  type SessionState,
  type SettlementSummary,
  settlementSummary,
  settlementTextLines,
  settlementTime,
  viewState,
} from "@backchannel/common";
import { sessionCalendar } from "./calendar";
import type { PendingNotice } from "./channels";

export interface RenderOptions {
  /** the app's public base, no trailing slash (config.publicUrl) */
  publicUrl: string;
  /** this mail's unsubscribe token (unsubscribe.ts: its address, the mail channel and its kind), signed by the caller */
  unsubscribeToken: string;
  /** epoch ms: the calendar's DTSTAMP */
  now: number;
}

export interface MailAttachment {
  filename: string;
  content: string | Buffer;
  contentType: string;
}

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
  attachments?: MailAttachment[];
  headers: Record<string, string>;
  /**
   * A member's deal mail: the settlement summary its body holds. The sender (mail.ts) attaches it as a PDF
   * (settlement-pdf.ts), which the body announces; rendering a PDF is asynchronous, so it is not done here.
   */
  settlement?: SettlementSummary;
}

/** What the deal mail says of its PDF (mail.ts attaches it to a member's deal mail only). */
const SETTLEMENT_PDF_NOTE = "PDF (settlement.pdf) holds this summary, to print or keep.";

const ABOUT_BACKCHANNEL =
  "Backchannel is a confidential mediation: each side enters a settlement number that nobody else ever sees, not the other side and not the mediator. A deal is announced only when the numbers meet.";

/** True when the notice is for a member of `session` by account (the deal summary goes only to them). */
export function isMemberRecipient(notice: PendingNotice, session: SessionState | null): boolean {
  return (
    session !== null &&
    notice.userId !== null &&
    Object.hasOwn(session.members, notice.userId) &&
    session.members[notice.userId] !== undefined
  );
}

export function sessionUrl(publicUrl: string, sessionId: string | null): string {
  return sessionId === null ? `${publicUrl}/` : `${publicUrl}/sessions/${encodeURIComponent(sessionId)}`;
}

export function renderMail(
  notice: PendingNotice,
  session: SessionState | null,
  opts: RenderOptions,
): RenderedMail {
  const token = encodeURIComponent(opts.unsubscribeToken);
  const unsubscribePage = `${opts.publicUrl}/unsubscribe?token=${token}`;
  const oneClick = `${opts.publicUrl}/api/notifications/unsubscribe?token=${token}`;
  const sessionLink = sessionUrl(opts.publicUrl, notice.sessionId);
  const subject = subjectOf(notice, session);

  const text: string[] = [];
  const html: string[] = [];
  if (notice.name) {
    text.push(`Hello ${notice.name},`, "");
    html.push(p(`Hello ${esc(notice.name)},`));
  }
  text.push(notice.body, "");
  html.push(p(esc(notice.body)));

  let attachments: MailAttachment[] | undefined;
  let settlement: SettlementSummary | null = null;
  if (notice.kind === "invitation") {
    const link = notice.link ?? sessionLink;
    text.push(`Accept the invitation: ${link}`, "");
    html.push(
      button(link, "Accept the invitation"),
      small(`Or copy this address into your browser: ${esc(link)}`),
    );
    text.push(ABOUT_BACKCHANNEL, "");
    html.push(p(esc(ABOUT_BACKCHANNEL)));
    if (session !== null) {
      const times = sessionTimes(session);
      text.push(`Session: ${session.title}`, ...times.map(([label, at]) => `${label}: ${when(at)}`), "");
      html.push(
        `<h2 style="font-size:16px;margin:24px 0 8px">${esc(session.title)}</h2>`,
        dl(times.map(([label, at]) => [esc(label), esc(when(at))])),
      );
      text.push("The attached calendar file (session.ics) holds these times.", "");
      html.push(p("The attached calendar file (session.ics) holds these times."));
      attachments = [
        {
          filename: "session.ics",
          contentType: "text/calendar; charset=utf-8; method=PUBLISH",
          content: sessionCalendar({
            sessionId: session.sessionId,
            title: session.title,
            startAt: session.startAt,
            deadlines: deadlinesOf(session),
            url: sessionLink,
            now: opts.now,
          }),
        },
      ];
    }
    text.push(
      "The link is for you alone: it lets one person join. If you did not expect this invitation, ignore this mail.",
      "",
    );
    html.push(
      small(
        "The link is for you alone: it lets one person join. If you did not expect this invitation, ignore this mail.",
      ),
    );
  } else {
    settlement = memberSettlement(notice, session, opts.now);
    if (settlement) {
      const summary = dealSummary(settlement);
      text.push(...summary.text, "");
      html.push(...summary.html);
      text.push(`The attached ${SETTLEMENT_PDF_NOTE}`, "");
      html.push(p(esc(`The attached ${SETTLEMENT_PDF_NOTE}`)));
    }
    text.push(`Open the session: ${sessionLink}`, "");
    html.push(button(sessionLink, "Open the session"), small(`Or copy this address: ${esc(sessionLink)}`));
  }

  const label = NOTICE_LABELS[notice.kind];
  const footer = `You receive this mail because mail for "${label}" is on for ${notice.email}. Backchannel never puts a side's confidential number in a mail.`;
  text.push("--", footer, `Stop these mails: ${unsubscribePage}`);
  html.push(
    '<hr style="border:none;border-top:1px solid #d6d3d1;margin:24px 0">',
    `<footer style="font-size:13px;color:#57534e">${p(esc(footer))}${p(`<a href="${esc(unsubscribePage)}" style="color:#57534e">Stop these mails</a>`)}</footer>`,
  );

  return {
    subject,
    text: `${text.join("\n")}\n`,
    html: page(subject, notice.title, html.join("\n")),
    ...(attachments ? { attachments } : {}),
    ...(settlement ? { settlement } : {}),
    headers: {
      "List-Unsubscribe": `<${oneClick}>`,
      "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
      "Auto-Submitted": "auto-generated",
    },
  };
}

// ---------------------------------------------------------------- parts

function subjectOf(notice: PendingNotice, session: SessionState | null): string {
  const title = session?.title;
  const subject = title && !notice.title.includes(title) ? `${notice.title}: ${title}` : notice.title;
  return oneLine(subject).slice(0, 250);
}

/**
 * The settlement summary a member's deal mail carries, or null when the notice is not a deal mail to a member of a
 * session with a deal. Built by common's settlementSummary from the recipient's own view (viewState), as the web page
 * and the PDF are: one description of a settlement.
 */
export function memberSettlement(
  notice: PendingNotice,
  session: SessionState | null,
  now: number,
): SettlementSummary | null {
  if (notice.kind !== "deal" || !session?.deal || !isMemberRecipient(notice, session)) return null;
  const userId = notice.userId as string;
  const role = session.members[userId]?.role;
  if (!role) return null;
  return settlementSummary(viewState(session, { userId, role }, now, 0));
}

function dealSummary(summary: SettlementSummary): { text: string[]; html: string[] } {
  const text = settlementTextLines(summary);
  const html = [
    '<h2 style="font-size:16px;margin:24px 0 8px">Settlement</h2>',
    dl([
      ["Settlement amount", `<strong style="font-size:18px">${esc(summary.amount)}</strong>`],
      ["How", esc(summary.how)],
      ...(summary.bonus ? [["Bonus", esc(summary.bonus)] as [string, string]] : []),
      ["When", esc(summary.when)],
    ]),
    '<h3 style="font-size:15px;margin:16px 0 8px">Parties</h3>',
    `<ul>${summary.parties.map((m) => `<li>${esc(m.name)} (${esc(m.roleLabel)})</li>`).join("")}</ul>`,
    `<h3 style="font-size:15px;margin:16px 0 8px">Terms</h3>`,
    p(esc(summary.terms.heading)),
    `<div style="white-space:pre-wrap;border-left:3px solid #a8a29e;padding:8px 12px;background:#fafaf9">${esc(summary.terms.text)}</div>`,
    '<h3 style="font-size:15px;margin:16px 0 8px">Rules</h3>',
    `<ul>${summary.rules.map((r) => `<li>${esc(r)}</li>`).join("")}</ul>`,
  ];
  return { text, html };
}

function deadlinesOf(s: SessionState) {
  // The same deadlines viewState shows every member (common/src/visibility.ts).
  return {
    step2ClosesAt: s.step2ClosesAt,
    step3ClosesAt: s.step3ClosesAt,
    sessionEndsAt: s.sessionEndsAt,
    requestConsentBy: s.request?.consentBy ?? null,
    proposalAnswerBy: s.proposal?.answerBy ?? null,
  };
}

function sessionTimes(s: SessionState): [string, number][] {
  const d = deadlinesOf(s);
  const times: [string, number | null][] = [
    ["Starts", s.startAt],
    ["Step 2 closes", d.step2ClosesAt],
    ["Step 3 closes", d.step3ClosesAt],
    ["Session ends", d.sessionEndsAt],
  ];
  return times.filter((t): t is [string, number] => t[1] !== null);
}

/** "Monday, January 4, 2027 at 9:00 AM UTC" (common's one format for a document's time) */
const when = settlementTime;

function oneLine(s: string): string {
  return s.replace(/[\r\n\t]+/g, " ").trim();
}

export function esc(s: string): string {
  return s
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

function p(inner: string): string {
  return `<p style="margin:0 0 16px">${inner}</p>`;
}

function small(inner: string): string {
  return `<p style="margin:0 0 16px;font-size:13px;color:#57534e;word-break:break-all">${inner}</p>`;
}

function button(href: string, label: string): string {
  return `<p style="margin:24px 0"><a href="${esc(href)}" style="display:inline-block;padding:12px 20px;background:#1d4ed8;color:#ffffff;text-decoration:none;border-radius:6px;font-weight:600">${esc(label)}</a></p>`;
}

function dl(rows: [string, string][]): string {
  const items = rows
    .map(([k, v]) => `<dt style="font-weight:600">${k}</dt><dd style="margin:0 0 8px">${v}</dd>`)
    .join("");
  return `<dl style="margin:0 0 16px">${items}</dl>`;
}

function page(subject: string, heading: string, body: string): string {
  return [
    "<!doctype html>",
    '<html lang="en">',
    '<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${esc(subject)}</title></head>`,
    "<body style=\"margin:0;padding:24px;background:#f5f5f4;color:#1c1917;font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;font-size:16px;line-height:1.5\">",
    '<main style="max-width:560px;margin:0 auto;background:#ffffff;padding:24px;border-radius:8px">',
    `<h1 style="font-size:20px;margin:0 0 16px">${esc(heading)}</h1>`,
    body,
    "</main>",
    "</body>",
    "</html>",
  ].join("\n");
}
