// Rooms of the mediation day. Every composer says who will read the message before it is sent.
import type { Role, RoomId } from "@backchannel/common";
import { type FormEvent, useEffect, useId, useState } from "react";
import { ErrorLine } from "../../components/ErrorLine";
import { useCommand } from "../../lib/useCommand";
import { roomAudienceSentence, roomName } from "../../lib/words";
import { noticeCenter, useNotices } from "../../store/live";
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
      <ol className="messages" aria-live="polite">
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
          <button type="submit" disabled={cmd.busy || !text.trim()}>
            Send
          </button>
          <ErrorLine error={cmd.error} />
        </form>
      )}
    </div>
  );
}
