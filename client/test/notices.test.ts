// What the page tells a person as events arrive: toasts (capped, dismissible, leaving by themselves except the
// deal), unread messages per room, the tab title's unseen count, and notifications outside the page while hidden.
// Events are real engine decisions, redacted for each viewer as the server sends them.
import type { Notice, Role, SessionEvent } from "@backchannel/common";
import { describe, expect, it, vi } from "vitest";
import {
  addToast,
  catchUpNotices,
  clearUnread,
  countUnread,
  dismissToast,
  expireToasts,
  MAX_TOASTS,
  nextExpiry,
  noticesFor,
  TOAST_MS,
  tabTitle,
  toastFor,
  wantsToast,
} from "../src/session/notices";
import type { LoggedEvent } from "../src/session/reduce";
import { NoticeCenter, noticeTag } from "../src/store/notices";
import { dealAtStep2, EngineLog } from "./engineLog";
import { RULES, SESSION_ID, snapshot, syncedFor, T0 } from "./fixtures";

const note = (kind: Notice["kind"], title: string = kind, room?: Notice["room"]): Notice =>
  room ? { kind, title, body: `${title} body`, room } : { kind, title, body: `${title} body` };

/** The events after `from` (an index in the log) as `role` receives them, and its view after them. */
function arrivals(events: SessionEvent[], from: number, role: Role) {
  const entries: LoggedEvent[] = [];
  for (let i = from; i < events.length; i++) {
    const e = syncedFor(events, i, role);
    if (e) entries.push(e);
  }
  return { entries, view: snapshot(events, role) };
}

describe("the toast queue", () => {
  it("shows at most three: a fourth pushes the oldest out", () => {
    let toasts = [1, 2, 3, 4].map((id) => toastFor(id, note("update", `n${id}`), 0));
    toasts = toasts.reduce((q, t) => addToast(q, t), [] as ReturnType<typeof toastFor>[]);
    expect(MAX_TOASTS).toBe(3);
    expect(toasts.map((t) => t.notice.title)).toEqual(["n2", "n3", "n4"]);
  });

  it("keeps the deal when it is full: the oldest of the others leaves", () => {
    let q = addToast([], toastFor(1, note("deal", "Deal reached"), 0));
    for (const id of [2, 3, 4, 5]) q = addToast(q, toastFor(id, note("knock", `k${id}`), 0));
    expect(q.map((t) => t.notice.title)).toEqual(["Deal reached", "k4", "k5"]);
  });

  it("dismisses one toast by its id", () => {
    const q = [toastFor(1, note("knock"), 0), toastFor(2, note("proposal"), 0)];
    expect(dismissToast(q, 1).map((t) => t.id)).toEqual([2]);
  });

  it("lets every toast but the deal leave after TOAST_MS", () => {
    const q = [
      toastFor(1, note("knock"), 1_000),
      toastFor(2, note("deal"), 1_000),
      toastFor(3, note("update"), 5_000),
    ];
    expect(TOAST_MS).toBe(8_000);
    expect(nextExpiry(q)).toBe(9_000);
    expect(expireToasts(q, 8_999).map((t) => t.id)).toEqual([1, 2, 3]);
    expect(expireToasts(q, 9_000).map((t) => t.id)).toEqual([2, 3]);
    expect(expireToasts(q, 60_000_000).map((t) => t.id)).toEqual([2]);
    expect(nextExpiry(expireToasts(q, 60_000_000))).toBeNull();
  });

  it("gives a message a toast only when its room is not on screen", () => {
    expect(wantsToast(note("message", "m", "joint"), "joint")).toBe(false);
    expect(wantsToast(note("message", "m", "joint"), "caucus:claimant")).toBe(true);
    expect(wantsToast(note("message", "m", "joint"), null)).toBe(true);
    expect(wantsToast(note("knock"), "joint")).toBe(true);
  });

  it("sums up a catch-up: the deal on its own, the rest as one", () => {
    const sum = catchUpNotices(
      [note("knock"), note("deal"), note("message", "m", "joint"), note("update")],
      "X",
    );
    expect(sum.map((n) => [n.kind, n.title])).toEqual([
      ["deal", "deal"],
      ["update", "3 updates while you were away"],
    ]);
    expect(catchUpNotices([note("knock")], "X")).toEqual([note("knock")]);
  });
});

describe("unread messages per room", () => {
  it("counts messages in rooms not on screen, per room; opening a room clears it", () => {
    let unread = countUnread(
      {},
      [
        note("message", "a", "joint"),
        note("message", "b", "caucus:claimant"),
        note("message", "c", "joint"),
        note("knock"),
        note("message", "d", "side:claimant"),
      ],
      "side:claimant",
    );
    expect(unread).toEqual({ joint: 2, "caucus:claimant": 1 });
    unread = clearUnread(unread, "joint");
    expect(unread).toEqual({ "caucus:claimant": 1 });
    expect(clearUnread(unread, "joint")).toBe(unread);
  });
});

describe("the tab title", () => {
  it("prefixes the count of unseen notices, and drops it at zero", () => {
    expect(tabTitle("Step 3 — live bidding", "Smith v. Acme", 2)).toBe(
      "(2) Step 3 — live bidding · Smith v. Acme · Backchannel",
    );
    expect(tabTitle("Step 3 — live bidding", "Smith v. Acme", 0)).toBe(
      "Step 3 — live bidding · Smith v. Acme · Backchannel",
    );
    expect(tabTitle(null, null, 0)).toBe("Backchannel");
  });
});

/** A mediation day in Step 3, then: a knock, messages in three rooms, the mediator's proposal. */
function dayLog() {
  const log = new EngineLog();
  log.run("claimant", { type: "SetNumber", amount: 9_000_000 });
  log.run("respondent", { type: "SetNumber", amount: 4_000_000 });
  log.tickAt(T0 + RULES.step2DurationMs); // no overlap: Step 3 opens
  const start = log.events.length;
  log.run("claimant", { type: "Knock" });
  log.run("claimant", { type: "PostMessage", messageId: "m1", room: "caucus:claimant", text: "Hello" });
  log.run("mediator", { type: "OpenJointRoom" });
  log.run("respondent", { type: "PostMessage", messageId: "m2", room: "joint", text: "Ready" });
  log.run("respondent", { type: "PostMessage", messageId: "m3", room: "joint", text: "Still ready" });
  log.run("mediator", {
    type: "PutMediatorProposal",
    proposalId: "p1",
    amount: 5_000_000,
    answerBy: log.now + 600_000,
  });
  return { log, start };
}

function center(opts: { attended?: boolean } = {}) {
  let now = 1_000_000;
  let attended = opts.attended ?? true;
  const timers: Array<{ fn: () => void; at: number }> = [];
  const notifyOutside = vi.fn();
  const c = new NoticeCenter({
    now: () => now,
    attended: () => attended,
    notifyOutside,
    setTimer: (fn, ms) => {
      const t = { fn, at: now + ms };
      timers.push(t);
      return t;
    },
    clearTimer: (h) => {
      const i = timers.indexOf(h as (typeof timers)[number]);
      if (i >= 0) timers.splice(i, 1);
    },
  });
  c.open(SESSION_ID);
  return {
    c,
    notifyOutside,
    state: () => c.store.getState(),
    setAttended: (v: boolean) => {
      attended = v;
    },
    /** the clock moves on; due timers fire */
    advance(ms: number) {
      now += ms;
      for (const t of [...timers].sort((a, b) => a.at - b.at)) {
        if (t.at <= now && timers.includes(t)) {
          timers.splice(timers.indexOf(t), 1);
          t.fn();
        }
      }
    },
  };
}

describe("the notice centre", () => {
  it("tells the mediator of a knock with common's words, and never a side of its own knock", () => {
    const { log, start } = dayLog();
    const knock = log.events.slice(0, start + 1);
    const m = arrivals(knock, start, "mediator");
    expect(noticesFor(m.entries, m.view)).toEqual([
      {
        kind: "knock",
        title: "The claimant asks for you",
        body: "Claire Claimant (claimant) asks the mediator to come to their room in Smith v. Acme.",
      },
    ]);
    const c = arrivals(knock, start, "claimant");
    expect(noticesFor(c.entries, c.view)).toEqual([]);
  });

  it("shows a live toast that leaves after 8 s; the deal's stays until dismissed", () => {
    const t = center();
    const { log, start } = dayLog();
    const m = arrivals(log.events.slice(0, start + 1), start, "mediator");
    t.c.receive(SESSION_ID, m.entries, m.view, "live");
    expect(t.state().toasts.map((x) => x.notice.kind)).toEqual(["knock"]);
    t.advance(TOAST_MS - 1);
    expect(t.state().toasts).toHaveLength(1);
    t.advance(1);
    expect(t.state().toasts).toHaveLength(0);

    const deal = dealAtStep2();
    const r = arrivals(deal.events, deal.opened, "respondent");
    t.c.receive(SESSION_ID, r.entries, r.view, "live");
    const kinds = t.state().toasts.map((x) => x.notice.kind);
    expect(kinds).toContain("deal");
    t.advance(10 * TOAST_MS);
    expect(t.state().toasts.map((x) => x.notice.kind)).toEqual(["deal"]);
    expect(JSON.stringify(t.state().toasts)).not.toMatch(/5,?000,?000|50,?000/);
    t.c.dismiss(t.state().toasts[0]!.id);
    expect(t.state().toasts).toEqual([]);
  });

  it("takes a reminder's toast away once Step 2 closes, or once the side has entered its number", () => {
    /** The respondent enters its number; the claimant's side does not, and its page shows the reminder. */
    const reminded = () => {
      const log = new EngineLog();
      log.run("respondent", { type: "SetNumber", amount: 4_086_373 });
      const from = log.events.length;
      expect(log.tickAt(T0 + RULES.step2DurationMs - 2_000).map((e) => e.type)).toContain("ReminderDue");
      const t = center();
      const r = arrivals(log.events, from, "claimant");
      t.c.receive(SESSION_ID, r.entries, r.view, "live");
      expect(t.state().toasts.map((x) => x.notice.kind)).toEqual(["reminder"]);
      /** What `act` appends, as the claimant's page receives it; returns those arrivals. */
      const deliver = (act: () => void) => {
        const at = log.events.length;
        act();
        const a = arrivals(log.events, at, "claimant");
        t.c.receive(SESSION_ID, a.entries, a.view, "live");
        return a;
      };
      return { log, t, deliver };
    };

    // Step 2 closes (no deal) and Step 3 opens: the reminder goes, the news of the close stays.
    const closing = reminded();
    closing.deliver(() => closing.log.tickAt(T0 + RULES.step2DurationMs));
    expect(closing.t.state().toasts.map((x) => x.notice.title)).toEqual([
      "Step 2 closed: no deal",
      "Step 3 is open",
    ]);

    // Another member of the side enters the number: no notice of its own, but the reminder goes.
    const entering = reminded();
    const set = entering.deliver(() =>
      entering.log.run("claimant", { type: "SetNumber", amount: 9_137_251 }, 100),
    );
    expect(noticesFor(set.entries, set.view)).toEqual([]);
    expect(entering.t.state().toasts).toEqual([]);

    // The other side changing its number leaves it where it is.
    const other = reminded();
    const changed = other.deliver(() =>
      other.log.run("respondent", { type: "SetNumber", amount: 4_500_000 }, 100),
    );
    expect(changed.entries.map((e) => e.event.type)).toEqual(["NumberSet"]);
    expect(other.t.state().toasts.map((x) => x.notice.kind)).toEqual(["reminder"]);
  });

  it("holds the toasts while the pointer or focus is on them, then gives them their time again", () => {
    const t = center();
    const { log, start } = dayLog();
    const m = arrivals(log.events.slice(0, start + 1), start, "mediator");
    t.c.receive(SESSION_ID, m.entries, m.view, "live");
    t.c.hold(true);
    t.advance(5 * TOAST_MS);
    expect(t.state().toasts).toHaveLength(1);
    t.c.hold(false);
    t.advance(TOAST_MS - 1);
    expect(t.state().toasts).toHaveLength(1);
    t.advance(1);
    expect(t.state().toasts).toHaveLength(0);
  });

  it("counts messages of the rooms not on screen, toasts only those, and clears a room when it is opened", () => {
    const t = center();
    t.c.showRoom("joint");
    const { log, start } = dayLog();
    const m = arrivals(log.events, start, "mediator");
    t.c.receive(SESSION_ID, m.entries, m.view, "live");
    // The mediator reads the claimant's caucus and the joint room; the joint room is on screen.
    expect(t.state().unread).toEqual({ "caucus:claimant": 1 });
    const messageToasts = t.state().toasts.filter((x) => x.notice.kind === "message");
    expect(messageToasts.map((x) => x.notice.room)).toEqual(["caucus:claimant"]);
    t.c.showRoom("caucus:claimant");
    expect(t.state().unread).toEqual({});

    const r = arrivals(log.events, start, "respondent");
    const t2 = center();
    t2.c.showRoom("caucus:respondent");
    t2.c.receive(SESSION_ID, r.entries, r.view, "live");
    // Its own messages are not news to the respondent; the proposal is.
    expect(t2.state().unread).toEqual({});
    expect(t2.state().toasts.map((x) => x.notice.title)).toEqual(["A proposal to answer"]);
  });

  it("counts unseen notices only while nobody looks, and tells the browser only of kinds push carries", () => {
    const t = center({ attended: false });
    t.c.showRoom("joint");
    const { log, start } = dayLog();
    const m = arrivals(log.events, start, "mediator");
    const notices = noticesFor(m.entries, m.view);
    t.c.receive(SESSION_ID, m.entries, m.view, "live");
    expect(t.state().unseen).toBe(notices.length);
    expect(t.notifyOutside.mock.calls.map(([n, tag]) => [n.kind, tag])).toEqual([
      ["knock", noticeTag(SESSION_ID, notices[0]!)],
    ]);
    expect(noticeTag(SESSION_ID, notices[0]!)).toBe(`${SESSION_ID}:knock`);
    t.c.seen();
    expect(t.state().unseen).toBe(0);

    t.setAttended(true);
    const more = new EngineLog();
    more.run("respondent", { type: "Knock" });
    const again = arrivals(more.events, more.opened, "mediator");
    t.c.receive(SESSION_ID, again.entries, again.view, "live");
    expect(t.state().unseen).toBe(0);
    expect(t.notifyOutside).toHaveBeenCalledTimes(1);
  });

  it("does not tell the browser of a kind the person turned off for push", () => {
    const t = center({ attended: false });
    const more = new EngineLog();
    more.run("respondent", { type: "Knock" });
    const knock = arrivals(more.events, more.opened, "mediator");
    t.c.setPushPreferences({ knock: false });
    t.c.receive(SESSION_ID, knock.entries, knock.view, "live");
    expect(t.notifyOutside).not.toHaveBeenCalled();
    // Still a toast and a count in the title: only the channel outside the page is off.
    expect(t.state().toasts.map((x) => x.notice.kind)).toEqual(["knock"]);
    expect(t.state().unseen).toBe(1);
    t.c.setPushPreferences({ knock: true, deal: false });
    t.c.receive(SESSION_ID, knock.entries, knock.view, "live");
    expect(t.notifyOutside).toHaveBeenCalledTimes(1);
  });

  it("sums up a catch-up after a reconnect in one toast", () => {
    const t = center();
    const { log, start } = dayLog();
    const m = arrivals(log.events, start, "mediator");
    t.c.receive(SESSION_ID, m.entries, m.view, "catch-up");
    expect(t.state().toasts.map((x) => x.notice.title)).toEqual([
      `${noticesFor(m.entries, m.view).length} updates while you were away`,
    ]);
  });

  it("ignores events of another session, and forgets everything when the session closes", () => {
    const t = center();
    const { log, start } = dayLog();
    const m = arrivals(log.events, start, "mediator");
    t.c.receive("another-session", m.entries, m.view, "live");
    expect(t.state().toasts).toEqual([]);
    t.c.receive(SESSION_ID, m.entries, m.view, "live");
    expect(t.state().toasts.length).toBeGreaterThan(0);
    t.c.close();
    expect(t.state()).toMatchObject({ sessionId: null, toasts: [], unread: {}, unseen: 0 });
  });
});
