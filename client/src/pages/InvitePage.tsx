// An invitation link: what it is for (before signing in), then sign in or up, accept, and go to the session.
import { useEffect, useState } from "react";
import { ApiError, api, type InvitationPreview, toUserError, type UserError } from "../api";
import { ErrorLine } from "../components/ErrorLine";
import { formatClock } from "../lib/time";
import { useHeadingFocus } from "../lib/useHeadingFocus";
import { Link, navigate } from "../router";
import { useAuth } from "../store/auth";

export function invitationRoleWords(role: InvitationPreview["role"], canBid: boolean): string {
  if (role === "mediator")
    return "the mediator. As a neutral, you will never see either side's confidential number";
  const side =
    role === "claimant"
      ? "claimant side (the side that receives money)"
      : "respondent side (the side that pays)";
  return canBid
    ? `a member of the ${side}. You will be able to enter and change your side's confidential number`
    : `a member of the ${side}, view only. You will see your side's number but not change it`;
}

export function InvitePage({ token }: { token: string }) {
  const status = useAuth((s) => s.status);
  const user = useAuth((s) => s.user);
  const [preview, setPreview] = useState<InvitationPreview | null>(null);
  const [loadError, setLoadError] = useState<UserError | null>(null);
  const [acceptError, setAcceptError] = useState<UserError | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    let live = true;
    api
      .previewInvitation(token)
      .then((r) => live && setPreview(r.invitation))
      .catch((err) => live && setLoadError(toUserError(err)));
    return () => {
      live = false;
    };
  }, [token]);

  const accept = async () => {
    setBusy(true);
    setAcceptError(null);
    try {
      const r = await api.acceptInvitation(token);
      navigate(`/sessions/${r.sessionId}`, { replace: true });
    } catch (err) {
      if (err instanceof ApiError && err.code === "ALREADY_MEMBER" && preview) {
        navigate(`/sessions/${preview.sessionId}`, { replace: true });
        return;
      }
      setAcceptError(toUserError(err));
      setBusy(false);
    }
  };

  useHeadingFocus(preview ? "preview" : loadError ? "error" : null);

  const here = `/invite/${encodeURIComponent(token)}`;
  return (
    <main className="page narrow">
      {loadError ? (
        <>
          <h1>This invitation cannot be used</h1>
          <ErrorLine error={loadError} />
          {/* The server's sentence usually says it already ("Ask the person who invited you for a new one"). */}
          {!/\bnew (one|link)\b/i.test(loadError.message) && (
            <p>Ask the person who sent it for a new link.</p>
          )}
        </>
      ) : !preview ? (
        <p className="loading">Loading the invitation…</p>
      ) : (
        <>
          <h1>
            You're invited to {preview.title ? `“${preview.title}”` : "a Backchannel settlement session"}
          </h1>
          <div className="card">
            <p className="lead">You are invited as {invitationRoleWords(preview.role, preview.canBid)}.</p>
            <p className="hint">
              This link works once and expires {formatClock(preview.expiresAt, Date.now())}.
            </p>
            {status === "signedIn" ? (
              <>
                <p>
                  You are signed in as <strong>{user?.name}</strong>. Accepting adds you to the session.
                </p>
                <ErrorLine error={acceptError} />
                <button type="button" className="primary" onClick={accept} disabled={busy}>
                  {busy ? "Joining…" : "Accept invitation"}
                </button>
              </>
            ) : (
              <div className="actions">
                <Link className="button primary" href={`/signup?next=${encodeURIComponent(here)}`}>
                  Create an account
                </Link>
                <Link className="button" href={`/signin?next=${encodeURIComponent(here)}`}>
                  I have an account — sign in
                </Link>
              </div>
            )}
          </div>
        </>
      )}
    </main>
  );
}
