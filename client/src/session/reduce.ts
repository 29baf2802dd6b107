// What the client holds of an open session: the view, the position it is at, and the log of events received.
// Pushes and sync answers move it; applying one event to the view is common's applyVisibleEvent (beside viewState),
// so the client never re-implements the engine. Pure: the store calls it; the unit tests call it directly.
import type { SessionView, Side, VisibleEvent } from "@backchannel/common";
import { applyVisibleEvent, completeVisibleEvent } from "@backchannel/common";

/** One event as this viewer received it, with its position in the viewer's stream. */
export interface LoggedEvent {
  version: number;
  event: VisibleEvent;
}

/** Everything the client holds about an open session. */
export interface SessionData {
  view: SessionView;
  /** the last version applied; pushes at or below it are duplicates */
  version: number;
  /** events received since the log began, oldest first (feeds the activity list and the number history) */
  log: LoggedEvent[];
  /** false when a snapshot replaced missing events, so the log has a hole before its latest entries */
  logComplete: boolean;
}

const MAX_LOG = 1_000;

/** A session that ended without a deal destroyed its numbers: the log forgets the own amounts it held too. */
function scrubLog(data: SessionData): SessionData {
  if (data.view.phase !== "ended" || data.view.outcome === "deal") return data;
  if (!data.log.some((l) => l.event.type === "NumberSet" && l.event.amount != null)) return data;
  return {
    ...data,
    log: data.log.map((l) =>
      l.event.type === "NumberSet" && l.event.amount != null
        ? { ...l, event: { ...l.event, amount: null } }
        : l,
    ),
  };
}

export function createSessionData(view: SessionView, version: number): SessionData {
  return { view: { ...view, version }, version, log: [], logComplete: version === 0 };
}

function appendLog(log: LoggedEvent[], entry: LoggedEvent): LoggedEvent[] {
  const next = [...log, entry];
  return next.length > MAX_LOG ? next.slice(next.length - MAX_LOG) : next;
}

export type PushOutcome =
  | { kind: "duplicate" }
  | { kind: "gap"; sinceVersion: number }
  | { kind: "applied"; data: SessionData };

/**
 * A live push. Positions count only what this viewer's role may see, so a jump means pushes were lost: the caller
 * then syncs from the last applied position, and the sync answer includes this push's event.
 */
export function receivePush(data: SessionData, push: LoggedEvent): PushOutcome {
  if (push.version <= data.version) return { kind: "duplicate" };
  if (push.version !== data.version + 1) return { kind: "gap", sinceVersion: data.version };
  return {
    kind: "applied",
    data: scrubLog({
      ...data,
      view: applyVisibleEvent(data.view, push.event, push.version),
      version: push.version,
      log: appendLog(data.log, push),
    }),
  };
}

export type SyncAnswer =
  | { version: number; events: LoggedEvent[] }
  | { version: number; snapshot: SessionView };

/**
 * A sync answer. Events past the last applied version are applied in order. Events at or below it fill in
 * what the push left out (a sync to one socket carries the own side's amounts): they replace the logged copy
 * and fill in the view's amounts (completeVisibleEvent: the own number if still the latest, the smart proposal).
 */
export function applySync(data: SessionData, answer: SyncAnswer): SessionData {
  if ("snapshot" in answer) {
    if (answer.version < data.version) return data;
    return {
      view: { ...answer.snapshot, version: answer.version },
      version: answer.version,
      log: data.log,
      logComplete: data.logComplete && answer.version === data.version,
    };
  }
  let { view, log, version } = data;
  const sorted = [...answer.events].sort((a, b) => a.version - b.version);
  for (const entry of sorted) {
    if (entry.version > version) {
      view = applyVisibleEvent(view, entry.event, entry.version);
      version = entry.version;
      log = appendLog(log, entry);
    } else {
      log = log.map((l) => (l.version === entry.version ? entry : l));
      if (!log.some((l) => l.version === entry.version)) {
        log = [...log, entry].sort((a, b) => a.version - b.version);
      }
      view = completeVisibleEvent(view, entry.event);
    }
  }
  version = Math.max(version, answer.version);
  return scrubLog({ view: { ...view, version }, version, log, logComplete: data.logComplete });
}

/** What to fetch after a push: pushes leave out what only this viewer may see. */
export interface FollowUp {
  /** GET /api/sessions/:id/number: the own side's number changed */
  refreshOwnNumber: boolean;
  /** sync from this version to receive the event with its amount (own number history, smart proposal) */
  refetchFrom: number | null;
}

export function followUpFor(view: SessionView, push: LoggedEvent): FollowUp {
  const side: Side | null = view.viewer.side;
  const ev = push.event;
  if (side === null) return { refreshOwnNumber: false, refetchFrom: null };
  if (ev.type === "NumberSet" && ev.side === side && ev.amount === undefined) {
    return { refreshOwnNumber: true, refetchFrom: push.version - 1 };
  }
  if (ev.type === "SessionEnded") return { refreshOwnNumber: true, refetchFrom: null };
  if (ev.type === "SmartProposalMade" && ev.amount === undefined) {
    return { refreshOwnNumber: false, refetchFrom: push.version - 1 };
  }
  return { refreshOwnNumber: false, refetchFrom: null };
}

/** Replaces the own number with what GET /number (or a SetNumber ack) returned. */
export function withOwnNumber(
  data: SessionData,
  own: Partial<NonNullable<SessionView["numbers"]["own"]>> | null,
): SessionData {
  const current = data.view.numbers.own;
  if (!own || !current) return data;
  // An answer that crossed a newer change on the wire must not roll the number back.
  if (own.setAt != null && current.setAt != null && own.setAt < current.setAt) return data;
  return {
    ...data,
    view: {
      ...data.view,
      numbers: { ...data.view.numbers, own: { ...current, ...own, side: current.side } },
    },
  };
}
