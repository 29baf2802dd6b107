// A request to show a room in the Rooms panel, from elsewhere on the page (a knock's "Go to the respondent side"
// moves the mediator and switches the panel to that caucus).
import type { RoomId } from "@backchannel/common";
import { create } from "zustand";

interface RoomSwitchState {
  room: RoomId | null;
  /** bumped on every request, so asking twice for the same room still switches */
  seq: number;
  show(room: RoomId): void;
}

export const useRoomSwitch = create<RoomSwitchState>((set) => ({
  room: null,
  seq: 0,
  show: (room) => set((s) => ({ room, seq: s.seq + 1 })),
}));
