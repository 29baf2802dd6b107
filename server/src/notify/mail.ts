// The mail channel: renders a notice (mail-templates.ts) and hands it to an SMTP server (SMTP_URL), or, with no SMTP
// server configured, writes it as an .eml file into <dataDir>/outbox, so no mail is ever dropped silently: a developer
// or operator can open the files, and a later relay can pick them up. Each mail's Message-ID comes from the notice's
// id, so a retry after a send that may have half-finished is recognisable as the same message. A member's deal mail
// carries the settlement summary as a PDF attachment (settlement-pdf.ts), rendered here because that is asynchronous.
import { mkdirSync } from "node:fs";
import { mkdir, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import type { SessionState, SettlementSummary } from "@backchannel/common";
import nodemailer from "nodemailer";
import type { DeliveryOutcome, MailChannel, PendingNotice } from "./channels";
import { isMemberRecipient, renderMail } from "./mail-templates";
import { settlementFileName, settlementPdf } from "./settlement-pdf";
import type { UnsubscribeTokens } from "./unsubscribe";

export interface MailChannelOptions {
  /** smtp:// or smtps:// URL, credentials inside; absent: mail goes to <dataDir>/outbox */
  smtpUrl?: string;
  from: string;
  dataDir: string;
  publicUrl: string;
  unsubscribe: UnsubscribeTokens;
  now?: () => number;
}

export const OUTBOX_FOLDER = "outbox";
/** Settlement PDFs kept for the next mail of the same deal (see pdfOf). */
const SHARED_PDFS = 16;

/** Stable per notice: `<notice-<id>@backchannel>`. */
export function messageIdFor(noticeId: string): string {
  return `<notice-${noticeId.replace(/[^A-Za-z0-9._-]/g, "_")}@backchannel>`;
}

/** "smtp://host:port" with no credentials, path or query: safe to log and to show an operator. */
export function smtpDestination(smtpUrl: string): string {
  const u = new URL(smtpUrl);
  const secure = u.protocol === "smtps:";
  const port = u.port || (secure ? "465" : "587");
  return `${secure ? "smtps" : "smtp"}://${u.hostname}:${port}`;
}

export function createMailChannel(opts: MailChannelOptions): MailChannel {
  const now = opts.now ?? Date.now;
  const publicUrl = opts.publicUrl.replace(/\/+$/, "");

  // A deal's members are sent the same summary: its PDF is rendered once and shared by their mails. Rendering holds the
  // event loop for some 2 ms (pdf-lib lays the text out synchronously), which, once per member, was a tenth of the
  // embedded node's CPU in the benchmark's 100 deals among 1,000 live sessions. The last few summaries are kept.
  const pdfs = new Map<string, Promise<Uint8Array>>();
  const pdfOf = (summary: SettlementSummary): Promise<Uint8Array> => {
    const key = JSON.stringify(summary);
    let pdf = pdfs.get(key);
    if (!pdf) {
      pdf = settlementPdf(summary, { now: now() });
      pdfs.set(key, pdf);
      pdf.catch(() => pdfs.delete(key));
      if (pdfs.size > SHARED_PDFS) pdfs.delete(pdfs.keys().next().value as string);
    }
    return pdf;
  };

  const render = async (notice: PendingNotice, session: SessionState | null) => {
    const mail = renderMail(notice, session, { publicUrl, unsubscribe: opts.unsubscribe, now: now() });
    // A member's deal mail carries its settlement summary as a PDF too (the body says so); nobody else's does.
    const attachments = [...(mail.attachments ?? [])];
    if (mail.settlement) {
      attachments.push({
        filename: settlementFileName(mail.settlement.title),
        contentType: "application/pdf",
        content: Buffer.from(await pdfOf(mail.settlement)),
      });
    }
    return {
      from: opts.from,
      to: notice.email,
      // The envelope names exactly the one recipient: nothing else in the message can add one.
      envelope: { from: envelopeFrom(opts.from), to: [notice.email] },
      subject: mail.subject,
      text: mail.text,
      html: mail.html,
      headers: mail.headers,
      messageId: messageIdFor(notice.id),
      date: new Date(now()),
      ...(attachments.length > 0 ? { attachments } : {}),
    };
  };

  /** An invitation goes to an address, not a member; every other kind only to a current member of its session. */
  const refuse = (notice: PendingNotice, session: SessionState | null): DeliveryOutcome | null =>
    notice.kind !== "invitation" &&
    notice.userId !== null &&
    session !== null &&
    !isMemberRecipient(notice, session)
      ? "not-a-member"
      : null;

  if (opts.smtpUrl) {
    // Bounded waits: a stuck server fails the attempt (the trigger retries) instead of holding a worker for minutes.
    const transport = nodemailer.createTransport(opts.smtpUrl, {
      pool: true,
      maxConnections: 2,
      connectionTimeout: 30_000,
      greetingTimeout: 30_000,
      socketTimeout: 60_000,
    } as never);
    return {
      destination: smtpDestination(opts.smtpUrl),
      async send(notice, session) {
        const refused = refuse(notice, session);
        if (refused) return refused;
        // Throws on any refusal or connection failure; the caller's trigger retries.
        await transport.sendMail(await render(notice, session));
        return "sent";
      },
      async close() {
        transport.close();
      },
    };
  }

  const folder = path.resolve(opts.dataDir, OUTBOX_FOLDER);
  mkdirSync(folder, { recursive: true });
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: "windows" });
  return {
    destination: folder,
    async send(notice, session) {
      const refused = refuse(notice, session);
      if (refused) return refused;
      const info = await transport.sendMail(await render(notice, session));
      const message = info.message as unknown;
      if (!Buffer.isBuffer(message)) throw new Error("the mail was not rendered to a buffer");
      const stamp = new Date(now()).toISOString().replace(/:/g, "-");
      const name = `${stamp}-${notice.id.replace(/[^A-Za-z0-9._-]/g, "_")}.eml`;
      // Written under a temporary name and renamed: the folder never holds half a mail. Off the event loop (libuv's
      // threads): creating a file costs ~0.1-1 ms here, and a burst of mails written synchronously held the loop in
      // the deal-notice bench (1.5 s of `open` in 55 s).
      const partial = path.join(folder, `.${name}.partial`);
      await mkdir(folder, { recursive: true });
      await writeFile(partial, message, { mode: 0o600 });
      await rename(partial, path.join(folder, name));
      return "sent";
    },
    async close() {
      transport.close();
    },
  };
}

/** The bare address of a From like "Backchannel <no-reply@example.com>", for the envelope's MAIL FROM. */
function envelopeFrom(from: string): string {
  const angle = /<([^<>]+)>\s*$/.exec(from);
  return (angle?.[1] ?? from).trim();
}
