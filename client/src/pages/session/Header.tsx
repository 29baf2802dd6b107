// The session's status, in two parts. The status bar stays at the top of the screen on every width: the title,
// what step we are in and how long is left, where the mediator is (a side can ask for them from there), and the
// connection. The details (who you are, the step explained with its deadline, what Step 2 waits for, the calendar
// file, who is online, cancelling) are a section of the page like the others, so they never push the live state down.
import { type ReactNode, useEffect, useState } from "react";
import { ErrorLine } from "../../components/ErrorLine";
import { phaseDeadline, statusLine, waitingFor } from "../../lib/deadline";
import { formatCountdown } from "../../lib/time";
import { useCommand } from "../../lib/useCommand";
import { locationPhrase, phaseHeadline, roleDescription, roleName } from "../../lib/words";
import { tabTitle } from "../../session/notices";
import { useNotices } from "../../store/live";
import type { PresenceEntry, SessionStoreState } from "../../store/session";
import type { PanelProps } from "./context";

export function Header(p: PanelProps & { connection: SessionStoreState["connection"]; sections: ReactNode }) {
  const { view, now } = p;
  const headline = phaseHeadline(view);
  const deadline = phaseDeadline(view, now);
  // The browser tab carries the status too, so a glance at another tab shows the countdown, and how many notices
  // arrived while the person was elsewhere: "(2) Step 3 — live bidding — closes in 4:05 · Smith v. Acme · Backchannel".
  const status = statusLine(headline.title, deadline, now);
  const unseen = useNotices((s) => s.unseen);
  useEffect(() => {
    document.title = tabTitle(status, view.title, unseen);
  }, [status, view.title, unseen]);
  useEffect(
    () => () => {
      document.title = tabTitle(null, null, 0);
    },
    [],
  );

  return (
    <header className="status-bar">
      <div className="bar-row">
        <h1 className="bar-title">{view.title}</h1>
        <p className={`connection ${p.connection}`} role="status">
          {p.connection === "online"
            ? "Connected"
            : p.connection === "connecting"
              ? "Connecting…"
              : "Reconnecting…"}
        </p>
      </div>
      <div className="bar-row bar-live">
        <p className={`phase-chip phase-${view.phase}`}>
          <span className="phase-title">{headline.title}</span>
          {deadline && (
            <>
              {" · "}
              <span className="phase-deadline">
                {deadline.verb}{" "}
                <time className="countdown" dateTime={new Date(deadline.at).toISOString()}>
                  {formatCountdown(deadline.at - now)}
                </time>
              </span>
            </>
          )}
        </p>
        {/* From 900 px: the mediator's whereabouts and the section links share the bar's second line. */}
        <span className="bar-break" aria-hidden="true" />
        {view.phase !== "ended" && <MediatorWhere {...p} />}
      </div>
      {p.sections}
    </header>
  );
}

/** "smith-v-acme-deadlines": a file name any system accepts. */
export function calendarFileName(title: string): string {
  const slug = title
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .replace(/[^A-Za-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .toLowerCase()
    .slice(0, 60);
  return `${slug || "session"}-deadlines`;
}

/** In the bar: where the mediator is, in a few words; a side can ask for them from there. */
function MediatorWhere(p: PanelProps) {
  const { view } = p;
  const knock = useCommand();
  const [asked, setAsked] = useState(false);
  const m = view.mediator;
  const isMediator = view.viewer.role === "mediator";
  const hasMediator = view.members.some((x) => x.role === "mediator");
  const where = m
    ? locationPhrase(m.location, view.viewer.side, m.until ? p.clock(m.until) : null)
    : "not in a room yet";
  if (isMediator) {
    return (
      <div className="bar-where">
        <p>
          <span className="label">You are</span> <strong>{where}</strong>
        </p>
      </div>
    );
  }
  if (view.viewer.side === null) return null;
  if (!hasMediator) {
    return <p className="bar-where">No mediator has joined.</p>;
  }
  return (
    <div className="bar-where">
      <p>
        <span className="label">Mediator:</span> <strong>{where}</strong>
      </p>
      <button
        type="button"
        className="bar-knock"
        disabled={knock.busy}
        onClick={async () => {
          setAsked(await knock.run({ type: "Knock" }));
        }}
      >
        Ask for the mediator
      </button>
      {asked && (
        <span className="ok bar-asked" role="status">
          <span aria-hidden="true">Asked ✓</span>
          <span className="visually-hidden">The mediator has been told your side would like to talk.</span>
        </span>
      )}
      <ErrorLine error={knock.error} />
    </div>
  );
}

/** The session's details: a section of the page, linked from the section links as "Session". */
export function SessionDetails(p: PanelProps & { presence: PresenceEntry[] }) {
  const { view, now } = p;
  const headline = phaseHeadline(view);
  const deadline = phaseDeadline(view, now);
  const missing = waitingFor(view, now, p.deadline);
  const online = p.presence
    .filter((e) => e.userId !== view.viewer.userId)
    .map((e) => `${p.nameOf(e.userId)} (${roleName(e.role).toLowerCase()})`);
  const m = view.mediator;

  return (
    <section className="panel session-details" aria-labelledby="details-title">
      <h2 id="details-title">This session</h2>
      <p className="you-are">
        <span className="label">You are:</span> {roleDescription(view.viewer.role, view.viewer.canBid)}
      </p>
      <div className={`phase-note phase-${view.phase}`}>
        <p className="phase-detail">
          <strong>{headline.title}.</strong> {headline.detail}
          {deadline && <> Deadline: {p.deadline(deadline.at)}.</>}
        </p>
        {missing.length > 0 && <p className="phase-detail">Step 2 opens after: {missing.join("; ")}.</p>}
        {view.phase !== "ended" && (
          <p className="phase-detail">
            <a
              className="calendar-link"
              href={`/api/sessions/${encodeURIComponent(view.id)}/calendar.ics`}
              download={`${calendarFileName(view.title)}.ics`}
            >
              Add deadlines to calendar
            </a>
          </p>
        )}
      </div>
      <p className="presence">
        <span className="label">Online now:</span> {online.length > 0 ? online.join(", ") : "nobody else yet"}
      </p>
      {view.phase !== "ended" && m && (m.until !== null || m.note) && (
        <p className="mediator-where">
          <span className="label">The mediator is</span>{" "}
          {locationPhrase(m.location, view.viewer.side, m.until ? p.clock(m.until) : null)}
          {m.until && m.until > now && <> (about {formatCountdown(m.until - now)} from now)</>}
          {m.note && <span className="note"> — “{m.note}”</span>}
        </p>
      )}
      {view.viewer.isCreator && view.phase === "setup" && <CancelSession />}
    </section>
  );
}

function CancelSession() {
  const cancel = useCommand();
  const [confirming, setConfirming] = useState(false);
  if (!confirming) {
    return (
      <p>
        <button type="button" className="quiet" onClick={() => setConfirming(true)}>
          Cancel this session…
        </button>
      </p>
    );
  }
  return (
    <fieldset className="confirm">
      <legend>Cancel the session for everyone? This cannot be undone.</legend>
      <button
        type="button"
        className="danger"
        disabled={cancel.busy}
        onClick={() => cancel.run({ type: "Cancel" })}
      >
        Yes, cancel the session
      </button>{" "}
      <button type="button" onClick={() => setConfirming(false)}>
        Keep it
      </button>
      <ErrorLine error={cancel.error} />
    </fieldset>
  );
}
