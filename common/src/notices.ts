// What a person is told of an event, wherever they are: a toast on the page, a browser notification, a Web Push
// message, a mail. One function decides it for every channel, from the event as the viewer's role sees it
// (visibility's projection), so a notice can never say more than the viewer's own stream already does; and no
// notice text holds an amount at all (a deal's amount is shown by the page, or added to the members' deal mail).
// Pure: no I/O, no clock.
import { z } from "zod";
import type { RoomId, Side } from "./engine/types";
import { type Viewer, type VisibleEvent, viewerSide } from "./visibility";

/** The kinds of notice. Each person can turn each kind off per channel (mail, push) where the channel carries it. */
export const NOTICE_KINDS = [
  "deal",
  "ended",
  "knock",
  "consent",
  "proposal",
  "step2-open",
  "reminder",
  "update",
  "mediator",
  "message",
  "invitation",
] as const;
export type NoticeKind = (typeof NOTICE_KINDS)[number];

export const NOTICE_CHANNELS_LIST = ["mail", "push"] as const;
export type NoticeChannel = (typeof NOTICE_CHANNELS_LIST)[number];

/**
 * Which channels outside the page carry each kind (the page itself shows every notice as a toast). Push is for
 * what needs someone now (a deal, a knock, a proposal or a consent to give, a reminder); mail for what a person
 * must act on or keep. Messages and the mediator's moves stay in the page: they come by the dozen on a day.
 */
export const NOTICE_CHANNELS: Readonly<Record<NoticeKind, Readonly<Record<NoticeChannel, boolean>>>> = {
  deal: { mail: true, push: true },
  ended: { mail: true, push: false },
  knock: { mail: false, push: true },
  consent: { mail: true, push: true },
  proposal: { mail: true, push: true },
  "step2-open": { mail: true, push: true },
  reminder: { mail: true, push: true },
  update: { mail: false, push: false },
  mediator: { mail: false, push: false },
  message: { mail: false, push: false },
  invitation: { mail: true, push: false },
};

/** What people may turn off (a kind on a channel that carries it), for the preferences screen. */
export const NOTICE_LABELS: Readonly<Record<NoticeKind, string>> = {
  deal: "A deal is made",
  ended: "A session ends without a deal",
  knock: "A side asks for the mediator",
  consent: "A smart proposal needs your side's consent",
  proposal: "A proposal is put to your side",
  "step2-open": "Step 2 opens",
  reminder: "Reminders that your side has no number yet",
  update: "Step changes and results",
  mediator: "The mediator joins your room",
  message: "A message in one of your rooms",
  invitation: "You are invited to a session",
};

export interface Notice {
  kind: NoticeKind;
  /** a short headline: "Deal reached" */
  title: string;
  /** one sentence naming the session: "A deal was made in Smith v. Acme." */
  body: string;
  /** for a message: the room it was posted in (the page counts unread messages per room) */
  room?: RoomId;
}

/** What noticeFor needs besides the event: the session's title and its members' names. */
export interface NoticeContext {
  title: string;
  nameOf(userId: string): string | undefined;
}

const SIDE_NAME: Record<Side, string> = { claimant: "The claimant", respondent: "The respondent" };

/**
 * The notice a viewer gets for an event it sees, or null. `event` must be the viewer's projection of it
 * (projectEvent, or a push the viewer received). Nobody is told of their own act.
 */
export function noticeFor(event: VisibleEvent, viewer: Viewer, ctx: NoticeContext): Notice | null {
  const by = "by" in event && typeof event.by === "string" ? event.by : null;
  if (by !== null && by === viewer.userId) return null;
  const side = viewerSide(viewer);
  const t = ctx.title;
  const who = (userId: string | null) => (userId ? ctx.nameOf(userId) : undefined) ?? "Someone";
  switch (event.type) {
    case "DealMade":
      return { kind: "deal", title: "Deal reached", body: `A deal was made in ${t}.` };
    case "SessionEnded":
      if (event.outcome === "deal") return null;
      return {
        kind: "ended",
        title: "Session ended",
        body: `${t} ended without a deal (${endedHow(event.outcome)}).`,
      };
    case "MediatorRequested":
      if (side !== null) return null;
      return {
        kind: "knock",
        title: `${SIDE_NAME[event.side]} asks for you`,
        body: `${who(event.by)} (${event.side}) asks the mediator to come to their room in ${t}.`,
      };
    case "ProposalRequested":
      if (side === null || side === event.side) return null;
      return {
        kind: "consent",
        title: "A smart proposal needs your consent",
        body: `${SIDE_NAME[event.side]} asked for a smart proposal in ${t}. It is made only if your side consents.`,
      };
    case "SmartProposalMade":
      if (side === null) return null;
      return {
        kind: "proposal",
        title: "A proposal to answer",
        body: `A smart proposal was made in ${t}: your side can accept or reject it.`,
      };
    case "MediatorProposalPut":
      if (side === null) return null;
      return {
        kind: "proposal",
        title: "A proposal to answer",
        body: `The mediator put a proposal in ${t}: your side can accept or reject it.`,
      };
    case "Step2Opened":
      if (side === null) return { kind: "update", title: "Step 2 is open", body: `Step 2 opened in ${t}.` };
      return {
        kind: "step2-open",
        title: "Step 2 is open",
        body: `Step 2 opened in ${t}: enter your side's confidential number before it closes.`,
      };
    case "ReminderDue":
      return {
        kind: "reminder",
        title: "Your side has no number yet",
        body: `Step 2 of ${t} closes soon and your side has not entered its confidential number.`,
      };
    case "Step1Closed":
      return {
        kind: "update",
        title: "Step 1 closed",
        body: `The terms of ${t} are settled: the money steps follow.`,
      };
    case "Step2Closed":
      return event.deal
        ? null
        : { kind: "update", title: "Step 2 closed: no deal", body: `Step 2 of ${t} closed without a deal.` };
    case "Step3Opened":
      return { kind: "update", title: "Step 3 is open", body: `Live bidding is open in ${t}.` };
    case "ProposalResolved":
      return event.accepted
        ? null
        : {
            kind: "update",
            title: "Proposal not accepted",
            body: `The ${event.kind === "smart" ? "smart" : "mediator's"} proposal in ${t} was not accepted.`,
          };
    case "ProposalTooFarApart":
      return {
        kind: "update",
        title: "No smart proposal",
        body: `The sides of ${t} are too far apart for a smart proposal.`,
      };
    case "MemberJoined":
      return { kind: "update", title: "Someone joined", body: `${event.name} joined ${t} (${event.role}).` };
    case "MediatorLocationSet": {
      if (side === null) return null;
      if (event.location === `with_${side}`)
        return {
          kind: "mediator",
          title: "The mediator is with you now",
          body: `The mediator joined your caucus in ${t}.`,
        };
      if (event.location === "joint")
        return {
          kind: "mediator",
          title: "The mediator is in the joint room",
          body: `The mediator is in the joint room of ${t}.`,
        };
      return null;
    }
    case "MessagePosted":
      return {
        kind: "message",
        title: `Message from ${who(event.by)}`,
        body: `A new message in ${t}.`,
        room: event.room,
      };
    default:
      return null;
  }
}

function endedHow(outcome: "expired" | "withdrawn" | "cancelled"): string {
  return outcome === "expired"
    ? "time ran out"
    : outcome === "withdrawn"
      ? "a side withdrew"
      : "it was cancelled";
}

// ---------------------------------------------------------------- REST payloads (docs/protocol.md)

/** Per channel, per kind: false = turned off. Kinds the channel does not carry are absent. */
export const noticePreferencesSchema = z.strictObject({
  mail: z.partialRecord(z.enum(NOTICE_KINDS), z.boolean()),
  push: z.partialRecord(z.enum(NOTICE_KINDS), z.boolean()),
});
export type NoticePreferences = z.output<typeof noticePreferencesSchema>;

/** PUT /api/notifications/preferences: only the entries given change. */
export const updateNoticePreferencesSchema = noticePreferencesSchema.partial();

/** POST /api/notifications/push-subscriptions: a PushSubscription's JSON, as the browser gives it. */
export const pushSubscriptionSchema = z.strictObject({
  endpoint: z
    .url({ protocol: /^https?$/, error: "The push endpoint must be an http(s) address" })
    .max(2048, { error: "The push endpoint is too long" }),
  expirationTime: z.number().nullable().optional(),
  keys: z.strictObject({
    p256dh: z.string().min(1).max(200, { error: "The p256dh key is too long" }),
    auth: z.string().min(1).max(100, { error: "The auth key is too long" }),
  }),
  /** a label the person will recognise in their list ("Chrome on Android") */
  label: z.string().trim().max(100, { error: "The label can have at most 100 characters" }).optional(),
});
export type PushSubscriptionInput = z.input<typeof pushSubscriptionSchema>;

export interface PushSubscriptionView {
  id: string;
  label: string | null;
  /** the push service's host, so a person can tell their browsers apart */
  service: string;
  createdAt: number;
}

/** POST /api/notifications/unsubscribe: the token from a mail's unsubscribe link (no sign-in needed). */
export const unsubscribeSchema = z.strictObject({
  token: z
    .string()
    .min(16, { error: "Not a valid unsubscribe link" })
    .max(1000, { error: "Not a valid unsubscribe link" }),
});

/** What a Web Push message carries: never an amount, never a number. */
export const pushPayloadSchema = z.strictObject({
  kind: z.enum(NOTICE_KINDS),
  title: z.string().max(200),
  body: z.string().max(500),
  /** the page to open: /sessions/<id> */
  url: z.string().max(300),
  /** notifications with one tag replace each other */
  tag: z.string().max(200),
});
export type PushPayload = z.output<typeof pushPayloadSchema>;
