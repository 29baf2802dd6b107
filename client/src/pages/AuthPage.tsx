// Sign in and create an account. After either, the person returns to where they were going (an invitation).
import { type FormEvent, useState } from "react";
import { toUserError, type UserError } from "../api";
import { ErrorLine } from "../components/ErrorLine";
import { Field } from "../components/Field";
import { useHeadingFocus } from "../lib/useHeadingFocus";
import { Link, navigate } from "../router";
import { useAuth } from "../store/auth";

export function AuthPage({ mode, next }: { mode: "signin" | "signup"; next: string | null }) {
  const expired = useAuth((s) => s.expired);
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<UserError | null>(null);
  const signup = mode === "signup";
  useHeadingFocus(mode);
  const query = next ? `?next=${encodeURIComponent(next)}` : "";

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (signup) await useAuth.getState().signUp(name, email, password);
      else await useAuth.getState().signIn(email, password);
      navigate(next ?? "/", { replace: true });
    } catch (err) {
      setError(toUserError(err));
      setBusy(false);
    }
  };

  return (
    <main className="page narrow">
      <h1>{signup ? "Create your Backchannel account" : "Sign in to Backchannel"}</h1>
      {expired && !signup && <p className="notice">Your sign-in has expired. Please sign in again.</p>}
      {next?.startsWith("/invite/") && (
        <p className="notice">
          {signup ? "Create an account" : "Sign in"} to accept your invitation. You will come straight back to
          it.
        </p>
      )}
      <form className="card form" onSubmit={submit}>
        {signup && (
          <Field label="Your name" hint="(as the other participants will see it)">
            {(id) => (
              <input
                id={id}
                name="displayName"
                autoComplete="name"
                required
                maxLength={100}
                value={name}
                onChange={(e) => setName(e.target.value)}
              />
            )}
          </Field>
        )}
        <label>
          Email
          <input
            name="email"
            type="email"
            autoComplete="email"
            required
            value={email}
            onChange={(e) => setEmail(e.target.value)}
          />
        </label>
        <Field label="Password" hint={signup ? "(at least 8 characters)" : undefined}>
          {(id) => (
            <input
              id={id}
              name="password"
              type="password"
              autoComplete={signup ? "new-password" : "current-password"}
              required
              minLength={signup ? 8 : 1}
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          )}
        </Field>
        <ErrorLine error={error} />
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Please wait…" : signup ? "Create account" : "Sign in"}
        </button>
      </form>
      <p>
        {signup ? (
          <>
            Already have an account? <Link href={`/signin${query}`}>Sign in</Link>
          </>
        ) : (
          <>
            New to Backchannel? <Link href={`/signup${query}`}>Create an account</Link>
          </>
        )}
      </p>
    </main>
  );
}
