// The app shell: who is signed in, and which page the path names.
import { type ReactNode, useEffect } from "react";
import { setSignedOutHandler } from "./api";
import { Toasts } from "./components/Toasts";
import { watchAttention } from "./lib/browserNotices";
import { AuthPage } from "./pages/AuthPage";
import { HomePage } from "./pages/HomePage";
import { InvitePage } from "./pages/InvitePage";
import { NotificationSettingsPage } from "./pages/NotificationSettingsPage";
import { SessionPage } from "./pages/SessionPage";
import { UnsubscribePage } from "./pages/UnsubscribePage";
import { Link, matchRoute, navigate, useLocation } from "./router";
import { disconnectSocket } from "./socket";
import { useAuth } from "./store/auth";
import { noticeCenter } from "./store/live";

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
          <Link href="/settings/notifications" className="nav-link">
            Notifications
          </Link>
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
    // Coming back to the page (tab shown, window focused) is seeing what it told meanwhile.
    const unwatch = watchAttention(() => noticeCenter.seen());
    return () => {
      setSignedOutHandler(null);
      unwatch();
    };
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
  } else if (route.name === "unsubscribe") {
    // Works without signing in: the token in the mail's link says who and what.
    page = <UnsubscribePage token={route.token} />;
  } else if (status !== "signedIn") {
    page = <Redirect to={`/signin?next=${encodeURIComponent(location)}`} />;
  } else if (route.name === "home") {
    page = <HomePage />;
  } else if (route.name === "session") {
    page = <SessionPage key={route.id} sessionId={route.id} />;
  } else if (route.name === "notificationSettings") {
    page = <NotificationSettingsPage />;
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
      <Toasts />
    </>
  );
}
