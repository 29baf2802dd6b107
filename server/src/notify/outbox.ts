// The notification outbox. A command that makes notices (noticeFor, in common) stores them in its own transaction,
// one row per recipient and channel, so a notice exists exactly when its event does. After the commit, the rows stored
// together (a commit's, an invitation's mail) get one trigger on the notifications scheduler (BullMQ on the workers
// when Redis is configured, in process otherwise), named by the first of them, which every row of the group names in
// `trigger_id`; the trigger's handler delivers those rows through their channels once: it claims them for a while,
// sends outside any transaction (a slow mail server must not hold a connection, nor PGlite's only one), then marks
// them sent. Triggers that fire together are delivered together: one statement claims them all, one reads their
// opt-outs, each session is read once, and one statement marks them all, instead of two commits per notice. The claim
// and the mark are relaxed writes (Db.relaxed): a crash that loses one sends a notice again, as a crash between send
// and mark does. A failed send is retried by the scheduler, then by the worker's sweep, up to MAX_DELIVERY_ATTEMPTS.
// Rows hold ids, a kind and sentences without amounts; a queue job holds only the trigger's id.

import { randomUUID } from "node:crypto";
import {
  NOTICE_CHANNELS,
  NOTICE_CHANNELS_LIST,
  type NoticeChannel,
  type NoticeKind,
  noticeFor,
  projectEvent,
  type SessionEvent,
  type SessionState,
} from "@backchannel/common";
import type { Logger } from "pino";
import { errorText } from "../log";
import type { Db, Queryable } from "../store/db";
import { GroupCommit, type UnitOutcome } from "../store/group-commit";
import { CteStatement } from "../store/sql";
import type { Scheduler } from "../timers/scheduler";
import type { DeliveryOutcome, MailChannel, PendingNotice, PushChannel } from "./channels";
import { optedOut } from "./preferences";

/** One notice to store: for a member (userId) or, for an invitation, an address. */
export interface NoticeRow {
  sessionId: string | null;
  userId: string | null;
  email: string | null;
  channel: NoticeChannel;
  kind: NoticeKind;
  title: string;
  body: string;
  link: string | null;
}

/** After this many failed sends a notice is given up (outcome "failed"); the log says why. */
export const MAX_DELIVERY_ATTEMPTS = 10;
/** How long a delivery holds its claim on a row: a node that dies mid-send leaves it to the sweep after this. */
const CLAIM_MS = 120_000;
/** The scheduler's key for a notice group's trigger (its "session" is the trigger's id, so groups run in parallel). */
const TRIGGER_KEY = "notice";
/** Notices delivered together at most, and batches of them in flight at once (each waits for its slowest send). */
const DELIVERY_BATCH = 100;
const DELIVERY_BATCHES = 4;

/**
 * The notices a commit sends outside the page: for each new event, each member of the session as it stands after the
 * event is told what noticeFor says of the event as that member's role sees it, on every channel that carries its kind.
 */
export function noticesOf(
  sessionId: string,
  events: ReadonlyArray<{ event: SessionEvent; state: SessionState }>,
): NoticeRow[] {
  const rows: NoticeRow[] = [];
  for (const { event, state } of events) {
    const nameOf = (id: string) => state.members[id]?.name;
    for (const [userId, member] of Object.entries(state.members)) {
      const viewer = { userId, role: member.role };
      const visible = projectEvent(event, viewer, state);
      if (!visible) continue;
      const notice = noticeFor(visible, viewer, { title: state.title, nameOf });
      if (!notice) continue;
      for (const channel of NOTICE_CHANNELS_LIST) {
        if (!NOTICE_CHANNELS[notice.kind][channel]) continue;
        rows.push({
          sessionId,
          userId,
          email: null,
          channel,
          kind: notice.kind,
          title: notice.title,
          body: notice.body,
          link: null,
        });
      }
    }
  }
  return rows;
}

export interface NotificationsDeps {
  db: Db;
  /** the notifications' own scheduler (not the deadlines'): a trigger per row */
  scheduler: Scheduler;
  mail?: MailChannel;
  push?: PushChannel;
  /** the session as it stands now, for the deal mail's summary; null when there is none */
  readSession(sessionId: string): Promise<SessionState | null>;
  log: Logger;
  now?: () => number;
  /** Awaited before each step of a delivery batch: lets more urgent work on this node (commands, deadline ticks) go first. */
  gate?: () => Promise<void>;
}

interface StoredRow {
  id: string;
  /** the trigger (a row id) whose delivery claimed this row: the first row of its group */
  via: string;
  session_id: string | null;
  user_id: string | null;
  email: string | null;
  user_email: string | null;
  display_name: string | null;
  channel: NoticeChannel;
  kind: NoticeKind;
  title: string;
  body: string;
  link: string | null;
  attempts: number;
}

export class Notifications {
  private readonly now: () => number;
  private readonly deliveries: GroupCommit<{ key: string }, DeliveryOutcome | null>;

  constructor(private readonly deps: NotificationsDeps) {
    this.now = deps.now ?? Date.now;
    this.deliveries = new GroupCommit((units) => this.deliverBatch(units.map((u) => u.key)), {
      maxBatch: DELIVERY_BATCH,
      concurrency: DELIVERY_BATCHES,
    });
  }

  /** Stores rows, one group, in the caller's transaction; returns their ids for dispatch() once it has committed. */
  async record(q: Queryable, rows: readonly NoticeRow[]): Promise<string[]> {
    const stmt = new CteStatement();
    const [ids = []] = this.stage(stmt, [rows]);
    if (ids.length > 0) await q.query(stmt.sql("SELECT 1"), stmt.params);
    return ids;
  }

  /**
   * Adds the rows' insert to a statement the caller runs (a command batch's one write statement); returns each group's
   * ids, made here, for dispatch() once that statement has committed. A group (a commit's rows) shares one trigger:
   * every row of it names the group's first row in `trigger_id`.
   */
  stage(stmt: CteStatement, groups: ReadonlyArray<readonly NoticeRow[]>): string[][] {
    const ids = groups.map((rows) => rows.map(() => randomUUID()));
    stmt.insert(
      "noticed",
      "notifications",
      {
        id: "uuid",
        session_id: "uuid",
        user_id: "uuid",
        email: "text",
        channel: "text",
        kind: "text",
        title: "text",
        body: "text",
        link: "text",
        trigger_id: "uuid",
      },
      groups.flatMap((rows, g) => {
        const own = ids[g] as string[];
        return rows.map((r, i) => [
          own[i],
          r.sessionId,
          r.userId,
          r.email,
          r.channel,
          r.kind,
          r.title,
          r.body,
          r.link,
          own[0],
        ]);
      }),
    );
    return ids;
  }

  /**
   * Arms the trigger of one group of rows (stage's or record's), once they have committed: one trigger, named by the
   * first row, whose delivery takes every row of the group (a deal's eight notices are one trigger, not eight: each
   * trigger is several Redis round trips and scripts on BullMQ). A failure here is only logged: the worker's sweep
   * re-arms pending rows.
   */
  dispatch(ids: readonly string[]): Promise<void> {
    return this.arm(ids.slice(0, 1));
  }

  private arm(triggers: readonly string[]): Promise<void> {
    if (triggers.length === 0) return Promise.resolve();
    const dueAt = this.now();
    return this.deps.scheduler
      .ensure(triggers.map((id) => ({ sessionId: id, key: TRIGGER_KEY, dueAt })))
      .catch((err) =>
        this.deps.log.error({ err: errorText(err), triggers: triggers.length }, "notice dispatch failed"),
      );
  }

  /** The worker's side: fire triggers into deliver(). */
  async start(): Promise<void> {
    await this.deps.scheduler.start(async (job) => {
      await this.deliver(job.sessionId);
    });
  }

  /**
   * Fires the trigger named by row `id`: delivers the rows of its group (that row, and every row naming it in
   * `trigger_id`) still pending, each at most once per successful send: claims them (so two triggers never send a row
   * together), sends, marks them sent. Returns the outcome of row `id` itself (null when this trigger did not send it: sent
   * already, or claimed by another). Throws when a send of a row it claimed failed, so the trigger retries. Triggers
   * that fire together share the claim and the mark (deliverBatch); a row is never in two deliveries at once.
   */
  deliver(id: string): Promise<DeliveryOutcome | null> {
    return this.deliveries.submit({ key: id });
  }

  private async deliverBatch(ids: readonly string[]): Promise<Array<UnitOutcome<DeliveryOutcome | null>>> {
    const { db, log } = this.deps;
    // Each step of a delivery (its statements, its sends) waits its turn behind the node's commands: on the embedded
    // database they share one connection, and a deal's delivery (a claim, the opt-outs, the session, the subscriptions,
    // the mark) would otherwise hold the next command's commit for as many statements.
    const turn = () => this.deps.gate?.();
    await turn();
    // The triggers' rows, found by their ids alone (the primary key, and trigger_id's index: rows stored before that
    // column have none and are each their own trigger), and locked; a row another delivery is claiming at this moment
    // is skipped, not waited for. Whether a row is still to send is decided on the locked row, not in the search: a
    // search for pending rows could use the pending rows' partial index, whose estimate, from statistics taken while
    // few rows were pending, made PostgreSQL scan every pending row for each trigger once a burst had queued thousands
    // (up to 148 ms a claim; docs/benchmarks.md).
    const claimed = await db.relaxed<StoredRow>(
      `WITH found AS (
         SELECT t.id, coalesce(t.trigger_id, t.id) AS via, u.email AS user_email, u.display_name,
                t.sent_at IS NULL AND (t.claimed_until IS NULL OR t.claimed_until < $3::timestamptz) AS due
           FROM notifications t LEFT JOIN users u ON u.id = t.user_id
          WHERE t.trigger_id = ANY($1::uuid[]) OR t.id = ANY($1::uuid[])
            FOR UPDATE OF t SKIP LOCKED)
       UPDATE notifications n SET claimed_until = $2::timestamptz, attempts = n.attempts + 1
         FROM found c
        WHERE n.id = c.id AND c.due
        RETURNING c.via, n.id, n.session_id, n.user_id, n.email, c.user_email, c.display_name,
                  n.channel, n.kind, n.title, n.body, n.link, n.attempts`,
      [ids, new Date(this.now() + CLAIM_MS).toISOString(), new Date(this.now()).toISOString()],
    );
    const rows = new Map(claimed.rows.map((r) => [r.id, r]));
    const notices = claimed.rows.map(
      (row): PendingNotice => ({
        id: row.id,
        sessionId: row.session_id,
        userId: row.user_id,
        email: row.email ?? row.user_email ?? "",
        name: row.display_name,
        kind: row.kind,
        title: row.title,
        body: row.body,
        link: row.link,
      }),
    );
    // Opt-outs are checked when sending, so turning a kind off stops what is already queued.
    const withEmail = notices.filter((n) => n.email);
    await turn();
    const offList = await optedOut(
      db,
      withEmail.map((n) => ({ email: n.email, channel: rows.get(n.id)?.channel ?? "mail", kind: n.kind })),
    );
    const off = new Set(withEmail.filter((_, i) => offList[i]).map((n) => n.id));
    // Each session read once for the batch (a deal's mails all summarise the same settlement).
    const sessions = new Map<string, Promise<SessionState | null>>();
    const sessionOf = (id: string) => {
      let read = sessions.get(id);
      if (!read) {
        read = this.deps.readSession(id).catch(() => null);
        sessions.set(id, read);
      }
      return read;
    };
    const sent = new Map<string, { outcome: DeliveryOutcome } | { error: unknown }>();
    await Promise.all(
      notices.map(async (notice) => {
        const channel = (rows.get(notice.id) as StoredRow).channel;
        try {
          await turn();
          const outcome = off.has(notice.id) ? "opted-out" : await this.send(notice, channel, sessionOf);
          sent.set(notice.id, { outcome });
        } catch (error) {
          sent.set(notice.id, { error });
        }
      }),
    );
    // One statement marks the batch: sent (or given up after MAX_DELIVERY_ATTEMPTS) rows are done and lose their
    // link; a failed one is only let go of, so the next trigger (or the sweep) may try again at once.
    const marks = [...sent].map(([id, r]) => {
      const row = rows.get(id) as StoredRow;
      if ("outcome" in r) return { id, outcome: r.outcome as string, done: true };
      const last = row.attempts >= MAX_DELIVERY_ATTEMPTS;
      log.warn(
        {
          err: errorText(r.error),
          notice: id,
          channel: row.channel,
          kind: row.kind,
          attempt: row.attempts,
          gaveUp: last,
        },
        "notice delivery failed",
      );
      return { id, outcome: last ? "failed" : null, done: last };
    });
    if (marks.length > 0) {
      await turn();
      await db.relaxed(
        `UPDATE notifications n
            SET claimed_until = NULL,
                sent_at = CASE WHEN v.done THEN now() ELSE n.sent_at END,
                outcome = CASE WHEN v.done THEN v.outcome ELSE n.outcome END,
                link = CASE WHEN v.done THEN NULL ELSE n.link END
           FROM unnest($1::uuid[], $2::text[], $3::boolean[]) AS v(id, outcome, done)
          WHERE n.id = v.id`,
        [marks.map((m) => m.id), marks.map((m) => m.outcome), marks.map((m) => m.done)],
      );
    }
    // A trigger fails (and is retried) with the error of a send it made that failed and may be tried again; otherwise
    // its value is its own row's outcome.
    const retry = new Map<string, unknown>();
    for (const [id, r] of sent) {
      const row = rows.get(id) as StoredRow;
      if ("error" in r && row.attempts < MAX_DELIVERY_ATTEMPTS && !retry.has(row.via))
        retry.set(row.via, r.error);
    }
    return ids.map((id): UnitOutcome<DeliveryOutcome | null> => {
      if (retry.has(id)) return { ok: false, error: retry.get(id) };
      const r = sent.get(id);
      return { ok: true, value: r && "outcome" in r ? r.outcome : null };
    });
  }

  private async send(
    notice: PendingNotice,
    channel: NoticeChannel,
    sessionOf: (id: string) => Promise<SessionState | null>,
  ): Promise<DeliveryOutcome> {
    const { mail, push } = this.deps;
    if (channel === "push") {
      if (!push || !notice.userId) return "not-configured";
      return push.send(notice);
    }
    if (!mail || !notice.email) return "not-configured";
    return mail.send(notice, notice.sessionId ? await sessionOf(notice.sessionId) : null);
  }

  /**
   * Re-arms a trigger for every row still unsent and unclaimed (created before `olderThan`): at start-up, and by the
   * worker's sweep for rows whose trigger was lost. Returns how many.
   */
  async reconcile(opts: { olderThan?: number } = {}): Promise<number> {
    const before = new Date(opts.olderThan ?? this.now()).toISOString();
    const { rows } = await this.deps.db.query<{ trigger: string }>(
      `SELECT coalesce(trigger_id, id) AS trigger FROM notifications
        WHERE sent_at IS NULL AND created_at <= $1::timestamptz
          AND (claimed_until IS NULL OR claimed_until < $2::timestamptz)
        ORDER BY created_at LIMIT 1000`,
      [before, new Date(this.now()).toISOString()],
    );
    // One trigger per group, as dispatch arms them.
    await this.arm([...new Set(rows.map((r) => r.trigger))]);
    return rows.length;
  }

  /** The newest rows, for operators and tests: what was sent to whom, and how it went. */
  async recent(limit = 1000) {
    const { rows } = await this.deps.db.query<Record<string, unknown>>(
      `SELECT id, session_id, user_id, email, channel, kind, title, body, link, attempts, sent_at, outcome
         FROM notifications ORDER BY created_at DESC LIMIT $1`,
      [limit],
    );
    return rows;
  }

  async close(): Promise<void> {
    await this.deps.scheduler.close();
    await this.deps.mail?.close();
  }
}
