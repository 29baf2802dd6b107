// Pushes committed events to the rooms the server decides: one per side and one for mediators, per session
// (plus a per-user room for the few events addressed to individuals, such as an invitation to its issuer).
// What goes out is visibility's output in broadcast form: no confidential amount ever enters a room
// (rooms may cross Redis); members fetch their own side's number over a direct, authenticated request.
import { eventAudience, forBroadcast, projectEvent, type Role, type VisibleEvent } from "@backchannel/common";
import type { Server } from "socket.io";
import type { Committed, Publisher } from "../sessions/service";

export const ROLES: readonly Role[] = ["claimant", "respondent", "mediator"];

export function roleRoom(sessionId: string, role: Role): string {
  return `s:${sessionId}:${role}`;
}

export function userRoom(sessionId: string, userId: string): string {
  return `s:${sessionId}:u:${userId}`;
}

export function createSocketPublisher(io: Server, onDeal?: () => void): Publisher {
  return {
    publish(committed: Committed) {
      const { sessionId, state } = committed;
      // The deal and the end of the session commit together: the deal notice carries the chain's final hash.
      const last = committed.events[committed.events.length - 1];
      const finalChainHash = state.phase === "ended" ? last?.chainHash : undefined;
      for (const { version, chainHash, event } of committed.events) {
        if (event.type === "DealMade") onDeal?.();
        const envelope = (visible: VisibleEvent) => ({
          sessionId,
          version,
          chainHash,
          ...(event.type === "DealMade" && finalChainHash ? { finalChainHash } : {}),
          event: forBroadcast(visible),
        });
        const reached = new Set<Role>();
        for (const role of ROLES) {
          // Role-level projection: every member of a role room shares the same view of an event.
          const visible = projectEvent(event, { userId: "", role }, state);
          if (!visible) continue;
          reached.add(role);
          io.to(roleRoom(sessionId, role)).emit("session:event", envelope(visible));
        }
        for (const userId of eventAudience(event, state).users) {
          const member = state.members[userId];
          if (!member || reached.has(member.role)) continue;
          const visible = projectEvent(event, { userId, role: member.role }, state);
          if (visible) io.to(userRoom(sessionId, userId)).emit("session:event", envelope(visible));
        }
      }
    },
  };
}
