// The home page: a live dashboard of the person's sessions ("needs you" first, then running ones by their next
// deadline, then ended ones), and the form that starts a new one.
import type { DashboardEntry } from "@backchannel/common";
import { useEffect } from "react";
import { ErrorLine } from "../components/ErrorLine";
import { NewSessionForm } from "../components/NewSessionForm";
import { deadlineWords, needWords, onlineWords, placeWords, statusWords } from "../lib/dashboardWords";
import { useHeadingFocus } from "../lib/useHeadingFocus";
import { useNow } from "../lib/useNow";
import { Link } from "../router";
import { useAuth } from "../store/auth";
import { dashboardController, useDashboard } from "../store/live";
import "./dashboard.css";

export function HomePage() {
  const user = useAuth((s) => s.user);
  const status = useDashboard((s) => s.status);
  const error = useDashboard((s) => s.error);
  const entries = useDashboard((s) => s.entries);
  const connection = useDashboard((s) => s.connection);
  const now = useNow(1_000);
  useHeadingFocus("home");

  useEffect(() => {
    void dashboardController.open();
    return () => dashboardController.close();
  }, []);

  const needsYou = entries.filter((e) => e.needs.length > 0);
  const running = entries.filter((e) => e.needs.length === 0 && e.phase !== "ended");
  const ended = entries.filter((e) => e.phase === "ended");

  return (
    <main className="page">
      <h1>Welcome, {user?.name}</h1>
      <div className="home-grid">
        <section className="card dashboard" aria-labelledby="my-sessions">
          <div className="dashboard-head">
            <h2 id="my-sessions">Your sessions</h2>
            <p className={`live-badge ${connection}`}>
              {connection === "online" ? "Live" : connection === "connecting" ? "Connecting…" : "Offline"}
            </p>
          </div>
          <ErrorLine error={error} />
          {status === "loading" && <p className="loading">Loading…</p>}
          {status === "ready" && entries.length === 0 && (
            <p className="hint">
              No sessions yet. Start one with the form, or open an invitation link someone sent you.
            </p>
          )}
          {status === "ready" && entries.length > 0 && (
            <p className="dashboard-summary" role="status">
              {needsYou.length === 0
                ? "Nothing is waiting for you."
                : `${needsYou.length} ${needsYou.length === 1 ? "session needs" : "sessions need"} you.`}
            </p>
          )}
          <Group title="Needs you" id="needs-you" entries={needsYou} now={now} selfId={user?.id ?? null} />
          <Group title="In progress" id="in-progress" entries={running} now={now} selfId={user?.id ?? null} />
          <Group title="Ended" id="ended" entries={ended} now={now} selfId={user?.id ?? null} />
        </section>
        <NewSessionForm />
      </div>
    </main>
  );
}

function Group(props: {
  title: string;
  id: string;
  entries: DashboardEntry[];
  now: number;
  selfId: string | null;
}) {
  if (props.entries.length === 0) return null;
  return (
    <section className="dashboard-group" aria-labelledby={props.id}>
      <h3 id={props.id}>
        {props.title} <span className="count">({props.entries.length})</span>
      </h3>
      <ul className="session-list">
        {props.entries.map((e) => (
          <li key={e.id}>
            <Line entry={e} now={props.now} selfId={props.selfId} />
          </li>
        ))}
      </ul>
    </section>
  );
}

function Line({ entry, now, selfId }: { entry: DashboardEntry; now: number; selfId: string | null }) {
  const deadline = deadlineWords(entry, now);
  const online = onlineWords(entry, selfId);
  return (
    <article className={`session-line status-${entry.status}${entry.needs.length > 0 ? " needs" : ""}`}>
      <h4 className="session-title">
        <Link href={`/sessions/${entry.id}`} className="session-link">
          {entry.title}
        </Link>
      </h4>
      <p className="session-meta">
        <span className={`status-badge status-${entry.status}`}>{statusWords(entry.status)}</span>
        {deadline && entry.nextDeadline && (
          <>
            {" · "}
            <time className="countdown" dateTime={new Date(entry.nextDeadline.at).toISOString()}>
              {deadline}
            </time>
          </>
        )}
        {" · "}
        {placeWords(entry)}
      </p>
      {entry.needs.length > 0 && (
        <ul className="needs-list" aria-label="Waiting for you">
          {entry.needs.map((n) => (
            <li key={n}>{needWords(n, entry)}</li>
          ))}
        </ul>
      )}
      {entry.needs.length === 0 && entry.knocks.length > 0 && (
        <p className="session-note">Your side asked for the mediator; they have not come yet.</p>
      )}
      {entry.proposal && !entry.needs.includes("proposal") && (
        <p className="session-note">
          {entry.proposal.kind === "mediator" ? "The mediator's proposal" : "A smart proposal"} is out
          {entry.proposal.answeredByYou ? " (you have answered)" : ""}.
        </p>
      )}
      {online && <p className="session-online">{online}</p>}
    </article>
  );
}
