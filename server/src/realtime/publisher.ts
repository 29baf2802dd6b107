// Pushes committed events to the rooms the server decides: one per role (each side, the mediators) per session.
// Each room receives its role's stream: visibility's output in broadcast form (no confidential amount ever enters a
// room; rooms may cross Redis), numbered by the stream's own positions and carrying the stream's signed head.
// Members fetch their own side's number over a direct, authenticated request. A commit's pushes to one room travel as
// one `session:event` message whose arguments are the pushes, in stream order.
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
import type { HeadSigner, SignedHead } from "../store/signing";

export const ROLES: readonly Role[] = ["claimant", "respondent", "mediator"];

export function roleRoom(sessionId: string, role: Role): string {
  return `s:${sessionId}:${role}`;
}

/** What the publisher reports a refused push with: the event type, the session and the stream, nothing else. */
export const PUSH_REFUSED_MESSAGE = "push refused by its wire schema, not sent";

export interface PublisherOptions {
  onDeal?: () => void;
  /**
   * Where a push refused by its schema is reported. Without one, the refused event types are thrown after every
   * other push of the commit went out, for the caller's "publish failed" line (the message names only the types).
   */
  log?: Pick<Logger, "error">;
  /**
   * Whether anyone may be in a room. Where this node sees every socket (no cluster adapter), a room nobody is in gets
   * nothing: its push would reach no one, so it is neither signed nor sent (a member who opens the session later reads
   * its stream and gets the head signed then). Without it every room gets its pushes: through an adapter, sockets in a
   * room on other nodes are not known here. A push to an empty room is lost either way; this only skips the work.
   */
  occupied?: (room: string) => boolean;
}

export function createSocketPublisher(
  io: Server,
  signer: HeadSigner,
  opts: PublisherOptions = {},
): Publisher {
  const { onDeal, log, occupied } = opts;
  return {
    publish(committed: Committed) {
      const refused: string[] = [];
      const { sessionId, state, heads } = committed;
      // The deal and the end of the session commit together: the deal notice carries each stream's final head.
      const ended = state.phase === "ended";
      // One signature per commit, for every room's head (signCommit), made when the first room needs one.
      let signed: Record<Role, SignedHead> | undefined;
      const headOf = (stream: Role) => {
        signed ??= signer.signCommit(sessionId, heads);
        return signed[stream];
      };
      // A room's pushes of one commit go out as one message, in stream order (a deal is three pushes: one frame to
      // write, not three).
      const frames = new Map<string, SessionEventPush[]>();
      for (const { event, streams } of committed.events) {
        if (event.type === "DealMade") onDeal?.();
        for (const entry of streams) {
          const room = roleRoom(sessionId, entry.stream);
          if (occupied && !occupied(room)) continue;
          // Role-level projection: every member of a role room shares the same view of an event.
          const visible = projectEvent(event, { userId: "", role: entry.stream }, state);
          if (!visible) continue;
          const push: SessionEventPush = { sessionId, version: entry.position, event: forBroadcast(visible) };
          // The commit's last push of a stream carries its signed head, which the hash chain ties to every push
          // before it (a Step 2 close is three pushes per room, one head).
          const last = heads[entry.stream];
          if (entry.position === last.position) push.head = headOf(entry.stream);
          if (event.type === "DealMade" && ended) push.finalHead = push.head ?? headOf(entry.stream);
          if (!sessionEventPushSchema.safeParse(push).success) {
            log?.error({ sessionId, stream: entry.stream, eventType: visible.type }, PUSH_REFUSED_MESSAGE);
            refused.push(visible.type);
            continue;
          }
          const frame = frames.get(room);
          if (frame) frame.push(push);
          else frames.set(room, [push]);
        }
      }
      for (const [room, pushes] of frames) io.to(room).emit("session:event", ...pushes);
      if (refused.length > 0 && !log) throw new Error(`${PUSH_REFUSED_MESSAGE}: ${refused.join(", ")}`);
    },
  };
}
