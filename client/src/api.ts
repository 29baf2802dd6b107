// The REST half of the protocol: JSON over fetch, authenticated by the HttpOnly `bc_session` cookie the
// server sets (nothing secret is kept in script-readable storage). Errors become { code, message }; the
// message is a sentence for the person at the screen and is shown as it is.
import type {
  CreatedInvitation,
  CreateInvitationRequest,
  CreateSessionRequest,
  DashboardEntry,
  ErrorCode,
  NoticeChannel,
  NoticeKind,
  NoticePreferences,
  OwnNumberView,
  PushSubscriptionInput,
  PushSubscriptionView,
  Role,
  SessionView,
  SignInRequest,
  SignUpRequest,
} from "@backchannel/common";

/** Codes the client adds for failures that never reached the server. */
export type ClientErrorCode = ErrorCode | "NETWORK" | "TIMEOUT";

export interface UserError {
  code: ClientErrorCode;
  message: string;
  retryAt?: number;
}

export class ApiError extends Error implements UserError {
  constructor(
    readonly code: ClientErrorCode,
    message: string,
    readonly status: number,
    readonly retryAt?: number,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export function toUserError(err: unknown): UserError {
  if (err instanceof ApiError) {
    return err.retryAt === undefined
      ? { code: err.code, message: err.message }
      : { code: err.code, message: err.message, retryAt: err.retryAt };
  }
  return { code: "INTERNAL", message: "Something went wrong. Please try again." };
}

const SIGNED_OUT_CODES: ReadonlySet<string> = new Set(["UNAUTHENTICATED", "TOKEN_EXPIRED", "TOKEN_INVALID"]);

export function isSignedOutCode(code: string): boolean {
  return SIGNED_OUT_CODES.has(code);
}

let onSignedOut: (() => void) | null = null;

/** Called when a request finds the sign-in missing or expired (the auth store sends the person to sign in). */
export function setSignedOutHandler(handler: (() => void) | null): void {
  onSignedOut = handler;
}

export async function request<T>(
  method: "GET" | "POST" | "PUT" | "DELETE",
  path: string,
  body?: unknown,
): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      credentials: "same-origin",
      headers: body === undefined ? { accept: "application/json" } : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError("NETWORK", "We could not reach the server. Check your connection and try again.", 0);
  }
  if (res.status === 204) return undefined as T;
  const parsed: unknown = await res.json().catch(() => null);
  if (!res.ok) {
    const error = (parsed as { error?: { code?: string; message?: string; retryAt?: number } } | null)?.error;
    const code = (error?.code ?? "INTERNAL") as ClientErrorCode;
    const message = error?.message ?? `The server answered with an error (${res.status}). Please try again.`;
    // Signing in with a wrong password is not "signed out": only authenticated routes trigger it.
    if (isSignedOutCode(code) && !path.startsWith("/api/auth/")) onSignedOut?.();
    throw new ApiError(code, message, res.status, error?.retryAt);
  }
  return parsed as T;
}

export interface User {
  id: string;
  email: string;
  name: string;
}

export interface InvitationPreview {
  sessionId: string;
  role: Role;
  canBid: boolean;
  expiresAt: number;
  /** not sent by every server version */
  title?: string;
}

export const api = {
  me: () => request<{ user: User }>("GET", "/api/me"),
  signUp: (body: SignUpRequest) => request<{ user: User }>("POST", "/api/auth/signup", body),
  signIn: (body: SignInRequest) => request<{ user: User }>("POST", "/api/auth/signin", body),
  signOut: () => request<void>("POST", "/api/auth/signout"),
  listSessions: () => request<{ sessions: DashboardEntry[] }>("GET", "/api/sessions"),
  createSession: (body: CreateSessionRequest) =>
    request<{ version: number; view: SessionView }>("POST", "/api/sessions", body),
  getSession: (id: string) =>
    request<{ version: number; view: SessionView }>("GET", `/api/sessions/${encodeURIComponent(id)}`),
  /** The own side's number: members of that side only, never pushed through a room. */
  ownNumber: (id: string) =>
    request<{ version: number; own: OwnNumberView | null }>(
      "GET",
      `/api/sessions/${encodeURIComponent(id)}/number`,
    ),
  previewInvitation: (token: string) =>
    request<{ invitation: InvitationPreview }>("GET", `/api/invitations/${encodeURIComponent(token)}`),
  acceptInvitation: (token: string) =>
    request<{ sessionId: string; version: number }>("POST", "/api/invitations/accept", { token }),
  createInvitation: (sessionId: string, body: CreateInvitationRequest) =>
    request<CreatedInvitation>("POST", `/api/sessions/${encodeURIComponent(sessionId)}/invitations`, body),

  // Notifications (docs/protocol.md): Web Push subscriptions of this person's browsers, and which kinds of notice
  // each channel brings them.
  vapidKey: () => request<{ publicKey: string }>("GET", "/api/notifications/vapid-key"),
  pushSubscriptions: () =>
    request<{ subscriptions: PushSubscriptionView[] }>("GET", "/api/notifications/push-subscriptions"),
  addPushSubscription: (body: PushSubscriptionInput) =>
    request<{ subscription: PushSubscriptionView }>("POST", "/api/notifications/push-subscriptions", body),
  removePushSubscription: (id: string) =>
    request<void>("DELETE", `/api/notifications/push-subscriptions/${encodeURIComponent(id)}`),
  noticePreferences: () => request<NoticePreferences>("GET", "/api/notifications/preferences"),
  updateNoticePreferences: (body: Partial<NoticePreferences>) =>
    request<NoticePreferences>("PUT", "/api/notifications/preferences", body),
  /** From a mail's unsubscribe link: no sign-in needed, the token says who and what. */
  unsubscribe: (token: string) =>
    request<{ email: string; channel: NoticeChannel; kind: NoticeKind }>(
      "POST",
      "/api/notifications/unsubscribe",
      { token },
    ),
};
