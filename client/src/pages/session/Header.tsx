// The session's header: what step we are in and how long is left, who is here, and where the mediator is.
import { useEffect, useState } from "react";
import { ErrorLine } from "../../components/ErrorLine";
import { phaseDeadline, statusLine, waitingFor } from "../../lib/deadline";
import { formatCountdown } from "../../lib/time";
import { useCommand } from "../../lib/useCommand";
import { locationPhrase, phaseHeadline, roleDescription, roleName } from "../../lib/words";
import { tabTitle } from "../../session/notices";
import { useNotices } from "../../store/live";
import type { PresenceEntry, SessionStoreState } from "../../store/session";
import type { PanelProps } from "./context";

export function Header(
  p: PanelProps & { presence: PresenceEntry[]; connection: SessionStoreState["connection"] },
) {
  const { view, now } = p;
  const headline = phaseHeadline(view);
  const deadline = phaseDeadline(view, now);
  const missing = waitingFor(view, now, p.deadline);
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
  const online = p.presence
    .filter((e) => e.userId !== view.viewer.userId)
    .map((e) => `${p.nameOf(e.userId)} (${roleName(e.role).toLowerCase()})`);

  return (
    <header className="session-header card">
      <div className="title-row">
        <div>
          <h1>{view.title}</h1>
          <p className="you-are">You are: {roleDescription(view.viewer.role, view.viewer.canBid)}</p>
        </div>
        <p className={`connection ${p.connection}`} role="status">
          {p.connection === "online"
            ? "Connected"
            : p.connection === "connecting"
              ? "Connecting…"
              : "Reconnecting…"}
        </p>
      </div>

      <div className={`phase-banner phase-${view.phase}`}>
        <p className="phase-line">
          <span className="phase-title">{headline.title}</span>
          {deadline && (
            <>
              {" — "}
              <span className="phase-deadline">
                {deadline.verb}{" "}
                <time className="countdown" dateTime={new Date(deadline.at).toISOString()}>
                  {formatCountdown(deadline.at - now)}
                </time>
              </span>
            </>
          )}
        </p>
        <p className="phase-detail">
          {headline.detail}
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

      <div className="header-facts">
        <p className="presence">
          <span className="label">Online now:</span>{" "}
          {online.length > 0 ? online.join(", ") : "nobody else yet"}
        </p>
        {view.viewer.side !== null && view.phase !== "ended" && <MediatorWhereabouts {...p} />}
        {view.viewer.isCreator && view.phase === "setup" && <CancelSession />}
      </div>
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

function MediatorWhereabouts(p: PanelProps) {
  const { view } = p;
  const knock = useCommand();
  const [asked, setAsked] = useState(false);
  const hasMediator = view.members.some((m) => m.role === "mediator");
  if (!hasMediator) {
    return <p className="mediator-where">No mediator has joined this session.</p>;
  }
  const m = view.mediator;
  return (
    <div className="mediator-where">
      <p>
        <span className="label">The mediator is</span>{" "}
        <strong>
          {m
            ? locationPhrase(m.location, view.viewer.side, m.until ? p.clock(m.until) : null)
            : "not in a room yet"}
        </strong>
        {m?.until && m.until > p.now && <> (about {formatCountdown(m.until - p.now)} from now)</>}
        {m?.note && <span className="note"> — “{m.note}”</span>}
      </p>
      <p>
        <button
          type="button"
          disabled={knock.busy}
          onClick={async () => {
            setAsked(await knock.run({ type: "Knock" }));
          }}
        >
          Ask for the mediator
        </button>
        {asked && (
          <span className="ok" role="status">
            {" "}
            The mediator has been told your side would like to talk.
          </span>
        )}
      </p>
      <ErrorLine error={knock.error} />
    </div>
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
