// "My sessions" and the form that starts a new one.
import { useEffect, useState } from "react";
import { api, type SessionListItem, toUserError, type UserError } from "../api";
import { ErrorLine } from "../components/ErrorLine";
import { NewSessionForm } from "../components/NewSessionForm";
import { useHeadingFocus } from "../lib/useHeadingFocus";
import { phaseShort, roleName } from "../lib/words";
import { Link } from "../router";
import { useAuth } from "../store/auth";

export function HomePage() {
  const user = useAuth((s) => s.user);
  const [sessions, setSessions] = useState<SessionListItem[] | null>(null);
  const [error, setError] = useState<UserError | null>(null);
  useHeadingFocus("home");

  useEffect(() => {
    let live = true;
    api
      .listSessions()
      .then((r) => live && setSessions(r.sessions))
      .catch((err) => live && setError(toUserError(err)));
    return () => {
      live = false;
    };
  }, []);

  return (
    <main className="page">
      <h1>Welcome, {user?.name}</h1>
      <div className="home-grid">
        <section className="card" aria-labelledby="my-sessions">
          <h2 id="my-sessions">Your sessions</h2>
          <ErrorLine error={error} />
          {sessions === null && !error && <p className="loading">Loading…</p>}
          {sessions?.length === 0 && (
            <p className="hint">
              No sessions yet. Start one with the form, or open an invitation link someone sent you.
            </p>
          )}
          {sessions && sessions.length > 0 && (
            <ul className="session-list">
              {sessions.map((s) => (
                <li key={s.id}>
                  <Link href={`/sessions/${s.id}`} className="session-link">
                    <span className="session-title">{s.title}</span>
                    <span className="session-meta">
                      {phaseShort(s.phase)} · you are{" "}
                      {s.role === "mediator"
                        ? "the mediator"
                        : `on the ${roleName(s.role).toLowerCase()} side`}
                    </span>
                  </Link>
                </li>
              ))}
            </ul>
          )}
        </section>
        <NewSessionForm />
      </div>
    </main>
  );
}
