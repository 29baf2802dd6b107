// Web Push (RFC 8030, 8291, 8292): a notice to every browser a member subscribed in. The message is encrypted for
// the browser (aes128gcm), so the push service (Google's, Mozilla's, Apple's) sees only its size, a TTL and an
// urgency; and what is encrypted is built from the notice's kind, title, body and session id only: sentences
// without an amount (noticeFor, in common). The page shows the amount once it opens and its user is signed in.
import { request as httpRequest, type OutgoingHttpHeaders } from "node:http";
import type { Agent } from "node:https";
import { type PushPayload, pushPayloadSchema } from "@backchannel/common";
import type { Logger } from "pino";
import webpush, { type RequestOptions } from "web-push";
import type { Db } from "../store/db";
import type { DeliveryOutcome, PendingNotice, PushChannel } from "./channels";
import { dropSubscription, isLoopback, serviceOf, subscriptionsOf } from "./preferences";
import type { VapidKeys } from "./vapid";

/** How long a push service keeps a message for a browser that is offline: a day, then the page tells. */
export const DEFAULT_PUSH_TTL_SECONDS = 86_400;
/** A push service that does not answer within this long counts as a failure (the trigger retries). */
const SEND_TIMEOUT_MS = 15_000;

export interface PushChannelOptions {
  db: Db;
  keys: VapidKeys;
  /** VAPID_SUBJECT: a mailto: or https: URL push services may contact about this server */
  subject: string;
  log: Logger;
  ttlSeconds?: number;
  /** the HTTPS agent requests go through (a test's push service trusts a certificate of its own) */
  agent?: Agent;
  timeoutMs?: number;
}

/** What the browser receives, decrypted: from the notice's kind, title, body and session id, nothing else. */
export function pushPayloadFor(
  notice: Pick<PendingNotice, "kind" | "title" | "body" | "sessionId">,
): PushPayload {
  return pushPayloadSchema.parse({
    kind: notice.kind,
    title: clip(notice.title, 200),
    body: clip(notice.body, 500),
    url: notice.sessionId ? `/sessions/${notice.sessionId}` : "/",
    tag: `${notice.sessionId ?? "none"}:${notice.kind}`,
  });
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

export function createPushChannel(opts: PushChannelOptions): PushChannel {
  const { db, keys, subject, log } = opts;
  const vapidDetails = { subject, publicKey: keys.publicKey, privateKey: keys.privateKey };
  // A bad subject or key fails at start-up, not at the first notice.
  webpush.getVapidHeaders("https://push.example", subject, keys.publicKey, keys.privateKey, "aes128gcm");
  const ttl = opts.ttlSeconds ?? DEFAULT_PUSH_TTL_SECONDS;

  return {
    publicKey: keys.publicKey,
    async send(notice: PendingNotice): Promise<DeliveryOutcome> {
      if (!notice.userId) return "no-subscription";
      const subscriptions = await subscriptionsOf(db, notice.userId);
      if (subscriptions.length === 0) return "no-subscription";
      const body = JSON.stringify(pushPayloadFor(notice));
      const options: RequestOptions = {
        vapidDetails,
        TTL: ttl,
        urgency: notice.kind === "deal" ? "high" : "normal",
        timeout: opts.timeoutMs ?? SEND_TIMEOUT_MS,
        contentEncoding: "aes128gcm",
        ...(opts.agent ? { agent: opts.agent } : {}),
      };
      // No Topic header: it travels in clear to the push service; the payload's tag replaces on the device.

      let sent = 0;
      const failed: string[] = [];
      await Promise.all(
        subscriptions.map(async (s) => {
          const service = serviceOf(s.endpoint);
          try {
            const subscription = { endpoint: s.endpoint, keys: s.keys };
            if (s.endpoint.startsWith("https:")) await webpush.sendNotification(subscription, body, options);
            else await sendOverHttp(subscription, body, options);
            sent++;
          } catch (err) {
            const status = err instanceof webpush.WebPushError ? err.statusCode : undefined;
            if (status === 404 || status === 410) {
              await dropSubscription(db, s.id);
              log.info({ notice: notice.id, service, status }, "push subscription gone: dropped");
              return;
            }
            failed.push(service);
            // Never the endpoint's path, the keys, the payload or the service's answer body: the host and a status.
            log.warn(
              {
                notice: notice.id,
                service,
                ...(status === undefined ? { error: failureOf(err) } : { status }),
              },
              "push send failed",
            );
          }
        }),
      );
      if (failed.length > 0) {
        // The trigger retries the whole notice: browsers that got it this time may get it again (same tag: the
        // second replaces the first on screen).
        throw new Error(
          `push to ${failed.length} of ${subscriptions.length} subscriptions failed (${[...new Set(failed)].join(", ")})`,
        );
      }
      return sent > 0 ? "sent" : "no-subscription";
    },
  };
}

/**
 * web-push speaks only https. An http: endpoint (stored only outside production, and only to this machine: see
 * acceptableEndpoint) gets the very request web-push would make (encrypted body, VAPID, TTL, Urgency) over http.
 * Any other http: endpoint is answered as gone (410): it cannot have been a browser's.
 */
async function sendOverHttp(
  subscription: { endpoint: string; keys: { p256dh: string; auth: string } },
  body: string,
  options: RequestOptions,
): Promise<void> {
  const url = new URL(subscription.endpoint);
  if (url.protocol !== "http:" || !isLoopback(url.hostname)) {
    throw new webpush.WebPushError("Not a push endpoint", 410, {}, "", subscription.endpoint);
  }
  const { agent: _https, ...rest } = options;
  const details = webpush.generateRequestDetails(subscription, body, rest);
  const timeout = options.timeout ?? SEND_TIMEOUT_MS;
  await new Promise<void>((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: details.method, headers: details.headers as OutgoingHttpHeaders, timeout },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status <= 299) resolve();
          else
            reject(
              new webpush.WebPushError(
                "Received unexpected response code",
                status,
                res.headers as Record<string, string>,
                Buffer.concat(chunks).toString("utf8"),
                subscription.endpoint,
              ),
            );
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("Socket timeout")));
    req.on("error", reject);
    req.end(details.body ?? undefined);
  });
}

/** A network failure's code ("ECONNREFUSED", "Socket timeout"), without addresses or anything a request held. */
function failureOf(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === "string") return code;
  return err instanceof Error && err.message === "Socket timeout" ? "timeout" : "error";
}
