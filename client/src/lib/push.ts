// Web Push for this browser: the service worker (public/sw.js, served at /sw.js) and its push subscription.
import type { PushSubscriptionInput } from "@backchannel/common";

export function pushSupported(): boolean {
  return (
    typeof navigator !== "undefined" &&
    "serviceWorker" in navigator &&
    typeof window !== "undefined" &&
    "PushManager" in window &&
    "Notification" in window
  );
}

/** The VAPID key as the bytes PushManager.subscribe wants (it comes base64url-encoded). */
export function base64UrlToBytes(value: string): Uint8Array<ArrayBuffer> {
  const base64 = value
    .replace(/-/g, "+")
    .replace(/_/g, "/")
    .padEnd(Math.ceil(value.length / 4) * 4, "=");
  const raw = atob(base64);
  const bytes = new Uint8Array(new ArrayBuffer(raw.length));
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

/** "Chrome on Android": a label a person recognises among their browsers. */
export function browserLabel(userAgent: string): string {
  const browser = /Edg\//.test(userAgent)
    ? "Edge"
    : /Firefox\//.test(userAgent)
      ? "Firefox"
      : /Chrom(e|ium)\//.test(userAgent)
        ? "Chrome"
        : /Safari\//.test(userAgent)
          ? "Safari"
          : "Browser";
  const system = /Android/.test(userAgent)
    ? "Android"
    : /iPhone|iPad/.test(userAgent)
      ? "iOS"
      : /Mac OS X/.test(userAgent)
        ? "macOS"
        : /Windows/.test(userAgent)
          ? "Windows"
          : /Linux/.test(userAgent)
            ? "Linux"
            : null;
  return system ? `${browser} on ${system}` : browser;
}

/** How long the browser may take to register the worker, and its push service to answer a subscription. */
export const PUSH_TIMEOUT_MS = 15_000;

/** Rejects with `message` when `promise` has not settled in `ms` (a push service out of reach never answers). */
export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export async function registerServiceWorker(): Promise<ServiceWorkerRegistration> {
  await navigator.serviceWorker.register("/sw.js", { scope: "/" });
  return withTimeout(
    navigator.serviceWorker.ready,
    PUSH_TIMEOUT_MS,
    "the service worker did not start in time",
  );
}

/** This browser's current push subscription, if it has one (without registering anything). */
export async function currentPushSubscription(): Promise<PushSubscription | null> {
  if (!pushSupported()) return null;
  const reg = await navigator.serviceWorker.getRegistration("/");
  return (await reg?.pushManager.getSubscription()) ?? null;
}

/** Subscribes this browser with the server's VAPID key; the JSON is what the server stores. */
export async function subscribeThisBrowser(publicKey: string): Promise<PushSubscriptionInput> {
  let stage: "worker" | "push" = "worker";
  const run = async () => {
    const reg = await registerServiceWorker();
    stage = "push";
    const existing = await reg.pushManager.getSubscription();
    return (
      existing ??
      (await reg.pushManager.subscribe({
        userVisibleOnly: true,
        applicationServerKey: base64UrlToBytes(publicKey),
      }))
    );
  };
  // A push service out of reach may never answer: the page says so rather than wait for ever.
  const sub = await withTimeout(run(), PUSH_TIMEOUT_MS, "timeout").catch((err: unknown) => {
    const said = err instanceof Error ? err.message : String(err);
    if (said !== "timeout") throw new Error(`The browser said: ${said}`);
    throw new Error(
      stage === "worker"
        ? "The page's service worker did not start in time."
        : "The browser's push service did not answer in time.",
    );
  });
  const json = sub.toJSON();
  if (!json.endpoint || !json.keys?.p256dh || !json.keys.auth) {
    throw new Error("The browser gave an incomplete push subscription.");
  }
  return {
    endpoint: json.endpoint,
    expirationTime: json.expirationTime ?? null,
    keys: { p256dh: json.keys.p256dh, auth: json.keys.auth },
  };
}
