// How a person is told of their sessions outside the page: notifications in this browser, Web Push to the
// browsers they choose, and which kinds of notice each channel (mail, push) brings them.
import {
  NOTICE_CHANNELS,
  NOTICE_KINDS,
  NOTICE_LABELS,
  type NoticeChannel,
  type NoticeKind,
  type NoticePreferences,
  type PushSubscriptionView,
} from "@backchannel/common";
import { type FormEvent, useCallback, useEffect, useId, useState } from "react";
import { api, toUserError, type UserError } from "../api";
import { ErrorLine } from "../components/ErrorLine";
import { Field } from "../components/Field";
import { askNotificationPermission, notificationPermission, type Permission } from "../lib/browserNotices";
import { browserLabel, currentPushSubscription, pushSupported, subscribeThisBrowser } from "../lib/push";
import { formatClock } from "../lib/time";
import { useHeadingFocus } from "../lib/useHeadingFocus";
import { Link } from "../router";
import { noticeCenter } from "../store/live";

/** The kinds a channel carries, in the order of NOTICE_KINDS. */
export function kindsCarried(channel: NoticeChannel): NoticeKind[] {
  return NOTICE_KINDS.filter((k) => NOTICE_CHANNELS[k][channel]);
}

/** The kinds with at least one channel outside the page: the rows of the preferences table. */
export const PREFERENCE_KINDS: readonly NoticeKind[] = NOTICE_KINDS.filter(
  (k) => NOTICE_CHANNELS[k].mail || NOTICE_CHANNELS[k].push,
);

/** On unless turned off: a kind the server has no entry for is on. */
export function isOn(prefs: NoticePreferences, channel: NoticeChannel, kind: NoticeKind): boolean {
  return prefs[channel][kind] !== false;
}

/** An error thrown by the browser (not the API) as a line for the page. */
function browserError(err: unknown, fallback: string): UserError {
  if (err && typeof err === "object" && "status" in err) return toUserError(err);
  const message = err instanceof Error && err.message ? `${fallback} ${err.message}` : fallback;
  return { code: "INTERNAL", message };
}

export function NotificationSettingsPage() {
  useHeadingFocus("notification-settings");
  return (
    <main className="page narrow settings">
      <p>
        <Link href="/">← Your sessions</Link>
      </p>
      <h1>Notifications</h1>
      <p className="lead">
        How you are told of your sessions when you are not looking at them. A notice never holds an amount or
        a number: it says what happened and where.
      </p>
      <ThisBrowser />
      <Preferences />
    </main>
  );
}

function ThisBrowser() {
  const [permission, setPermission] = useState<Permission>(notificationPermission);
  const [subs, setSubs] = useState<PushSubscriptionView[] | null>(null);
  const [listError, setListError] = useState<UserError | null>(null);
  const [pushError, setPushError] = useState<UserError | null>(null);
  const [busy, setBusy] = useState(false);
  const [hasPushHere, setHasPushHere] = useState(false);
  const [label, setLabel] = useState(() => browserLabel(navigator.userAgent));
  const [done, setDone] = useState<string | null>(null);

  const load = useCallback(async () => {
    setListError(null);
    try {
      setSubs((await api.pushSubscriptions()).subscriptions);
    } catch (err) {
      setListError(toUserError(err));
    }
  }, []);

  useEffect(() => {
    void load();
    currentPushSubscription()
      .then((s) => setHasPushHere(s !== null))
      .catch(() => {});
  }, [load]);

  const turnOnPush = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setPushError(null);
    setDone(null);
    try {
      const { publicKey } = await api.vapidKey();
      // Asked only when not yet answered (a browser may never settle a request it has already granted).
      const granted = permission === "default" ? await askNotificationPermission() : permission;
      setPermission(granted);
      if (granted !== "granted") {
        setPushError({
          code: "INTERNAL",
          message:
            granted === "denied"
              ? "Your browser blocks notifications from this site: allow them in the browser's site settings, then try again."
              : "Push needs your browser's permission to show notifications.",
        });
        return;
      }
      let subscription: Awaited<ReturnType<typeof subscribeThisBrowser>>;
      try {
        subscription = await subscribeThisBrowser(publicKey);
      } catch (err) {
        setPushError(browserError(err, "This browser could not subscribe to push messages."));
        return;
      }
      const trimmed = label.trim();
      const r = await api.addPushSubscription(trimmed ? { ...subscription, label: trimmed } : subscription);
      setHasPushHere(true);
      setDone(`Push is on for ${r.subscription.label ?? "this browser"}.`);
      await load();
    } catch (err) {
      setPushError(toUserError(err));
    } finally {
      setBusy(false);
    }
  };

  const remove = async (id: string) => {
    setListError(null);
    try {
      await api.removePushSubscription(id);
      setSubs((list) => list?.filter((s) => s.id !== id) ?? null);
    } catch (err) {
      setListError(toUserError(err));
    }
  };

  return (
    <>
      <section className="card" aria-labelledby="while-open-title">
        <h2 id="while-open-title">While a session is open in a tab</h2>
        <p>
          The page shows every notice as it happens. When its tab is in the background, your browser can show
          the important ones (a deal, a proposal to answer, a side asking for the mediator).
        </p>
        {permission === "granted" ? (
          <p className="ok" data-testid="permission-line">
            Browser notifications are on for this site.
          </p>
        ) : permission === "denied" ? (
          <p data-testid="permission-line">
            Your browser blocks notifications from this site. To change that, use the browser's site settings.
          </p>
        ) : permission === "unsupported" ? (
          <p data-testid="permission-line">This browser cannot show notifications.</p>
        ) : (
          <p data-testid="permission-line">
            <button
              type="button"
              onClick={async () => setPermission(await askNotificationPermission())}
              className="primary"
            >
              Turn on browser notifications
            </button>
          </p>
        )}
      </section>

      <section className="card" aria-labelledby="push-title">
        <h2 id="push-title">Push to this browser, even when no tab is open</h2>
        {!pushSupported() ? (
          <p>This browser does not support push messages.</p>
        ) : (
          <form className="form" onSubmit={turnOnPush}>
            {hasPushHere && <p className="ok">This browser is subscribed to push messages.</p>}
            <Field label="Name for this browser" hint="(shown in the list below)">
              {(id) => (
                <input id={id} value={label} maxLength={100} onChange={(e) => setLabel(e.target.value)} />
              )}
            </Field>
            <button type="submit" className="primary" disabled={busy}>
              {busy ? "Turning on…" : "Turn on push for this browser"}
            </button>
            {done && (
              <p className="ok" role="status">
                {done}
              </p>
            )}
            <ErrorLine error={pushError} />
          </form>
        )}
        <h3>Your browsers with push</h3>
        <ErrorLine error={listError} />
        {subs === null ? (
          !listError && <p className="loading">Loading…</p>
        ) : subs.length === 0 ? (
          <p className="hint">No browser gets push messages yet.</p>
        ) : (
          <ul className="subscriptions">
            {subs.map((s) => (
              <li key={s.id}>
                <span>
                  <strong>{s.label ?? "A browser"}</strong>{" "}
                  <span className="hint">
                    via {s.service}, since {formatClock(s.createdAt, Date.now())}
                  </span>
                </span>
                <button
                  type="button"
                  onClick={() => remove(s.id)}
                  aria-label={`Remove ${s.label ?? s.service}`}
                >
                  Remove
                </button>
              </li>
            ))}
          </ul>
        )}
      </section>
    </>
  );
}

function Preferences() {
  const [prefs, setPrefs] = useState<NoticePreferences | null>(null);
  const [error, setError] = useState<UserError | null>(null);
  const [saving, setSaving] = useState<string | null>(null);
  const captionId = useId();

  useEffect(() => {
    let live = true;
    api
      .noticePreferences()
      .then((p) => {
        if (!live) return;
        setPrefs(p);
        noticeCenter.setPushPreferences(p.push);
      })
      .catch((err) => live && setError(toUserError(err)));
    return () => {
      live = false;
    };
  }, []);

  const toggle = async (channel: NoticeChannel, kind: NoticeKind, on: boolean) => {
    if (!prefs) return;
    const before = prefs;
    // The box moves at once; the server's answer (the full preferences) replaces it, or a refusal puts it back.
    setPrefs({ ...prefs, [channel]: { ...prefs[channel], [kind]: on } });
    setSaving(`${channel}:${kind}`);
    setError(null);
    try {
      const saved = await api.updateNoticePreferences({ [channel]: { [kind]: on } });
      setPrefs(saved);
      noticeCenter.setPushPreferences(saved.push);
    } catch (err) {
      setPrefs(before);
      setError(toUserError(err));
    } finally {
      setSaving(null);
    }
  };

  return (
    <section className="card" aria-labelledby="prefs-title">
      <h2 id="prefs-title">What you are told, and how</h2>
      <p className="hint" id={captionId}>
        Untick what you do not want. Messages and the mediator's moves show only on the session's page.
      </p>
      <ErrorLine error={error} />
      {prefs === null ? (
        !error && <p className="loading">Loading…</p>
      ) : (
        <table className="prefs" aria-describedby={captionId}>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col" className="channel">
                Mail
              </th>
              <th scope="col" className="channel">
                Push
              </th>
            </tr>
          </thead>
          <tbody>
            {PREFERENCE_KINDS.map((kind) => (
              <tr key={kind}>
                <th scope="row">{NOTICE_LABELS[kind]}</th>
                {(["mail", "push"] as const).map((channel) => (
                  <td key={channel} className="channel">
                    {NOTICE_CHANNELS[kind][channel] ? (
                      <input
                        type="checkbox"
                        aria-label={`${NOTICE_LABELS[kind]}: ${channel === "mail" ? "mail" : "push"}`}
                        checked={isOn(prefs, channel, kind)}
                        disabled={saving === `${channel}:${kind}`}
                        onChange={(e) => toggle(channel, kind, e.target.checked)}
                      />
                    ) : (
                      <span className="hint" title="Not sent this way">
                        —
                      </span>
                    )}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
