// The audit export: every event as this viewer may see it, with each event's digest and chain hash,
// so any participant can verify the whole chain and the content of what they do see.
import { projectEvent, type SessionEvent, sealedFields, type Viewer } from "@backchannel/common";
import { buildAuditExport } from "../store/audit";
import type { SessionService } from "./service";

export async function buildSessionAudit(
  sessions: SessionService,
  sessionId: string,
  viewer: Viewer,
  _now: number,
) {
  const stored = await sessions.readStoredEvents(sessionId, 0);
  const state = await sessions.read(sessionId);
  const plain = new Map((await sessions.eventsSince(sessionId, 0)).map((e) => [e.version, e.event]));
  return buildAuditExport(sessionId, viewer.role, stored, sealedFields, (s) => {
    const event = plain.get(s.version) as SessionEvent;
    const view = projectEvent(event, viewer, state ?? undefined);
    return { content: view !== null && seesWholePublicPart(event, viewer), view: view ?? undefined };
  });
}

/** The public (unsealed) part of an event is shown whole unless visibility hides part of it from this viewer. */
function seesWholePublicPart(event: SessionEvent, viewer: Viewer): boolean {
  // Only the answering side may see how it answered a proposal.
  if (event.type === "ProposalAnswered") return event.side === viewer.role;
  return true;
}
