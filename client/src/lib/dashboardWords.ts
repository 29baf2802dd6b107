// A dashboard line (common/src/dashboard.ts) in words: how the session stands, what waits for the person, who is in.
import type { DashboardEntry, Need, Role, SessionStatus } from "@backchannel/common";
import { formatCountdown } from "./time";
import { phaseShort, roleName, sideName } from "./words";

export function statusWords(status: SessionStatus): string {
  switch (status) {
    case "setup":
    case "step2":
    case "step3":
      return phaseShort(status);
    case "deal":
      return "Settled — a deal was made";
    case "withdrawn":
      return "Ended — a side withdrew";
    case "expired":
      return "Ended — time ran out, no deal";
    case "cancelled":
      return "Ended — cancelled";
  }
}

/** What waits for the person, one sentence per need. */
export function needWords(need: Need, entry: DashboardEntry): string {
  switch (need) {
    case "knock": {
      const sides = entry.knocks.map((k) => `the ${sideName(k.side).toLowerCase()} side`);
      return `${capitalise(sides.join(" and "))} asked for you.`;
    }
    case "proposal":
      return entry.proposal?.kind === "mediator"
        ? "Answer the mediator's proposal."
        : "Answer the smart proposal.";
    case "consent":
      return "The other side asked for a smart proposal: consent or decline.";
    case "number":
      return "Enter your side's sealed number.";
    case "terms":
      return "Approve the terms, or choose to settle them later.";
    case "invite":
      return "A side has not joined yet: invite them.";
  }
}

/** "closes in 4:05" */
export function deadlineWords(entry: DashboardEntry, now: number): string | null {
  const d = entry.nextDeadline;
  return d ? `${d.verb} ${formatCountdown(d.at - now)}` : null;
}

/** "Online: claimant side, mediator" or null when nobody has the session open (or presence is not known). */
export function onlineWords(entry: DashboardEntry, selfId: string | null): string | null {
  if (!entry.online) return null;
  const roles = new Set<Role>(entry.online.filter((o) => o.userId !== selfId).map((o) => o.role));
  if (roles.size === 0) return "Nobody else has it open";
  const order: Role[] = ["claimant", "respondent", "mediator"];
  return `Online: ${order
    .filter((r) => roles.has(r))
    .map((r) => (r === "mediator" ? "mediator" : `${roleName(r).toLowerCase()} side`))
    .join(", ")}`;
}

/** "you are the mediator", "you are on the claimant side" */
export function placeWords(entry: DashboardEntry): string {
  if (entry.role === "mediator") return "you are the mediator";
  return `you are on the ${sideName(entry.role).toLowerCase()} side${entry.canBid ? "" : " (view only)"}`;
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
