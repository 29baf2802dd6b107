// Backchannel's service worker: shows Web Push messages and brings the person to the session when they click one.
// A push carries { kind, title, body, url, tag } (common's pushPayloadSchema): words only, never an amount.
/* eslint-env serviceworker */

self.addEventListener("install", () => {
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil(self.clients.claim());
});

/** The payload, or null when it is not one this worker understands (nothing is shown from a stranger's shape). */
function readPayload(data) {
  if (!data) return null;
  let payload;
  try {
    payload = data.json();
  } catch {
    return null;
  }
  if (!payload || typeof payload !== "object") return null;
  const text = (v, max) => (typeof v === "string" ? v.slice(0, max) : "");
  const title = text(payload.title, 200);
  if (!title) return null;
  const url = text(payload.url, 300);
  return {
    kind: text(payload.kind, 40),
    title,
    body: text(payload.body, 500),
    // Only a path on this site: a push never sends the person elsewhere.
    url: url.startsWith("/") && !url.startsWith("//") ? url : "/",
    tag: text(payload.tag, 200) || undefined,
  };
}

self.addEventListener("push", (event) => {
  const payload = readPayload(event.data);
  if (!payload) return;
  event.waitUntil(
    self.registration.showNotification(payload.title, {
      body: payload.body,
      tag: payload.tag,
      // A deal stays on screen until the person sees it.
      requireInteraction: payload.kind === "deal",
      data: { url: payload.url },
    }),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const path = event.notification.data?.url ?? "/";
  const target = new URL(path, self.location.origin).href;
  event.waitUntil(
    (async () => {
      const open = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      // The session's own tab first, then any tab of the app (sent to the session), else a new one.
      const same = open.find((c) => c.url === target);
      if (same) return same.focus();
      const any = open.find((c) => new URL(c.url).origin === self.location.origin);
      if (any) {
        await any.focus();
        return "navigate" in any ? any.navigate(target) : undefined;
      }
      return self.clients.openWindow(target);
    })(),
  );
});
