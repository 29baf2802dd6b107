// The mail channel: renders a notice (mail-templates.ts) and hands it to an SMTP server (SMTP_URL), or, with no SMTP
// server configured, writes it as an .eml file into <dataDir>/outbox, so no mail is ever dropped silently: a developer
// or operator can open the files, and a later relay can pick them up. Each mail's Message-ID comes from the notice's
// id, so a retry after a send that may have half-finished is recognisable as the same message. A member's deal mail
// carries the settlement summary as a PDF attachment (settlement-pdf.ts). The message itself is composed in a thread of
// its own (mail-thread.ts), off the event loop.
import { mkdirSync } from "node:fs";
import { mkdir, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import type { SessionState } from "@backchannel/common";
import nodemailer from "nodemailer";
import type { DeliveryOutcome, MailChannel, PendingNotice } from "./channels";
import { envelopeFrom } from "./mail-compose";
import { isMemberRecipient } from "./mail-templates";
import { openMailThread } from "./mail-thread";
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

  // Messages are composed (the deal mail's PDF laid out, the MIME encoded) in a thread of their own: mail-thread.ts.
  const thread = openMailThread();

  /** The message's bytes (rendered and composed in the mail thread), and the envelope to send them with. */
  const render = async (notice: PendingNotice, session: SessionState | null) => {
    const message = await thread.render({
      notice,
      session,
      publicUrl,
      unsubscribeToken: opts.unsubscribe.sign({ email: notice.email, channel: "mail", kind: notice.kind }),
      from: opts.from,
      messageId: messageIdFor(notice.id),
      now: now(),
    });
    // The envelope names exactly the one recipient: nothing else in the message can add one.
    return { message, envelope: { from: envelopeFrom(opts.from), to: [notice.email] } };
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
      settlementPdf: thread.pdf,
      async send(notice, session) {
        const refused = refuse(notice, session);
        if (refused) return refused;
        // Throws on any refusal or connection failure; the caller's trigger retries.
        const { message, envelope } = await render(notice, session);
        await transport.sendMail({ envelope, raw: message });
        return "sent";
      },
      async close() {
        transport.close();
        await thread.close();
      },
    };
  }

  const folder = path.resolve(opts.dataDir, OUTBOX_FOLDER);
  mkdirSync(folder, { recursive: true });
  return {
    destination: folder,
    settlementPdf: thread.pdf,
    async send(notice, session) {
      const refused = refuse(notice, session);
      if (refused) return refused;
      const { message } = await render(notice, session);
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
      await thread.close();
    },
  };
}
