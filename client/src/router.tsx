// A small history-based router: the path is the state, links push it, the back button pops it.
import type { AnchorHTMLAttributes, MouseEvent } from "react";
import { useSyncExternalStore } from "react";

const CHANGE = "bc:navigate";

function subscribe(onChange: () => void): () => void {
  window.addEventListener("popstate", onChange);
  window.addEventListener(CHANGE, onChange);
  return () => {
    window.removeEventListener("popstate", onChange);
    window.removeEventListener(CHANGE, onChange);
  };
}

function currentLocation(): string {
  return window.location.pathname + window.location.search;
}

/** The current path with its query string, re-rendering on navigation. */
export function useLocation(): string {
  return useSyncExternalStore(subscribe, currentLocation, () => "/");
}

export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  if (to === currentLocation()) return;
  if (opts.replace) window.history.replaceState(null, "", to);
  else window.history.pushState(null, "", to);
  window.dispatchEvent(new Event(CHANGE));
  window.scrollTo?.(0, 0);
}

export type Route =
  | { name: "home" }
  | { name: "signin"; next: string | null }
  | { name: "signup"; next: string | null }
  | { name: "invite"; token: string }
  | { name: "session"; id: string }
  | { name: "notificationSettings" }
  | { name: "unsubscribe"; token: string | null }
  | { name: "notFound" };

/** Only same-site paths are accepted as a place to return to after signing in. */
export function safeNext(next: string | null): string | null {
  return next?.startsWith("/") && !next.startsWith("//") ? next : null;
}

export function matchRoute(location: string): Route {
  const url = new URL(location, "http://local");
  const path = url.pathname.replace(/\/+$/, "") || "/";
  const next = safeNext(url.searchParams.get("next"));
  if (path === "/") return { name: "home" };
  if (path === "/signin") return { name: "signin", next };
  if (path === "/signup") return { name: "signup", next };
  const invite = /^\/invite\/([^/]+)$/.exec(path);
  if (invite) return { name: "invite", token: decodeURIComponent(invite[1]!) };
  if (path === "/settings/notifications") return { name: "notificationSettings" };
  if (path === "/unsubscribe") return { name: "unsubscribe", token: url.searchParams.get("token") || null };
  const session = /^\/sessions\/([^/]+)$/.exec(path);
  if (session) return { name: "session", id: decodeURIComponent(session[1]!) };
  return { name: "notFound" };
}

export function Link(props: AnchorHTMLAttributes<HTMLAnchorElement> & { href: string }) {
  const { href, onClick, ...rest } = props;
  const handle = (e: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(e);
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(href);
  };
  return <a href={href} onClick={handle} {...rest} />;
}
