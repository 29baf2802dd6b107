// A mail as bytes: the RFC 5322 message (MIME, CRLF line ends) of a rendered mail, with a member's deal mail's
// settlement summary attached as a PDF (settlement-pdf.ts). Pure but for its cache of PDFs; it runs in the mail thread
// (mail-worker.ts), since laying out a PDF and encoding a MIME message hold a thread for milliseconds: on the event
// loop, a deal's mails stalled the pushes of the next deal (docs/benchmarks.md).
import type { SessionState, SettlementSummary } from "@backchannel/common";
import nodemailer from "nodemailer";
import type { PendingNotice } from "./channels";
import { type MailAttachment, renderMail } from "./mail-templates";
import { settlementFileName, settlementPdf } from "./settlement-pdf";

/** Everything a message is made of; plain data, so it crosses to the mail thread as it is. */
export interface MailToCompose {
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  headers: Record<string, string>;
  messageId: string;
  /** epoch ms: the Date header, and the PDF's creation date when this mail renders it */
  date: number;
  attachments: Array<Omit<MailAttachment, "content"> & { content: string | Uint8Array }>;
  /** a member's deal mail: its settlement summary, attached as a PDF */
  settlement?: SettlementSummary;
}

export type Compose = (mail: MailToCompose) => Promise<Buffer>;

/**
 * A notice to render (mail-templates.ts) and compose; plain data too. The session's view and its rules' text, which a
 * deal mail's summary is built from, cost a few milliseconds per deal: rendering happens in the mail thread as well.
 */
export interface MailToRender {
  notice: PendingNotice;
  session: SessionState | null;
  publicUrl: string;
  /** signed on the server's thread (the thread holds no key) */
  unsubscribeToken: string;
  from: string;
  messageId: string;
  /** epoch ms: the calendar's DTSTAMP, the Date header, the PDF's creation date */
  now: number;
}

/** The message fields of a notice's mail (renderMail's output, addressed). */
export function toCompose(m: MailToRender): MailToCompose {
  const mail = renderMail(m.notice, m.session, {
    publicUrl: m.publicUrl,
    unsubscribeToken: m.unsubscribeToken,
    now: m.now,
  });
  return {
    from: m.from,
    to: m.notice.email,
    subject: mail.subject,
    text: mail.text,
    html: mail.html,
    headers: mail.headers,
    messageId: m.messageId,
    date: m.now,
    attachments: mail.attachments ?? [],
    // A member's deal mail carries its settlement summary as a PDF too (the body says so); nobody else's does.
    ...(mail.settlement ? { settlement: mail.settlement } : {}),
  };
}

/** Settlement PDFs kept for the next mail of the same deal. */
const SHARED_PDFS = 16;

export function createComposer(): Compose {
  // A deal's members are sent the same summary: its PDF is rendered once and shared by their mails (~2 ms each).
  const pdfs = new Map<string, Promise<Uint8Array>>();
  const pdfOf = (summary: SettlementSummary, now: number): Promise<Uint8Array> => {
    const key = JSON.stringify(summary);
    let pdf = pdfs.get(key);
    if (!pdf) {
      pdf = settlementPdf(summary, { now });
      pdfs.set(key, pdf);
      pdf.catch(() => pdfs.delete(key));
      if (pdfs.size > SHARED_PDFS) pdfs.delete(pdfs.keys().next().value as string);
    }
    return pdf;
  };
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: "windows" });

  return async (mail) => {
    const attachments = mail.attachments.map((a) => ({
      filename: a.filename,
      contentType: a.contentType,
      content: typeof a.content === "string" ? a.content : Buffer.from(a.content),
    }));
    if (mail.settlement)
      attachments.push({
        filename: settlementFileName(mail.settlement.title),
        contentType: "application/pdf",
        content: Buffer.from(await pdfOf(mail.settlement, mail.date)),
      });
    const info = await transport.sendMail({
      from: mail.from,
      to: mail.to,
      // The envelope names exactly the one recipient: nothing else in the message can add one.
      envelope: { from: envelopeFrom(mail.from), to: [mail.to] },
      subject: mail.subject,
      text: mail.text,
      html: mail.html,
      headers: mail.headers,
      messageId: mail.messageId,
      date: new Date(mail.date),
      ...(attachments.length > 0 ? { attachments } : {}),
    });
    const message = info.message as unknown;
    if (!Buffer.isBuffer(message)) throw new Error("the mail was not rendered to a buffer");
    return message;
  };
}

/** The bare address of a From like "Backchannel <no-reply@example.com>", for the envelope's MAIL FROM. */
export function envelopeFrom(from: string): string {
  const angle = /<([^<>]+)>\s*$/.exec(from);
  return (angle?.[1] ?? from).trim();
}
