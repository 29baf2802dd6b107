// What every panel of the session page reads: the view, the event log, the time, and formatting helpers.
import type { SessionView } from "@backchannel/common";
import { formatAmount } from "@backchannel/common";
import { formatClock, formatDeadline } from "../../lib/time";
import type { LoggedEvent, SessionData } from "../../session/reduce";

export interface PanelProps {
  view: SessionView;
  log: LoggedEvent[];
  logComplete: boolean;
  now: number;
  clock(at: number): string;
  /** a deadline in the viewer's zone, the zone named ("10:02 PM EST") */
  deadline(at: number): string;
  money(cents: number): string;
  nameOf(userId: string | null): string;
}

export function panelProps(data: SessionData, now: number): PanelProps {
  const { view } = data;
  return {
    view,
    log: data.log,
    logComplete: data.logComplete,
    now,
    clock: (at) => formatClock(at, now),
    deadline: (at) => formatDeadline(at, now),
    money: (cents) => formatAmount(cents, view.rules.currency),
    nameOf: (userId) => {
      if (!userId) return "someone";
      if (userId === view.viewer.userId) return "you";
      return view.members.find((m) => m.userId === userId)?.name ?? "a former participant";
    },
  };
}
