// The channels a notice leaves the page by: mail (mail.ts) and Web Push (push.ts). The outbox (outbox.ts) stores
// every notice to send in the command's own transaction, and a scheduler trigger delivers each one through its
// channel, once: see docs/architecture.md, "Notifications".
import type { NoticeKind, SessionState, SettlementSummary } from "@backchannel/common";
import type { SettlementPdfOptions } from "./settlement-pdf";

/** One stored notice, as the outbox hands it to a channel. Never holds a side's number; never an amount. */
export interface PendingNotice {
  id: string;
  sessionId: string | null;
  /** the member it is for; null for mail to an address that has no account yet (an invitation) */
  userId: string | null;
  /** where mail goes: the member's address, or the invited address */
  email: string;
  /** the recipient's display name, when a member */
  name: string | null;
  kind: NoticeKind;
  title: string;
  body: string;
  /** an invitation's link (it holds the invitation's token); cleared once sent */
  link: string | null;
}

/** What a delivery came to; stored on the notice. */
export type DeliveryOutcome = "sent" | "opted-out" | "no-subscription" | "not-a-member" | "not-configured";

export interface MailChannel {
  /**
   * Sends one notice by mail. `session`: the session as it stands now (null for none or unreadable); the deal mail
   * adds the amount and the settlement summary from it, only when the recipient is one of its members. Throws on a
   * transient failure (the trigger retries).
   */
  send(notice: PendingNotice, session: SessionState | null): Promise<DeliveryOutcome>;
  /** where mail goes: "smtp://host:port" (no credentials) or the outbox folder's path */
  readonly destination: string;
  /** Lays out a settlement summary as a PDF in the mail's thread, off the event loop (a download's: settlement.pdf). */
  settlementPdf(summary: SettlementSummary, options: SettlementPdfOptions): Promise<Uint8Array>;
  close(): Promise<void>;
}

export interface PushChannel {
  /** Sends to every subscription of notice.userId; drops subscriptions the push service says are gone. */
  send(notice: PendingNotice): Promise<DeliveryOutcome>;
  /** the VAPID public key browsers subscribe with (base64url) */
  readonly publicKey: string;
}
