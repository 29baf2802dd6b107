// Who is signed in. The sign-in itself lives in the HttpOnly cookie; this store only knows the person's name.
import { create } from "zustand";
import { api, type User } from "../api";

export type AuthStatus = "unknown" | "signedOut" | "signedIn";

interface AuthState {
  status: AuthStatus;
  user: User | null;
  /** set when the server ended the sign-in (expired), so the sign-in page can say why */
  expired: boolean;
  load(): Promise<void>;
  signIn(email: string, password: string): Promise<void>;
  signUp(displayName: string, email: string, password: string): Promise<void>;
  signOut(): Promise<void>;
  /** the server said the sign-in is gone (auth:expired, or a 401 on an authenticated route) */
  expire(): void;
}

export const useAuth = create<AuthState>()((set, get) => ({
  status: "unknown",
  user: null,
  expired: false,
  async load() {
    try {
      const { user } = await api.me();
      set({ status: "signedIn", user, expired: false });
    } catch {
      set({ status: "signedOut", user: null });
    }
  },
  async signIn(email, password) {
    const { user } = await api.signIn({ email, password });
    set({ status: "signedIn", user, expired: false });
  },
  async signUp(displayName, email, password) {
    const { user } = await api.signUp({ displayName, email, password });
    set({ status: "signedIn", user, expired: false });
  },
  async signOut() {
    await api.signOut().catch(() => {});
    set({ status: "signedOut", user: null, expired: false });
  },
  expire() {
    // Only a sign-in that existed can expire; a first visit is simply signed out.
    if (get().status !== "signedIn") return;
    set({ status: "signedOut", user: null, expired: true });
  },
}));
