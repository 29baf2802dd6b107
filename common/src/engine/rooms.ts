// Rooms of the mediation day and who reads each. The engine stamps each message with its audience, so every
// stored message says explicitly who it was for.

import type { RoomId, Side } from "./types";
import { SIDES } from "./types";

export interface Audience {
  sides: Side[];
  mediators: boolean;
}

/** Who reads a room: joint = everyone; caucus:X = side X and the mediators; side:X = side X alone. */
export function audienceOf(room: RoomId): Audience {
  switch (room) {
    case "joint":
      return { sides: [...SIDES], mediators: true };
    case "caucus:claimant":
      return { sides: ["claimant"], mediators: true };
    case "caucus:respondent":
      return { sides: ["respondent"], mediators: true };
    case "side:claimant":
      return { sides: ["claimant"], mediators: false };
    case "side:respondent":
      return { sides: ["respondent"], mediators: false };
    default: {
      // An unknown room has no audience: fail closed.
      const unknown: never = room;
      void unknown;
      return { sides: [], mediators: false };
    }
  }
}
