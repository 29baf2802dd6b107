// A mail's unsubscribe link: works without signing in. Nothing changes on opening the page (mail scanners open
// links); the button does it, and the page then says exactly what was turned off.
import { NOTICE_LABELS, type NoticeChannel, type NoticeKind } from "@backchannel/common";
import { useState } from "react";
import { api, toUserError, type UserError } from "../api";
import { ErrorLine } from "../components/ErrorLine";
import { Link } from "../router";
import { useAuth } from "../store/auth";

/** "You will no longer get mail about a deal is made at ann@example.com", with the label lower-cased in the sentence. */
export function unsubscribedSentence(r: { email: string; channel: NoticeChannel; kind: NoticeKind }): string {
  const label = NOTICE_LABELS[r.kind];
  const about = label.charAt(0).toLowerCase() + label.slice(1);
  const channel = r.channel === "mail" ? "mail" : "push messages";
  return `You will no longer get ${channel} about “${about}” at ${r.email}.`;
}

export function UnsubscribePage({ token }: { token: string | null }) {
  const signedIn = useAuth((s) => s.status === "signedIn");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<UserError | null>(null);
  const [done, setDone] = useState<string | null>(null);

  const confirm = async () => {
    if (!token) return;
    setBusy(true);
    setError(null);
    try {
      setDone(unsubscribedSentence(await api.unsubscribe(token)));
    } catch (err) {
      setError(toUserError(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="page narrow">
      <h1>Unsubscribe</h1>
      {!token ? (
        <p className="error" role="alert">
          This unsubscribe link is incomplete. Open the link from the mail again, or change what you get in
          your notification settings.
        </p>
      ) : done ? (
        <div className="card">
          <p className="ok lead" role="status">
            {done}
          </p>
          <p className="hint">Other mail about your sessions still comes, as your settings say.</p>
        </div>
      ) : (
        <div className="card">
          <p className="lead">
            This turns off one kind of mail from Backchannel for your address: the kind of notice the mail you
            came from was about. Nothing else changes.
          </p>
          <button type="button" className="primary" disabled={busy} onClick={confirm}>
            {busy ? "Turning it off…" : "Turn off this kind of mail"}
          </button>
          <ErrorLine error={error} />
        </div>
      )}
      <p>
        {signedIn ? (
          <Link href="/settings/notifications">All your notification settings</Link>
        ) : (
          <Link href="/signin?next=%2Fsettings%2Fnotifications">
            Sign in to see all your notification settings
          </Link>
        )}
      </p>
    </main>
  );
}
