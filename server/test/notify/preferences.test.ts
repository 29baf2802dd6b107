// Notice preferences (notification_optouts) and push subscriptions (push_subscriptions), on each database backend.
import { createECDH, randomBytes } from "node:crypto";
import {
  NOTICE_CHANNELS,
  NOTICE_CHANNELS_LIST,
  NOTICE_KINDS,
  type NoticePreferences,
} from "@backchannel/common";
import { expect, it } from "vitest";
import { AppError } from "../../src/errors";
import {
  acceptableEndpoint,
  addSubscription,
  deleteSubscription,
  dropSubscription,
  getPreferences,
  isOptedOut,
  listSubscriptions,
  MAX_PUSH_SUBSCRIPTIONS,
  optOut,
  subscriptionsOf,
  updatePreferences,
} from "../../src/notify/preferences";
import { createUser } from "../store/fixtures";
import { describeBackends } from "../support/db";

/** Every kind each channel carries, all on. */
function allOn(): NoticePreferences {
  const prefs: NoticePreferences = { mail: {}, push: {} };
  for (const channel of NOTICE_CHANNELS_LIST)
    for (const kind of NOTICE_KINDS) if (NOTICE_CHANNELS[kind][channel]) prefs[channel][kind] = true;
  return prefs;
}

async function refusal(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error("expected a refusal");
}

const endpoint = (host = "fcm.googleapis.com") =>
  `https://${host}/fcm/send/${randomBytes(12).toString("base64url")}`;
/** A browser's p256dh: a fresh P-256 public key, uncompressed, base64url. */
const browserKey = () => {
  const ecdh = createECDH("prime256v1");
  ecdh.generateKeys();
  return ecdh.getPublicKey().toString("base64url");
};
const keys = () => ({
  p256dh: browserKey(),
  auth: randomBytes(16).toString("base64url"),
});

describeBackends("notice preferences", ({ db }) => {
  it("has every kind each channel carries on by default, and nothing else", async () => {
    const prefs = await getPreferences(db(), "new@example.test");
    expect(prefs).toEqual(allOn());
    // What the channels never carry is absent, not false.
    expect(prefs.push).not.toHaveProperty("ended");
    expect(prefs.mail).not.toHaveProperty("knock");
    expect(prefs.mail).not.toHaveProperty("message");
  });

  it("keeps what a person turns off, and turns it on again", async () => {
    const email = "claire@example.test";
    const after = await db().tx((q) =>
      updatePreferences(q, email, { push: { deal: false, knock: false }, mail: { reminder: false } }),
    );
    const expected = allOn();
    expected.push.deal = false;
    expected.push.knock = false;
    expected.mail.reminder = false;
    expect(after).toEqual(expected);
    // Stored: read again, in any letter case the address comes in.
    expect(await getPreferences(db(), "Claire@Example.TEST")).toEqual(expected);
    expect(await isOptedOut(db(), email, "push", "deal")).toBe(true);
    expect(await isOptedOut(db(), email, "mail", "deal")).toBe(false);
    // Another person's preferences are their own.
    expect(await getPreferences(db(), "rob@example.test")).toEqual(allOn());

    // Setting what is already set changes nothing; true turns it back on.
    const back = await db().tx((q) => updatePreferences(q, email, { push: { deal: true, knock: false } }));
    expected.push.deal = true;
    expect(back).toEqual(expected);
    expect(await isOptedOut(db(), email, "push", "deal")).toBe(false);
  });

  it("refuses a kind the channel never carries, and changes nothing of that update", async () => {
    const email = "mixed@example.test";
    const e = await refusal(
      db().tx((q) => updatePreferences(q, email, { mail: { deal: false }, push: { ended: false } })),
    );
    expect(e.code).toBe("INVALID_INPUT");
    expect(e.status).toBe(400);
    expect(e.message).toBe(
      "push.ended: this notice is never sent by push, so it cannot be turned on or off there.",
    );
    expect(await getPreferences(db(), email)).toEqual(allOn());

    const m = await refusal(db().tx((q) => updatePreferences(q, email, { mail: { message: true } })));
    expect(m.message).toMatch(/^mail\.message: this notice is never sent by mail/);
  });

  it("records an unsubscribe's opt-out once, however often the link is followed", async () => {
    const email = "links@example.test";
    await optOut(db(), email, "mail", "proposal");
    await optOut(db(), "LINKS@example.test", "mail", "proposal");
    const { rows } = await db().query("SELECT * FROM notification_optouts WHERE email = $1", [email]);
    expect(rows).toHaveLength(1);
    expect((await getPreferences(db(), email)).mail.proposal).toBe(false);
  });
});

describeBackends("push subscriptions", ({ db }) => {
  it("stores a browser's subscription, and shows its service's host and label, never its endpoint or keys", async () => {
    const userId = await createUser(db());
    const input = { endpoint: endpoint(), keys: keys(), label: "Chrome on Android" };
    const view = await db().tx((q) => addSubscription(q, userId, input));
    expect(view).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      label: "Chrome on Android",
      service: "fcm.googleapis.com",
      createdAt: expect.any(Number),
    });
    expect(Math.abs(view.createdAt - Date.now())).toBeLessThan(60_000);
    expect(await listSubscriptions(db(), userId)).toEqual([view]);
    expect(await subscriptionsOf(db(), userId)).toEqual([
      { id: view.id, endpoint: input.endpoint, keys: input.keys },
    ]);
  });

  it("keeps one row per endpoint: subscribing again updates its keys, and another account takes it over", async () => {
    const claire = await createUser(db());
    const rob = await createUser(db(), "Rob Respondent");
    const url = endpoint("updates.push.services.mozilla.com");
    const first = await db().tx((q) => addSubscription(q, claire, { endpoint: url, keys: keys() }));
    const newKeys = keys();
    const second = await db().tx((q) => addSubscription(q, claire, { endpoint: url, keys: newKeys }));
    expect(second.id).toBe(first.id);
    expect(second.label).toBeNull();
    expect(await subscriptionsOf(db(), claire)).toEqual([{ id: first.id, endpoint: url, keys: newKeys }]);

    // Rob signs in in the same browser: its notifications are now his.
    const robs = await db().tx((q) =>
      addSubscription(q, rob, { endpoint: url, keys: newKeys, label: "Firefox" }),
    );
    expect(robs.id).toBe(first.id);
    expect(await listSubscriptions(db(), claire)).toEqual([]);
    expect(await listSubscriptions(db(), rob)).toEqual([robs]);
  });

  it(`refuses a browser beyond ${MAX_PUSH_SUBSCRIPTIONS}, but still lets one already there subscribe again`, async () => {
    const userId = await createUser(db());
    const urls: string[] = [];
    for (let i = 0; i < MAX_PUSH_SUBSCRIPTIONS; i++) {
      urls.push(endpoint());
      await db().tx((q) => addSubscription(q, userId, { endpoint: urls[i] as string, keys: keys() }));
    }
    const e = await refusal(
      db().tx((q) => addSubscription(q, userId, { endpoint: endpoint(), keys: keys() })),
    );
    expect(e.code).toBe("INVALID_INPUT");
    expect(e.message).toBe(
      `You receive notifications in ${MAX_PUSH_SUBSCRIPTIONS} browsers already, the most allowed. Turn them off in a browser you no longer use, then try again.`,
    );
    await db().tx((q) => addSubscription(q, userId, { endpoint: urls[3] as string, keys: keys() }));
    expect(await listSubscriptions(db(), userId)).toHaveLength(MAX_PUSH_SUBSCRIPTIONS);
    // Another account is not limited by this one's browsers.
    const other = await createUser(db());
    await db().tx((q) => addSubscription(q, other, { endpoint: endpoint(), keys: keys() }));
  });

  it("stores https endpoints; http ones only to this machine, and only when allowed (outside production)", async () => {
    for (const url of ["https://fcm.googleapis.com/fcm/send/x", "https://web.push.apple.com/abc"])
      expect(acceptableEndpoint(url, false)).toBe(true);
    for (const url of [
      "http://127.0.0.1:8080/p",
      "http://127.1.2.3/p",
      "http://localhost/p",
      "http://[::1]:9/p",
    ]) {
      expect(acceptableEndpoint(url, true), url).toBe(true);
      expect(acceptableEndpoint(url, false), url).toBe(false);
    }
    for (const url of [
      "http://push.example/p",
      "http://10.0.0.1/p",
      "http://127.0.0.1.nip.io/p",
      "http://[::ffff:10.0.0.1]/p",
      "ftp://127.0.0.1/p",
      "not a url",
    ])
      expect(acceptableEndpoint(url, true), url).toBe(false);

    const userId = await createUser(db());
    const e = await refusal(
      db().tx((q) => addSubscription(q, userId, { endpoint: "http://127.0.0.1:1/p", keys: keys() })),
    );
    expect(e.message).toBe("endpoint: The push endpoint must be an https address");
    await db().tx((q) =>
      addSubscription(
        q,
        userId,
        { endpoint: "http://127.0.0.1:1/p", keys: keys() },
        { allowLoopbackHttp: true },
      ),
    );
    expect(await listSubscriptions(db(), userId)).toHaveLength(1);
  });

  it("refuses keys no browser makes: a p256dh off the curve, an auth secret not 16 bytes", async () => {
    const userId = await createUser(db());
    const offCurve = Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 1)]).toString("base64url");
    const add = (k: { p256dh: string; auth: string }) =>
      refusal(db().tx((q) => addSubscription(q, userId, { endpoint: endpoint(), keys: k })));
    for (const p256dh of [offCurve, randomBytes(33).toString("base64url"), "not base64!"]) {
      expect((await add({ ...keys(), p256dh })).message).toBe(
        "keys.p256dh: The p256dh key is not a P-256 public key (base64url)",
      );
    }
    for (const auth of [randomBytes(8).toString("base64url"), "***"]) {
      expect((await add({ ...keys(), auth })).message).toBe(
        "keys.auth: The auth key must be 16 bytes (base64url)",
      );
    }
    expect(await listSubscriptions(db(), userId)).toEqual([]);
  });

  it("deletes only one's own subscription; drops any by id", async () => {
    const claire = await createUser(db());
    const rob = await createUser(db(), "Rob Respondent");
    const mine = await db().tx((q) => addSubscription(q, claire, { endpoint: endpoint(), keys: keys() }));
    const his = await db().tx((q) => addSubscription(q, rob, { endpoint: endpoint(), keys: keys() }));

    expect(await deleteSubscription(db(), claire, his.id)).toBe(false);
    expect(await deleteSubscription(db(), claire, "not-a-uuid")).toBe(false);
    expect(await deleteSubscription(db(), claire, "00000000-0000-4000-8000-000000000000")).toBe(false);
    expect(await listSubscriptions(db(), rob)).toEqual([his]);
    expect(await deleteSubscription(db(), claire, mine.id)).toBe(true);
    expect(await deleteSubscription(db(), claire, mine.id)).toBe(false);
    expect(await listSubscriptions(db(), claire)).toEqual([]);

    await dropSubscription(db(), his.id);
    expect(await listSubscriptions(db(), rob)).toEqual([]);
  });
});
