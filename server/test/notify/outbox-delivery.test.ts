// The outbox's delivery (notify/outbox.ts), on each database backend: triggers that fire together are delivered
// together (one claim statement, one opt-out read, one mark statement, each session read once), and each notice still
// gets its own outcome: a failed send is let go of and retried, given up after MAX_DELIVERY_ATTEMPTS, an opted-out
// kind is not sent, and a notice whose triggers fire twice at once is sent once. A session's notices stored together
// get one trigger, which delivers every pending notice of the session.
import type { SessionState } from "@backchannel/common";
import pino from "pino";
import { expect, it } from "vitest";
import type { DeliveryOutcome, MailChannel, PendingNotice, PushChannel } from "../../src/notify/channels";
import { MAX_DELIVERY_ATTEMPTS, type NoticeRow, Notifications } from "../../src/notify/outbox";
import { optOut } from "../../src/notify/preferences";
import type { Db } from "../../src/store/db";
import type { DeadlineJob, Scheduler } from "../../src/timers/scheduler";
import { createSession, createUser } from "../store/fixtures";
import { describeBackends } from "../support/db";

/** Counts the statements that reach the database, by their first words (a relaxed one marked so). */
function counting(db: Db): { db: Db; statements: string[] } {
  const statements: string[] = [];
  const words = (text: string) => text.trim().split(/\s+/).slice(0, 2).join(" ");
  const wrapped: Db = {
    kind: db.kind,
    query: (text: string, params?: unknown[]) => {
      statements.push(words(text));
      return db.query(text, params);
    },
    relaxed: (text: string, params?: unknown[]) => {
      statements.push(`relaxed: ${words(text)}`);
      return db.relaxed(text, params);
    },
    tx: (fn) => db.tx(fn),
    close: () => db.close(),
  } as Db;
  return { db: wrapped, statements };
}

/** A scheduler that only records what was armed. */
function recordingScheduler(): Scheduler & { armed: DeadlineJob[] } {
  const armed: DeadlineJob[] = [];
  return { ...noScheduler, armed, ensure: async (jobs) => void armed.push(...jobs) };
}

const noScheduler: Scheduler = {
  kind: "in-process",
  start: async () => {},
  ensure: async () => {},
  cancelSession: async () => {},
  close: async () => {},
};

interface Channels {
  mail: MailChannel & { sent: PendingNotice[]; failFor: Set<string> };
  push: PushChannel & { sent: PendingNotice[] };
  reads: string[];
}

function channels(): Channels {
  const mail = {
    sent: [] as PendingNotice[],
    failFor: new Set<string>(),
    destination: "test",
    async send(notice: PendingNotice): Promise<DeliveryOutcome> {
      await new Promise((r) => setTimeout(r, 5));
      if (mail.failFor.has(notice.email)) throw new Error("mail server said 451");
      mail.sent.push(notice);
      return "sent";
    },
    settlementPdf: async () => {
      throw new Error("the outbox never lays out a download");
    },
    close: async () => {},
  };
  const push = {
    sent: [] as PendingNotice[],
    publicKey: "k",
    async send(notice: PendingNotice): Promise<DeliveryOutcome> {
      push.sent.push(notice);
      return "sent";
    },
  };
  return { mail, push, reads: [] };
}

function notificationsOn(
  db: Db,
  c: Channels,
  gate?: () => Promise<void>,
  scheduler: Scheduler = noScheduler,
): Notifications {
  return new Notifications({
    ...(gate ? { gate } : {}),
    db,
    scheduler,
    mail: c.mail,
    push: c.push,
    readSession: async (id) => {
      c.reads.push(id);
      return null as SessionState | null;
    },
    log: pino({ level: "silent" }),
  });
}

async function store(db: Db, rows: NoticeRow[]): Promise<string[]> {
  const n = notificationsOn(db, channels());
  return db.tx((q) => n.record(q, rows));
}

const row = (userId: string, channel: "mail" | "push", over: Partial<NoticeRow> = {}): NoticeRow => ({
  sessionId: null,
  userId,
  email: null,
  channel,
  kind: "deal",
  title: "A deal",
  body: "The session settled.",
  link: null,
  ...over,
});

async function stored(db: Db, ids: string[]) {
  const { rows } = await db.query<{
    id: string;
    attempts: number;
    sent_at: Date | null;
    outcome: string | null;
    claimed_until: Date | null;
  }>("SELECT id, attempts, sent_at, outcome, claimed_until FROM notifications WHERE id = ANY($1::uuid[])", [
    ids,
  ]);
  return new Map(rows.map((r) => [r.id, r]));
}

describeBackends("outbox delivery", ({ db }) => {
  it("delivers notices whose triggers fire together in one claim and one mark, each with its own outcome", async () => {
    const users = await Promise.all([createUser(db(), "A"), createUser(db(), "B"), createUser(db(), "C")]);
    const ids = await store(
      db(),
      users.flatMap((u) => [row(u, "mail"), row(u, "push")]),
    );
    const c = channels();
    const counted = counting(db());
    const n = notificationsOn(counted.db, c);
    const outcomes = await Promise.all(ids.map((id) => n.deliver(id)));
    expect(outcomes).toEqual(Array(6).fill("sent"));
    expect(c.mail.sent.length).toBe(3);
    expect(c.push.sent.length).toBe(3);
    // Claim, opt-outs, mark: three statements for six notices (two commits per notice before); the claim and the mark
    // commit without waiting for the disk (a crash may lose them: the notice is sent again, as after a crash mid-send).
    expect(counted.statements).toEqual([
      "relaxed: WITH found",
      "SELECT v.i",
      "relaxed: UPDATE notifications",
    ]);
    for (const r of (await stored(db(), ids)).values()) {
      expect(r.outcome).toBe("sent");
      expect(r.sent_at).not.toBeNull();
      expect(r.claimed_until).toBeNull();
    }
  });

  it("lets a failed send go for a retry without holding up the others, and gives up after the last attempt", async () => {
    const [ok, failing] = await Promise.all([createUser(db(), "Ok"), createUser(db(), "Failing")]);
    // Stored apart: two groups, two triggers.
    const ids = [...(await store(db(), [row(ok, "mail")])), ...(await store(db(), [row(failing, "mail")]))];
    const c = channels();
    c.mail.failFor.add(`${failing}@example.test`);
    const n = notificationsOn(db(), c);
    const [first, second] = await Promise.allSettled(ids.map((id) => n.deliver(id)));
    expect(first).toEqual({ status: "fulfilled", value: "sent" });
    expect(second?.status).toBe("rejected");
    let rows = await stored(db(), ids);
    expect(rows.get(ids[1] as string)).toMatchObject({
      attempts: 1,
      sent_at: null,
      outcome: null,
      claimed_until: null,
    });
    // A retry finds it free at once; the sent one is never sent again.
    expect(await n.deliver(ids[0] as string)).toBeNull();
    await db().query("UPDATE notifications SET attempts = $2 WHERE id = $1", [
      ids[1],
      MAX_DELIVERY_ATTEMPTS - 1,
    ]);
    expect(await n.deliver(ids[1] as string)).toBeNull();
    rows = await stored(db(), ids);
    expect(rows.get(ids[1] as string)).toMatchObject({ attempts: MAX_DELIVERY_ATTEMPTS, outcome: "failed" });
    expect(rows.get(ids[1] as string)?.sent_at).not.toBeNull();
    expect(c.mail.sent.length).toBe(1);
  });

  it("checks opt-outs when sending, and sends a notice fired twice at once only once", async () => {
    const [quiet, loud] = await Promise.all([createUser(db(), "Quiet"), createUser(db(), "Loud")]);
    await optOut(db(), `${quiet}@example.test`, "mail", "deal");
    const ids = await store(db(), [row(quiet, "mail"), row(loud, "mail"), row(quiet, "push")]);
    const c = channels();
    const n = notificationsOn(db(), c);
    const outcomes = await Promise.all([...ids, ids[1] as string].map((id) => n.deliver(id)));
    expect(outcomes).toEqual(["opted-out", "sent", "sent", null]);
    expect(c.mail.sent.map((m) => m.userId)).toEqual([loud]);
    expect(c.push.sent.map((m) => m.userId)).toEqual([quiet]);
  });

  it("reads each session once for a batch of its mails, and claims each of its rows once", async () => {
    const { sessionId } = await createSession(db());
    const users = await Promise.all([createUser(db(), "A"), createUser(db(), "B")]);
    const ids = await store(
      db(),
      users.map((u) => row(u, "mail", { sessionId })),
    );
    const c = channels();
    const n = notificationsOn(db(), c);
    expect(await Promise.all(ids.map((id) => n.deliver(id)))).toEqual(["sent", "sent"]);
    expect(c.reads).toEqual([sessionId]);
    // Both fire together and find the same rows (one is the group's trigger): each row is still claimed and sent once.
    expect(c.mail.sent.map((m) => m.userId).sort()).toEqual([...users].sort());
    for (const r of (await stored(db(), ids)).values())
      expect(r).toMatchObject({ attempts: 1, outcome: "sent" });
  });

  it("arms one trigger for notices stored together, which delivers exactly those: an earlier group waits for its own", async () => {
    const { sessionId } = await createSession(db());
    const users = await Promise.all([createUser(db(), "A"), createUser(db(), "B"), createUser(db(), "C")]);
    // An earlier commit's notice of the same session, still pending: its own trigger's, not to be touched here.
    const [earlier] = await store(db(), [row(users[0] as string, "push", { sessionId })]);
    const ids = await store(
      db(),
      users.flatMap((u) => [row(u, "mail", { sessionId }), row(u, "push", { sessionId })]),
    );
    const c = channels();
    const scheduler = recordingScheduler();
    const n = notificationsOn(db(), c, undefined, scheduler);
    await n.dispatch(ids);
    expect(scheduler.armed.map((j) => j.sessionId)).toEqual([ids[0]]);
    // Its one trigger fires: the six notices of its group go, the earlier one stays for its trigger.
    expect(await n.deliver(ids[0] as string)).toBe("sent");
    expect(c.mail.sent.length).toBe(3);
    expect(c.push.sent.length).toBe(3);
    const rows = await stored(db(), [...ids, earlier as string]);
    for (const id of ids) expect(rows.get(id)?.outcome, id).toBe("sent");
    expect(rows.get(earlier as string)).toMatchObject({ attempts: 0, sent_at: null });
    expect(await n.deliver(earlier as string)).toBe("sent");
    // A late trigger of one of them (the sweep's, say) finds nothing left to send.
    expect(await n.deliver(ids[3] as string)).toBeNull();
    expect(c.mail.sent.length + c.push.sent.length).toBe(7);
  });

  it("retries a session's trigger when any notice it claimed failed, and the retry sends only what is left", async () => {
    const { sessionId } = await createSession(db());
    const [ok, failing] = await Promise.all([createUser(db(), "Ok"), createUser(db(), "Failing")]);
    const ids = await store(db(), [row(ok, "mail", { sessionId }), row(failing, "mail", { sessionId })]);
    const c = channels();
    c.mail.failFor.add(`${failing}@example.test`);
    const n = notificationsOn(db(), c);
    // The trigger is the first notice's, which was sent: it fails all the same, for the other one's sake.
    await expect(n.deliver(ids[0] as string)).rejects.toThrow(/451/);
    expect(c.mail.sent.map((m) => m.userId)).toEqual([ok]);
    c.mail.failFor.clear();
    expect(await n.deliver(ids[0] as string)).toBeNull();
    expect(c.mail.sent.map((m) => m.userId)).toEqual([ok, failing]);
    const rows = await stored(db(), ids);
    expect(rows.get(ids[1] as string)).toMatchObject({ attempts: 2, outcome: "sent" });
  });

  it("re-arms pending notices at start-up and in the sweep: one trigger per group, one per row stored before groups", async () => {
    const { sessionId } = await createSession(db());
    const user = await createUser(db(), "Swept");
    const inSession = await store(db(), [row(user, "mail", { sessionId }), row(user, "push", { sessionId })]);
    const loose = await store(db(), [row(user, "mail"), row(user, "push")]);
    // Rows stored before notices named their trigger (migration 7) have none: each is its own.
    const older = await store(db(), [row(user, "mail", { sessionId }), row(user, "push", { sessionId })]);
    await db().query("UPDATE notifications SET trigger_id = NULL WHERE id = ANY($1::uuid[])", [older]);
    const c = channels();
    const scheduler = recordingScheduler();
    const n = notificationsOn(db(), c, undefined, scheduler);
    await n.reconcile();
    expect(scheduler.armed.map((j) => j.sessionId).sort()).toEqual([inSession[0], loose[0], ...older].sort());
    // Such a row's trigger delivers that row alone.
    expect(await n.deliver(older[0] as string)).toBe("sent");
    expect(c.mail.sent.length + c.push.sent.length).toBe(1);
    expect((await stored(db(), older)).get(older[1] as string)).toMatchObject({ attempts: 0, sent_at: null });
  });

  it("waits at the gate between the steps of a delivery too, not only before its claim", async () => {
    const user = await createUser(db(), "Stepwise");
    const [id] = await store(db(), [row(user, "mail")]);
    let open!: () => void;
    const shut = new Promise<void>((resolve) => {
      open = resolve;
    });
    let turns = 0;
    const c = channels();
    // Open for the claim; shut from the next step on, as when a command arrives just after it.
    const n = notificationsOn(db(), c, () => (++turns === 1 ? Promise.resolve() : shut));
    const delivered = n.deliver(id as string);
    await new Promise((r) => setTimeout(r, 100));
    expect(turns).toBe(2);
    expect(c.mail.sent).toEqual([]);
    expect((await stored(db(), [id as string])).get(id as string)).toMatchObject({
      attempts: 1,
      sent_at: null,
    });
    open();
    expect(await delivered).toBe("sent");
    expect(turns).toBeGreaterThan(2);
  });

  it("delivers nothing while its gate is shut (the node's commands and deadlines go first)", async () => {
    const user = await createUser(db(), "Waiting");
    const [id] = await store(db(), [row(user, "mail")]);
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const c = channels();
    const n = notificationsOn(db(), c, () => gate);
    const delivered = n.deliver(id as string);
    await new Promise((r) => setTimeout(r, 100));
    expect(c.mail.sent).toEqual([]);
    expect((await stored(db(), [id as string])).get(id as string)).toMatchObject({
      attempts: 0,
      sent_at: null,
    });
    open();
    expect(await delivered).toBe("sent");
    expect(c.mail.sent.length).toBe(1);
  });
});
