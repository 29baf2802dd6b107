// A mail's unsubscribe link: works without signing in. Nothing changes on opening the page (mail scanners open
// links); the button does it, and the page then says exactly what was turned off.
import {
  NOTICE_CHANNELS_LIST,
  NOTICE_KINDS,
  NOTICE_LABELS,
  type NoticeChannel,
  type NoticeKind,
} from "@backchannel/common";
import { useState } from "react";
import { api, toUserError, type UserError } from "../api";
import { ErrorLine } from "../components/ErrorLine";
import { useHeadingFocus } from "../lib/useHeadingFocus";
import { Link } from "../router";
import { useAuth } from "../store/auth";

/** "You will no longer get mail about a deal is made at ann@example.com", with the label lower-cased in the sentence. */
export function unsubscribedSentence(r: UnsubscribeTarget): string {
  const channel = r.channel === "mail" ? "mail" : "push messages";
  return `You will no longer get ${channel} about “${labelInSentence(r.kind)}” at ${r.email}.`;
}

/** Before the button: what it will turn off, as far as the link says. */
export function unsubscribePreview(target: UnsubscribeTarget | null): string {
  if (!target) {
    return "This turns off one kind of mail from Backchannel for your address: the kind of notice the mail you came from was about. Nothing else changes.";
  }
  const channel = target.channel === "mail" ? "mail" : "push messages";
  return `This turns off ${channel} about “${labelInSentence(target.kind)}” for ${target.email}. Nothing else changes.`;
}

/** "a session ends without a deal": a kind's label inside a sentence. */
function labelInSentence(kind: NoticeKind): string {
  const label = NOTICE_LABELS[kind];
  return label.charAt(0).toLowerCase() + label.slice(1);
}

export interface UnsubscribeTarget {
  email: string;
  channel: NoticeChannel;
  kind: NoticeKind;
}

/**
 * What a token names, read from it to say before the button what it turns off: the server signs
 * "<channel>\n<kind>\n<email>" in base64url, then "." and its MAC (server/src/notify/unsubscribe.ts). Only a
 * preview: the server checks the MAC when the button is pressed. Null when the token does not read that way.
 */
export function readUnsubscribeToken(token: string): UnsubscribeTarget | null {
  const [payload, mac, ...rest] = token.split(".");
  if (!payload || !mac || rest.length > 0 || !/^[A-Za-z0-9_-]+$/.test(payload)) return null;
  let text: string;
  try {
    const base64 = payload.replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(base64.padEnd(Math.ceil(base64.length / 4) * 4, "=")), (c) =>
      c.charCodeAt(0),
    );
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
  const fields = text.split("\n");
  if (fields.length !== 3) return null;
  const [channel, kind, email] = fields as [string, string, string];
  if (!(NOTICE_CHANNELS_LIST as readonly string[]).includes(channel)) return null;
  if (!(NOTICE_KINDS as readonly string[]).includes(kind) || !email.includes("@")) return null;
  return { email, channel: channel as NoticeChannel, kind: kind as NoticeKind };
}

export function UnsubscribePage({ token }: { token: string | null }) {
  const signedIn = useAuth((s) => s.status === "signedIn");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<UserError | null>(null);
  const [done, setDone] = useState<string | null>(null);
  useHeadingFocus("unsubscribe");

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
          <p className="lead" data-testid="unsubscribe-preview">
            {unsubscribePreview(readUnsubscribeToken(token))}
          </p>
          <button type="button" className="primary" disabled={busy} onClick={confirm}>
            {busy ? "Turning it off…" : "Turn it off"}
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
