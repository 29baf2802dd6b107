// What the page tells a person of events that arrive while it is open: toasts, unread messages per room, and the
// count of unseen notices in the tab's title. What a notice says is common's noticeFor (the same function the
// server's mail and push use), so the page never says more, or other, than the other channels. Pure: the store
// (src/store/notices.ts) keeps the state and the timers; the unit tests call these directly.
import {
  NOTICE_CHANNELS,
  type Notice,
  type NoticePreferences,
  noticeFor,
  type Role,
  type RoomId,
  type SessionView,
} from "@backchannel/common";
import type { LoggedEvent } from "./reduce";

/** At most this many toasts show at once; a new one pushes the oldest out. */
export const MAX_TOASTS = 3;
/** A toast leaves by itself after this long, except the deal's, which stays until dismissed. */
export const TOAST_MS = 8_000;

export interface Toast {
  id: number;
  notice: Notice;
  /** when it leaves by itself; null: it stays until the person dismisses it */
  expiresAt: number | null;
}

/** The notices one viewer gets for events it received, in order (its own acts and unnoticed events give none). */
export function noticesFor(events: readonly LoggedEvent[], view: SessionView): Notice[] {
  const viewer = { userId: view.viewer.userId, role: view.viewer.role };
  const ctx = {
    title: view.title,
    nameOf: (userId: string) => view.members.find((m) => m.userId === userId)?.name,
  };
  const out: Notice[] = [];
  for (const { event } of events) {
    const notice = noticeFor(event, viewer, ctx);
    if (notice) out.push(notice);
  }
  return out;
}

/**
 * Whether a notice may also go outside the page (a browser notification while the tab is hidden): only kinds the
 * push channel carries (NOTICE_CHANNELS), and not those the person turned off for push in their settings (`push`:
 * their preferences, null while unknown).
 */
export function allowedOutside(notice: Notice, push: NoticePreferences["push"] | null): boolean {
  return NOTICE_CHANNELS[notice.kind].push && push?.[notice.kind] !== false;
}

/** A message gets a toast only when its room is not the one on screen: there the message itself shows. */
export function wantsToast(notice: Notice, roomOnScreen: RoomId | null): boolean {
  return !(notice.kind === "message" && notice.room !== undefined && notice.room === roomOnScreen);
}

/** The toast for a notice shown at `now`: the deal's stays, every other leaves after TOAST_MS. */
export function toastFor(id: number, notice: Notice, now: number): Toast {
  return { id, notice, expiresAt: notice.kind === "deal" ? null : now + TOAST_MS };
}

/**
 * Adds a toast at the end; beyond `max`, the oldest ones leave. A toast that stays (the deal) leaves only when
 * every toast shown is one that stays.
 */
export function addToast(toasts: readonly Toast[], toast: Toast, max = MAX_TOASTS): Toast[] {
  const next = [...toasts, toast];
  while (next.length > max) {
    const oldestPassing = next.findIndex((t) => t.expiresAt !== null);
    next.splice(oldestPassing === -1 ? 0 : oldestPassing, 1);
  }
  return next;
}

/**
 * The toasts still true after `events`: a reminder that the viewer's side has no number yet stops being true once
 * Step 2 has closed, the session has ended or the side has entered its number (by this member or another of the
 * side), so its toast goes at once rather than stand beside "Step 2 closed" until its time is up.
 */
export function withoutMoot(toasts: readonly Toast[], events: readonly LoggedEvent[], viewer: Role): Toast[] {
  const moot = events.some(
    ({ event }) =>
      event.type === "Step2Closed" ||
      event.type === "DealMade" ||
      event.type === "SessionEnded" ||
      (event.type === "NumberSet" && event.side === viewer),
  );
  if (!moot) return toasts as Toast[];
  const kept = toasts.filter((t) => t.notice.kind !== "reminder");
  return kept.length === toasts.length ? (toasts as Toast[]) : kept;
}

export function dismissToast(toasts: readonly Toast[], id: number): Toast[] {
  return toasts.filter((t) => t.id !== id);
}

/** The toasts still showing at `now`. */
export function expireToasts(toasts: readonly Toast[], now: number): Toast[] {
  const kept = toasts.filter((t) => t.expiresAt === null || t.expiresAt > now);
  return kept.length === toasts.length ? (toasts as Toast[]) : kept;
}

/** When the next toast leaves by itself, or null. */
export function nextExpiry(toasts: readonly Toast[]): number | null {
  let next: number | null = null;
  for (const t of toasts)
    if (t.expiresAt !== null && (next === null || t.expiresAt < next)) next = t.expiresAt;
  return next;
}

/**
 * One toast for what a catch-up brought (after a reconnect): the deal on its own, the rest summed up as
 * "3 updates while you were away" (a single one as itself).
 */
export function catchUpNotices(notices: readonly Notice[], sessionTitle: string): Notice[] {
  const deal = notices.filter((n) => n.kind === "deal");
  const rest = notices.filter((n) => n.kind !== "deal");
  if (rest.length <= 1) return [...deal, ...rest];
  return [
    ...deal,
    {
      kind: "update",
      title: `${rest.length} updates while you were away`,
      body: `${sessionTitle} changed while this page was not connected: the page now shows where it stands.`,
    },
  ];
}

/** Unread messages per room. */
export type UnreadCounts = Partial<Record<RoomId, number>>;

/** Counts the message notices posted in rooms other than the one on screen. */
export function countUnread(
  unread: UnreadCounts,
  notices: readonly Notice[],
  roomOnScreen: RoomId | null,
): UnreadCounts {
  let next = unread;
  for (const n of notices) {
    if (n.kind !== "message" || n.room === undefined || n.room === roomOnScreen) continue;
    next = { ...next, [n.room]: (next[n.room] ?? 0) + 1 };
  }
  return next;
}

/** Opening a room reads its messages. */
export function clearUnread(unread: UnreadCounts, room: RoomId): UnreadCounts {
  if (!unread[room]) return unread;
  const { [room]: _read, ...rest } = unread;
  return rest;
}

/**
 * The browser tab's title: "(2) Step 3 — live bidding — closes in 4:05 · Smith v. Acme · Backchannel", the count
 * being the notices the person has not seen yet (arrived while the tab was hidden or the window elsewhere).
 */
export function tabTitle(status: string | null, sessionTitle: string | null, unseen: number): string {
  const parts = [status, sessionTitle, "Backchannel"].filter((p): p is string => !!p);
  return `${unseen > 0 ? `(${unseen}) ` : ""}${parts.join(" · ")}`;
}
