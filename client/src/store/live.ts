// The app's one session store and controller, wired to the real socket and REST API, and the one notice centre
// that tells the person of what arrives.
import { useStore } from "zustand";
import { api } from "../api";
import { notifyOutside, pageAttended } from "../lib/browserNotices";
import { saveHead } from "../session/heads";
import { disconnectSocket, socketTransport } from "../socket";
import { useAuth } from "./auth";
import { createDashboardStore, DashboardController, type DashboardState } from "./dashboard";
import { NoticeCenter, type NoticesState } from "./notices";
import { createSessionStore, SessionController, type SessionStoreState } from "./session";

export const sessionStore = createSessionStore();

export const noticeCenter = new NoticeCenter({
  now: () => Date.now(),
  attended: pageAttended,
  notifyOutside,
});

/** The sign-in expired: the socket closes and the person signs in again. */
const expire = () => {
  disconnectSocket();
  useAuth.getState().expire();
};

export const sessionController = new SessionController({
  transport: socketTransport,
  store: sessionStore,
  fetchOwnNumber: async (sessionId) => (await api.ownNumber(sessionId)).own,
  saveHead: (head) => saveHead(head),
  onEvents: (sessionId, events, view, how) => noticeCenter.receive(sessionId, events, view, how),
  onAuthExpired: () => expire(),
});

export const dashboardStore = createDashboardStore();

/** The home page's live list of sessions. */
export const dashboardController = new DashboardController({
  transport: socketTransport,
  store: dashboardStore,
  onAuthExpired: expire,
  fallback: async () => (await api.listSessions()).sessions,
});

export function useDashboard<T>(selector: (state: DashboardState) => T): T {
  return useStore(dashboardStore, selector);
}

export function useSession<T>(selector: (state: SessionStoreState) => T): T {
  return useStore(sessionStore, selector);
}

export function useNotices<T>(selector: (state: NoticesState) => T): T {
  return useStore(noticeCenter.store, selector);
}
