// The app's one session store and controller, wired to the real socket and REST API.
import { useStore } from "zustand";
import { api } from "../api";
import { saveHead } from "../session/heads";
import { disconnectSocket, socketTransport } from "../socket";
import { useAuth } from "./auth";
import { createSessionStore, SessionController, type SessionStoreState } from "./session";

export const sessionStore = createSessionStore();

export const sessionController = new SessionController({
  transport: socketTransport,
  store: sessionStore,
  fetchOwnNumber: async (sessionId) => (await api.ownNumber(sessionId)).own,
  saveHead: (head) => saveHead(head),
  onAuthExpired: () => {
    disconnectSocket();
    useAuth.getState().expire();
  },
});

export function useSession<T>(selector: (state: SessionStoreState) => T): T {
  return useStore(sessionStore, selector);
}
