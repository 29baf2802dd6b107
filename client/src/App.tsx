// The app shell: who is signed in, and which page the path names.
import { type ReactNode, useEffect } from "react";
import { setSignedOutHandler } from "./api";
import { AuthPage } from "./pages/AuthPage";
import { HomePage } from "./pages/HomePage";
import { InvitePage } from "./pages/InvitePage";
import { SessionPage } from "./pages/SessionPage";
import { Link, matchRoute, navigate, useLocation } from "./router";
import { disconnectSocket } from "./socket";
import { useAuth } from "./store/auth";

function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, { replace: true }), [to]);
  return null;
}

function TopBar() {
  const user = useAuth((s) => s.user);
  const signOut = async () => {
    disconnectSocket();
    await useAuth.getState().signOut();
    navigate("/signin");
  };
  return (
    <header className="topbar">
      <Link href="/" className="brand">
        Backchannel
      </Link>
      <span className="tagline">Confidential settlement numbers, matched by published rules</span>
      {user && (
        <span className="account">
          Signed in as <strong>{user.name}</strong>
          <button type="button" className="link-button" onClick={signOut}>
            Sign out
          </button>
        </span>
      )}
    </header>
  );
}

export function App() {
  const location = useLocation();
  const route = matchRoute(location);
  const status = useAuth((s) => s.status);

  useEffect(() => {
    setSignedOutHandler(() => {
      disconnectSocket();
      useAuth.getState().expire();
    });
    void useAuth.getState().load();
    return () => setSignedOutHandler(null);
  }, []);

  let page: ReactNode;
  if (status === "unknown") {
    page = <p className="loading">Loading…</p>;
  } else if (route.name === "signin" || route.name === "signup") {
    page =
      status === "signedIn" ? (
        <Redirect to={route.next ?? "/"} />
      ) : (
        <AuthPage mode={route.name} next={route.next} />
      );
  } else if (route.name === "invite") {
    page = <InvitePage token={route.token} />;
  } else if (status !== "signedIn") {
    page = <Redirect to={`/signin?next=${encodeURIComponent(location)}`} />;
  } else if (route.name === "home") {
    page = <HomePage />;
  } else if (route.name === "session") {
    page = <SessionPage key={route.id} sessionId={route.id} />;
  } else {
    page = (
      <main className="page narrow">
        <h1>Page not found</h1>
        <p>
          <Link href="/">Go to your sessions</Link>
        </p>
      </main>
    );
  }
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <TopBar />
      <div id="main">{page}</div>
    </>
  );
}
