// What the person at the page is told of the open session's events as they arrive (src/session/notices.ts decides
// the words, with common's noticeFor): toasts, unread messages per room, the unseen count in the tab's title, and a
// browser notification while the tab is hidden. The session controller hands it every event that arrives after
// opening (ControllerDeps.onEvents); the opening snapshot is never news.
import type { Notice, NoticePreferences, RoomId, SessionView } from "@backchannel/common";
import { createStore, type StoreApi } from "zustand/vanilla";
import {
  addToast,
  allowedOutside,
  catchUpNotices,
  clearUnread,
  countUnread,
  dismissToast,
  expireToasts,
  nextExpiry,
  noticesFor,
  TOAST_MS,
  type Toast,
  toastFor,
  type UnreadCounts,
  wantsToast,
  withoutMoot,
} from "../session/notices";
import type { LoggedEvent } from "../session/reduce";
import type { ArrivalHow } from "./session";

export interface NoticesState {
  sessionId: string | null;
  toasts: Toast[];
  /** unread messages per room, counted for rooms not on screen */
  unread: UnreadCounts;
  /** notices that arrived while the person was not looking at the page (the tab's title counts them) */
  unseen: number;
  /** the room whose messages are on screen (the Rooms panel's open tab), if any */
  roomOnScreen: RoomId | null;
}

const EMPTY: NoticesState = { sessionId: null, toasts: [], unread: {}, unseen: 0, roomOnScreen: null };

export interface NoticeDeps {
  now(): number;
  /** the person is looking at this page: the tab is visible and its window has the focus */
  attended(): boolean;
  /**
   * Tells the person outside the page (a browser notification). Called only for kinds the push channel carries
   * (NOTICE_CHANNELS) and the person did not turn off for push, and only while the page is not attended; it shows
   * nothing unless the browser allows it and the tab is hidden.
   */
  notifyOutside?(notice: Notice, tag: string): void;
  setTimer?(fn: () => void, ms: number): unknown;
  clearTimer?(handle: unknown): void;
}

/** Notifications with one tag replace each other: one per session and kind (per room for messages). */
export function noticeTag(sessionId: string, notice: Notice): string {
  return `${sessionId}:${notice.kind}${notice.room ? `:${notice.room}` : ""}`;
}

export class NoticeCenter {
  readonly store: StoreApi<NoticesState> = createStore<NoticesState>()(() => ({ ...EMPTY }));
  private nextId = 1;
  private timer: unknown = null;
  private held = false;
  /** the person's push preferences (the settings page's), once known */
  private pushPrefs: NoticePreferences["push"] | null = null;
  private readonly setTimer: (fn: () => void, ms: number) => unknown;
  private readonly clearTimer: (handle: unknown) => void;

  constructor(private readonly deps: NoticeDeps) {
    this.setTimer = deps.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    this.clearTimer = deps.clearTimer ?? ((h) => clearTimeout(h as ReturnType<typeof setTimeout>));
  }

  private get state(): NoticesState {
    return this.store.getState();
  }

  /** A session page opened: nothing of another session carries over. */
  open(sessionId: string): void {
    if (this.state.sessionId === sessionId) return;
    this.close();
    this.store.setState({ ...EMPTY, sessionId });
  }

  close(): void {
    this.cancelTimer();
    this.held = false;
    this.store.setState({ ...EMPTY });
  }

  /** Events that arrived for the open session (the controller's onEvents). */
  receive(sessionId: string, events: readonly LoggedEvent[], view: SessionView, how: ArrivalHow): void {
    if (sessionId !== this.state.sessionId) return;
    // What these events made untrue leaves first, even when they bring no notice of their own.
    const still = withoutMoot(this.state.toasts, events, view.viewer.role);
    const notices = noticesFor(events, view);
    if (notices.length === 0) {
      if (still !== this.state.toasts) {
        this.store.setState({ toasts: still });
        this.schedule();
      }
      return;
    }
    const { roomOnScreen } = this.state;
    const now = this.deps.now();
    const attended = this.deps.attended();
    const told = how === "catch-up" ? catchUpNotices(notices, view.title) : notices;
    let toasts = still;
    for (const n of told)
      if (wantsToast(n, roomOnScreen)) toasts = addToast(toasts, toastFor(this.nextId++, n, now));
    this.store.setState({
      toasts,
      unread: countUnread(this.state.unread, notices, roomOnScreen),
      unseen: attended ? this.state.unseen : this.state.unseen + notices.length,
    });
    if (!attended && this.deps.notifyOutside) {
      for (const n of told)
        if (allowedOutside(n, this.pushPrefs)) this.deps.notifyOutside(n, noticeTag(sessionId, n));
    }
    this.schedule();
  }

  /** The person's push preferences, as the server keeps them: a kind turned off for push stays in the page. */
  setPushPreferences(push: NoticePreferences["push"] | null): void {
    this.pushPrefs = push;
  }

  dismiss(id: number): void {
    this.store.setState({ toasts: dismissToast(this.state.toasts, id) });
    this.schedule();
  }

  /** The person looks at the page again: the title's count goes. */
  seen(): void {
    if (this.state.unseen !== 0) this.store.setState({ unseen: 0 });
  }

  /** The Rooms panel shows this room (null: no room on screen): its messages are read. */
  showRoom(room: RoomId | null): void {
    this.store.setState({
      roomOnScreen: room,
      unread: room === null ? this.state.unread : clearUnread(this.state.unread, room),
    });
  }

  /**
   * While the pointer or the keyboard focus is on the toasts they stay (time to read, or to reach the close
   * button); once it leaves, each gets its full time again.
   */
  hold(held: boolean): void {
    if (held === this.held) return;
    this.held = held;
    if (held) {
      this.cancelTimer();
      return;
    }
    const until = this.deps.now() + TOAST_MS;
    this.store.setState({
      toasts: this.state.toasts.map((t) => (t.expiresAt === null ? t : { ...t, expiresAt: until })),
    });
    this.schedule();
  }

  /** Removes the toasts whose time is up, then waits for the next. */
  tick(): void {
    this.timer = null;
    if (this.held) return;
    const toasts = expireToasts(this.state.toasts, this.deps.now());
    if (toasts !== this.state.toasts) this.store.setState({ toasts });
    this.schedule();
  }

  private cancelTimer(): void {
    if (this.timer !== null) this.clearTimer(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    this.cancelTimer();
    if (this.held) return;
    const at = nextExpiry(this.state.toasts);
    if (at === null) return;
    this.timer = this.setTimer(() => this.tick(), Math.max(0, at - this.deps.now()));
  }
}
