// What each person turns off (notification_optouts, keyed by address so an unsubscribe link works without an
// account), and the browsers they receive Web Push in (push_subscriptions). Every kind a channel carries
// (NOTICE_CHANNELS) is on until its owner turns it off; a kind a channel never carries cannot be set at all.

import { ECDH } from "node:crypto";
import { isIPv4 } from "node:net";
import {
  errors,
  NOTICE_CHANNELS,
  NOTICE_CHANNELS_LIST,
  NOTICE_KINDS,
  type NoticeChannel,
  type NoticeKind,
  type NoticePreferences,
  type PushSubscriptionView,
  type pushSubscriptionSchema,
  type updateNoticePreferencesSchema,
} from "@backchannel/common";
import type { z } from "zod";
import { AppError } from "../errors";
import { isUuid } from "../payload";
import type { Queryable } from "../store/db";

/** The most browsers one account can receive push in; the oldest must be removed before another is added. */
export const MAX_PUSH_SUBSCRIPTIONS = 20;

export type NoticePreferencesUpdate = z.output<typeof updateNoticePreferencesSchema>;
export type PushSubscriptionRequest = z.output<typeof pushSubscriptionSchema>;

/** A subscription with what sending needs: its endpoint and the browser's keys. Never logged, never served. */
export interface StoredPushSubscription {
  id: string;
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

/** Addresses are stored lower-case (users.email is), so an opt-out holds whatever case a mail link carried. */
const normal = (email: string) => email.trim().toLowerCase();

/** Every kind each channel carries: true unless the person turned it off. */
export async function getPreferences(q: Queryable, email: string): Promise<NoticePreferences> {
  const { rows } = await q.query<{ channel: string; kind: string }>(
    "SELECT channel, kind FROM notification_optouts WHERE email = $1",
    [normal(email)],
  );
  const off = new Set(rows.map((r) => `${r.channel}:${r.kind}`));
  const prefs: NoticePreferences = { mail: {}, push: {} };
  for (const channel of NOTICE_CHANNELS_LIST) {
    for (const kind of NOTICE_KINDS) {
      if (NOTICE_CHANNELS[kind][channel]) prefs[channel][kind] = !off.has(`${channel}:${kind}`);
    }
  }
  return prefs;
}

/**
 * Turns the given entries on (true) or off (false) and answers every preference as it now stands. Refuses the
 * whole update, changing nothing, when one entry names a kind its channel never carries. Run it in one transaction.
 */
export async function updatePreferences(
  q: Queryable,
  email: string,
  update: NoticePreferencesUpdate,
): Promise<NoticePreferences> {
  const changes: { channel: NoticeChannel; kind: NoticeKind; on: boolean }[] = [];
  for (const channel of NOTICE_CHANNELS_LIST) {
    for (const [kind, on] of Object.entries(update[channel] ?? {}) as [NoticeKind, boolean | undefined][]) {
      if (on === undefined) continue;
      if (!NOTICE_CHANNELS[kind]?.[channel]) {
        throw new AppError(
          errors.invalidInput(
            `${channel}.${kind}: this notice is never sent by ${channel === "mail" ? "mail" : "push"}, so it cannot be turned on or off there.`,
          ),
        );
      }
      changes.push({ channel, kind, on });
    }
  }
  for (const c of changes) {
    if (c.on) await optIn(q, email, c.channel, c.kind);
    else await optOut(q, email, c.channel, c.kind);
  }
  return getPreferences(q, email);
}

/** Turns one kind off on one channel for an address (an unsubscribe link, or the preferences screen). */
export async function optOut(
  q: Queryable,
  email: string,
  channel: NoticeChannel,
  kind: NoticeKind,
): Promise<void> {
  await q.query(
    "INSERT INTO notification_optouts (email, channel, kind) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    [normal(email), channel, kind],
  );
}

async function optIn(q: Queryable, email: string, channel: NoticeChannel, kind: NoticeKind): Promise<void> {
  await q.query("DELETE FROM notification_optouts WHERE email = $1 AND channel = $2 AND kind = $3", [
    normal(email),
    channel,
    kind,
  ]);
}

export async function isOptedOut(
  q: Queryable,
  email: string,
  channel: NoticeChannel,
  kind: NoticeKind,
): Promise<boolean> {
  const [out] = await optedOut(q, [{ email, channel, kind }]);
  return out === true;
}

/** For each (email, channel, kind), whether that address has turned it off: one query for all. */
export async function optedOut(
  q: Queryable,
  items: ReadonlyArray<{ email: string; channel: NoticeChannel; kind: NoticeKind }>,
): Promise<boolean[]> {
  if (items.length === 0) return [];
  const { rows } = await q.query<{ i: number }>(
    `SELECT v.i FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS v(email, channel, kind, i)
       JOIN notification_optouts o ON o.email = v.email AND o.channel = v.channel AND o.kind = v.kind`,
    [items.map((it) => normal(it.email)), items.map((it) => it.channel), items.map((it) => it.kind)],
  );
  const out = items.map(() => false);
  for (const r of rows) out[Number(r.i) - 1] = true;
  return out;
}

// ---------------------------------------------------------------- push subscriptions

interface SubscriptionRow {
  id: string;
  label: string | null;
  endpoint: string;
  created_at: Date | string;
}

function view(r: SubscriptionRow): PushSubscriptionView {
  return {
    id: r.id,
    label: r.label,
    service: serviceOf(r.endpoint),
    createdAt: new Date(r.created_at).getTime(),
  };
}

/**
 * Whether a push endpoint may be stored: an https: URL, as every browser's push service gives; or, when
 * `allowLoopbackHttp` (outside production), an http: URL to this machine, for a push service run in development or
 * a test. Nothing else: the server POSTs to whatever it stores.
 */
export function acceptableEndpoint(endpoint: string, allowLoopbackHttp: boolean): boolean {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return false;
  }
  if (url.protocol === "https:") return true;
  return url.protocol === "http:" && allowLoopbackHttp && isLoopback(url.hostname);
}

/** An uncompressed P-256 point, base64url (as PushSubscription.getKey("p256dh") gives it): on the curve. */
function isP256Point(p256dh: string): boolean {
  if (!/^[A-Za-z0-9_-]+={0,2}$/.test(p256dh)) return false;
  const point = Buffer.from(p256dh, "base64url");
  if (point.length !== 65 || point[0] !== 0x04) return false;
  try {
    ECDH.convertKey(point, "prime256v1");
    return true;
  } catch {
    return false;
  }
}

/** 127.0.0.0/8, ::1 or localhost: a URL's hostname (IPv6 in brackets, as URL gives it). */
export function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  if (host === "localhost" || host === "::1") return true;
  return isIPv4(host) && host.startsWith("127.");
}

/** The push service's host: the one part of an endpoint that is shown or logged (the path identifies a browser). */
export function serviceOf(endpoint: string): string {
  try {
    return new URL(endpoint).host;
  } catch {
    return "unknown";
  }
}

/**
 * Stores a browser's subscription for a user. The same endpoint again (the browser subscribed anew, or another
 * account signed in in it) updates its keys, label and owner: one row per endpoint. Refuses an endpoint that is not
 * https (but see acceptableEndpoint), and a 21st browser.
 * Run it in one transaction: it locks the user's row, so two requests at once cannot pass the cap together.
 */
export async function addSubscription(
  q: Queryable,
  userId: string,
  input: PushSubscriptionRequest,
  opts: { allowLoopbackHttp?: boolean } = {},
): Promise<PushSubscriptionView> {
  if (!acceptableEndpoint(input.endpoint, opts.allowLoopbackHttp ?? false)) {
    throw new AppError(errors.invalidInput("endpoint: The push endpoint must be an https address"));
  }
  // Keys no browser makes would fail the encryption of every notice, each retried: refused here instead.
  if (!isP256Point(input.keys.p256dh)) {
    throw new AppError(
      errors.invalidInput("keys.p256dh: The p256dh key is not a P-256 public key (base64url)"),
    );
  }
  if (
    !/^[A-Za-z0-9_-]+={0,2}$/.test(input.keys.auth) ||
    Buffer.from(input.keys.auth, "base64url").length !== 16
  ) {
    throw new AppError(errors.invalidInput("keys.auth: The auth key must be 16 bytes (base64url)"));
  }
  await q.query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", [userId]);
  const { rows: others } = await q.query<{ n: number | string }>(
    "SELECT count(*) AS n FROM push_subscriptions WHERE user_id = $1 AND endpoint <> $2",
    [userId, input.endpoint],
  );
  if (Number(others[0]?.n ?? 0) >= MAX_PUSH_SUBSCRIPTIONS) {
    throw new AppError(
      errors.invalidInput(
        `You receive notifications in ${MAX_PUSH_SUBSCRIPTIONS} browsers already, the most allowed. Turn them off in a browser you no longer use, then try again.`,
      ),
    );
  }
  const { rows } = await q.query<SubscriptionRow>(
    `INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth, label) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (endpoint) DO UPDATE
       SET user_id = EXCLUDED.user_id, p256dh = EXCLUDED.p256dh, auth = EXCLUDED.auth, label = EXCLUDED.label
     RETURNING id, label, endpoint, created_at`,
    [userId, input.endpoint, input.keys.p256dh, input.keys.auth, input.label || null],
  );
  const row = rows[0];
  if (!row) throw new Error("push subscription upsert returned no row");
  return view(row);
}

/** A user's browsers, oldest first, without endpoints' paths or keys. */
export async function listSubscriptions(q: Queryable, userId: string): Promise<PushSubscriptionView[]> {
  const { rows } = await q.query<SubscriptionRow>(
    "SELECT id, label, endpoint, created_at FROM push_subscriptions WHERE user_id = $1 ORDER BY created_at, id",
    [userId],
  );
  return rows.map(view);
}

/** Removes one of the user's own subscriptions: false when there is no such id among them. */
export async function deleteSubscription(q: Queryable, userId: string, id: string): Promise<boolean> {
  if (!isUuid(id)) return false;
  const { rowCount } = await q.query("DELETE FROM push_subscriptions WHERE id = $1 AND user_id = $2", [
    id,
    userId,
  ]);
  return rowCount > 0;
}

/** A user's subscriptions with their keys, for sending. */
export async function subscriptionsOf(q: Queryable, userId: string): Promise<StoredPushSubscription[]> {
  const { rows } = await q.query<{ id: string; endpoint: string; p256dh: string; auth: string }>(
    "SELECT id, endpoint, p256dh, auth FROM push_subscriptions WHERE user_id = $1 ORDER BY created_at, id",
    [userId],
  );
  return rows.map((r) => ({ id: r.id, endpoint: r.endpoint, keys: { p256dh: r.p256dh, auth: r.auth } }));
}

/** Forgets a subscription the push service says is gone (404, 410). */
export async function dropSubscription(q: Queryable, id: string): Promise<void> {
  await q.query("DELETE FROM push_subscriptions WHERE id = $1", [id]);
}
