// The browser's side of being told: whether the person is looking at the page, notifications while the tab is
// hidden (asked for only when the person chooses to, never on load), and the "Not now" they may answer with.
import type { Notice } from "@backchannel/common";

const NOT_NOW_KEY = "backchannel:notifications:not-now";

/** The browser can show notifications from a page at all. */
export function notificationsSupported(): boolean {
  return typeof window !== "undefined" && "Notification" in window;
}

export type Permission = NotificationPermission | "unsupported";

export function notificationPermission(): Permission {
  return notificationsSupported() ? Notification.permission : "unsupported";
}

/** The person answered "Not now" to the offer of notifications (in this browser). */
export function saidNotNow(): boolean {
  try {
    return localStorage.getItem(NOT_NOW_KEY) !== null;
  } catch {
    return false;
  }
}

export function rememberNotNow(): void {
  try {
    localStorage.setItem(NOT_NOW_KEY, String(Date.now()));
  } catch {
    // No storage: the offer comes back next time, which is all that is lost.
  }
}

/** Asks the browser for permission: only ever from a click on an explained button. */
export async function askNotificationPermission(): Promise<Permission> {
  if (!notificationsSupported()) return "unsupported";
  try {
    return await Notification.requestPermission();
  } catch {
    return Notification.permission;
  }
}

export function pageHidden(): boolean {
  return typeof document !== "undefined" && document.visibilityState === "hidden";
}

/** The person is looking at this page: its tab is visible and its window has the focus. */
export function pageAttended(): boolean {
  if (typeof document === "undefined") return true;
  return document.visibilityState === "visible" && document.hasFocus();
}

/**
 * A notice as a browser notification, when the person allowed them and the tab is hidden. The notice's words are
 * common's noticeFor, which never hold an amount. Falls back to the service worker's registration where the page
 * may not construct notifications itself (Chrome on Android).
 */
export function notifyOutside(notice: Notice, tag: string): void {
  if (!notificationsSupported() || Notification.permission !== "granted" || !pageHidden()) return;
  const options: NotificationOptions = { body: notice.body, tag };
  try {
    const n = new Notification(notice.title, options);
    n.onclick = () => {
      window.focus();
      n.close();
    };
  } catch {
    void navigator.serviceWorker
      ?.getRegistration()
      .then((reg) => reg?.showNotification(notice.title, options))
      .catch(() => {});
  }
}

/** Calls `onSeen` whenever the person comes back to the page (tab shown, window focused, a click or a key). */
export function watchAttention(onSeen: () => void): () => void {
  const check = () => {
    if (pageAttended()) onSeen();
  };
  const events = ["focus", "pointerdown", "keydown"] as const;
  document.addEventListener("visibilitychange", check);
  for (const e of events) window.addEventListener(e, check, true);
  return () => {
    document.removeEventListener("visibilitychange", check);
    for (const e of events) window.removeEventListener(e, check, true);
  };
}
