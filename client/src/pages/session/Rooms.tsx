// Rooms of the mediation day. Every composer says who will read the message before it is sent.
import type { Role, RoomId } from "@backchannel/common";
import { type FormEvent, useEffect, useId, useState } from "react";
import { ErrorLine } from "../../components/ErrorLine";
import { useRoomSwitch } from "../../lib/roomSwitch";
import { useCommand } from "../../lib/useCommand";
import { roomAudienceSentence, roomName } from "../../lib/words";
import { noticeCenter, useNotices, useSession } from "../../store/live";
import type { PanelProps } from "./context";

/** The rooms a viewer reads, in the order they are shown. */
export function roomsFor(role: Role): RoomId[] {
  if (role === "mediator") return ["joint", "caucus:claimant", "caucus:respondent"];
  return [`caucus:${role}`, `side:${role}`, "joint"];
}

export function Rooms(p: PanelProps) {
  const { view } = p;
  const rooms = roomsFor(view.viewer.role);
  const [active, setActive] = useState<RoomId>(rooms[0]!);
  const tabId = useId();
  // Messages that arrived in the other rooms since this page opened; opening a room reads them.
  const unread = useNotices((s) => s.unread);
  useEffect(() => {
    noticeCenter.showRoom(active);
  }, [active]);
  useEffect(() => () => noticeCenter.showRoom(null), []);
  // Another part of the page asked for a room (a knock's "Go to the respondent side"): show it.
  const requested = useRoomSwitch((s) => s.room);
  const requestSeq = useRoomSwitch((s) => s.seq);
  // biome-ignore lint/correctness/useExhaustiveDependencies: each request (seq) switches once
  useEffect(() => {
    if (requested && rooms.includes(requested)) setActive(requested);
  }, [requestSeq]);

  return (
    <section className="panel rooms" aria-labelledby="rooms-title">
      <h2 id="rooms-title">Rooms</h2>
      <div className="tabs" role="tablist" aria-label="Rooms">
        {rooms.map((room) => (
          <button
            key={room}
            id={`${tabId}-${room}`}
            type="button"
            role="tab"
            aria-selected={active === room}
            className={active === room ? "tab active" : "tab"}
            onClick={() => setActive(room)}
          >
            {roomName(room, view.viewer.side)}
            {room === "joint" && !view.jointRoomOpen ? " (closed)" : ""}
            {(unread[room] ?? 0) > 0 && (
              <>
                {" "}
                <span className="unread" data-testid={`unread-${room}`}>
                  {unread[room]}
                  <span className="visually-hidden"> unread</span>
                </span>
              </>
            )}
          </button>
        ))}
      </div>
      <div role="tabpanel" aria-labelledby={`${tabId}-${active}`}>
        <Room key={active} room={active} {...p} />
      </div>
    </section>
  );
}

function Room(p: PanelProps & { room: RoomId }) {
  const { view, room } = p;
  const id = useId();
  const cmd = useCommand();
  const [text, setText] = useState("");
  const online = useSession((s) => s.connection) === "online";
  const messages = view.messages.filter((m) => m.room === room);
  const closed = room === "joint" && !view.jointRoomOpen;
  const names = (role: Role) =>
    view.members.filter((m) => m.role === role && m.userId !== view.viewer.userId).map((m) => m.name);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!text.trim()) return;
    if (await cmd.run({ type: "PostMessage", room, text })) setText("");
  };

  return (
    <div className="room">
      {/* Scrolls when long: focusable so keyboard users can scroll it, and named. */}
      <ol
        className="messages"
        aria-live="polite"
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard
        tabIndex={0}
        aria-label={`Messages in ${roomName(room, view.viewer.side)}`}
      >
        {messages.length === 0 && <li className="hint">No messages yet.</li>}
        {messages.map((m) => (
          <li key={m.messageId} className={m.by === view.viewer.userId ? "mine" : ""}>
            <span className="who">{p.nameOf(m.by)}</span> <span className="when">{p.clock(m.at)}</span>
            <p>{m.text}</p>
          </li>
        ))}
      </ol>
      {closed ? (
        <p className="hint">The joint room is closed. The mediator opens it for joint sessions.</p>
      ) : view.phase === "ended" ? null : (
        <form className="form composer" onSubmit={submit}>
          <p className="audience" id={`${id}-audience`}>
            {roomAudienceSentence(room, view.viewer.side, names)}
          </p>
          <label htmlFor={id} className="visually-hidden">
            Message to {roomName(room, view.viewer.side)}
          </label>
          <textarea
            id={id}
            rows={2}
            maxLength={4000}
            aria-describedby={`${id}-audience`}
            value={text}
            onChange={(e) => setText(e.target.value)}
          />
          <button
            type="submit"
            disabled={cmd.busy || !text.trim() || !online}
            aria-describedby={!online ? `${id}-offline` : undefined}
          >
            Send
          </button>
          {!online && (
            <p className="notice" id={`${id}-offline`} role="status">
              You are offline: the message will be sendable when the connection is back.
            </p>
          )}
          <ErrorLine error={cmd.error} />
        </form>
      )}
    </div>
  );
}
