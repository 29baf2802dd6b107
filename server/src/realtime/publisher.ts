// Pushes committed events to the rooms the server decides: one per role (each side, the mediators) per session.
// Each room receives its role's stream: visibility's output in broadcast form (no confidential amount ever enters a
// room; rooms may cross Redis), numbered by the stream's own positions and carrying the stream's signed head.
// Members fetch their own side's number over a direct, authenticated request.
// Last guard: every push is parsed with sessionEventPushSchema (strict, per event type) before it is emitted. A push
// the schema refuses is not sent, and only its event type is reported: never its content, nor zod's issues.
import {
  forBroadcast,
  projectEvent,
  type Role,
  type SessionEventPush,
  sessionEventPushSchema,
} from "@backchannel/common";
import type { Logger } from "pino";
import type { Server } from "socket.io";
import type { Committed, Publisher } from "../sessions/service";
import type { HeadSigner } from "../store/signing";

export const ROLES: readonly Role[] = ["claimant", "respondent", "mediator"];

export function roleRoom(sessionId: string, role: Role): string {
  return `s:${sessionId}:${role}`;
}

/** What the publisher reports a refused push with: the event type, the session and the stream, nothing else. */
export const PUSH_REFUSED_MESSAGE = "push refused by its wire schema, not sent";

/**
 * `log`: where a push refused by its schema is reported. Without one, the refused event types are thrown after every
 * other push of the commit went out, for the caller's "publish failed" line (the message names only the types).
 */
export function createSocketPublisher(
  io: Server,
  signer: HeadSigner,
  onDeal?: () => void,
  log?: Pick<Logger, "error">,
): Publisher {
  return {
    publish(committed: Committed) {
      const refused: string[] = [];
      const { sessionId, state, heads } = committed;
      // The deal and the end of the session commit together: the deal notice carries each stream's final head.
      const ended = state.phase === "ended";
      const sign = (stream: Role, position: number, head: string) =>
        signer.sign({ sessionId, stream, position, head });
      for (const { event, streams } of committed.events) {
        if (event.type === "DealMade") onDeal?.();
        for (const entry of streams) {
          // Role-level projection: every member of a role room shares the same view of an event.
          const visible = projectEvent(event, { userId: "", role: entry.stream }, state);
          if (!visible) continue;
          const push: SessionEventPush = { sessionId, version: entry.position, event: forBroadcast(visible) };
          // One signature per stream and commit: the commit's last push of the stream carries the signed head, which
          // the hash chain ties to every push before it (a Step 2 close is three pushes per room, one signature).
          const last = heads[entry.stream];
          if (entry.position === last.position) push.head = sign(entry.stream, entry.position, entry.head);
          if (event.type === "DealMade" && ended)
            push.finalHead = push.head ?? sign(entry.stream, last.position, last.head);
          if (!sessionEventPushSchema.safeParse(push).success) {
            log?.error({ sessionId, stream: entry.stream, eventType: visible.type }, PUSH_REFUSED_MESSAGE);
            refused.push(visible.type);
            continue;
          }
          io.to(roleRoom(sessionId, entry.stream)).emit("session:event", push);
        }
      }
      if (refused.length > 0 && !log) throw new Error(`${PUSH_REFUSED_MESSAGE}: ${refused.join(", ")}`);
    },
  };
}
