// The publisher's last guard: every push is parsed with sessionEventPushSchema before it is emitted. A push that
// fails is not sent, and what is reported names the event type only, never its content.
import { generateKeyPairSync, randomUUID } from "node:crypto";
import type { SessionEvent, SessionState } from "@backchannel/common";
import { describe, expect, it } from "vitest";
import { createSocketPublisher, PUSH_REFUSED_MESSAGE } from "../../src/realtime/publisher";
import type { Committed } from "../../src/sessions/service";
import { createHeadSigner, type HeadSigner, verifyHead } from "../../src/store/signing";

const signer = createHeadSigner(generateKeyPairSync("ed25519").privateKey);
const SECRET = 73_400_123;

/** Records each push, and each message (one emit may carry several pushes). */
function fakeIo() {
  const emitted: Array<{ room: string; event: string; push: unknown }> = [];
  const messages: Array<{ room: string; pushes: number }> = [];
  const io = {
    to: (room: string) => ({
      emit: (event: string, ...pushes: unknown[]) => {
        messages.push({ room, pushes: pushes.length });
        for (const push of pushes) emitted.push({ room, event, push });
        return true;
      },
    }),
  };
  return { io: io as never, emitted, messages };
}

const ROLES = ["claimant", "respondent", "mediator"] as const;

/** A commit of `events` to the claimant's stream (or to every role's stream, each with a head of its own). */
function committed(
  events: SessionEvent[],
  streams: ReadonlyArray<(typeof ROLES)[number]> = ["claimant"],
): Committed {
  const sessionId = randomUUID();
  const headOf = (stream: string) => String((ROLES as readonly string[]).indexOf(stream)).repeat(64);
  const head = headOf("claimant");
  const heads = Object.fromEntries(
    ROLES.map((r) => [
      r,
      streams.includes(r)
        ? { position: events.length, head: headOf(r) }
        : { position: 0, head: "0".repeat(64) },
    ]),
  );
  return {
    sessionId,
    version: events.length,
    chainHash: head,
    events: events.map((event, i) => ({
      version: i + 1,
      chainHash: head,
      event,
      streams: streams.map((stream) => ({ stream, position: i + 1, digest: head, head: headOf(stream) })),
    })),
    state: {
      phase: "step3",
      createdBy: "u1",
      members: { u1: { role: "claimant" } },
      invitations: {},
    } as unknown as SessionState,
    heads,
    actorPosition: null,
    duplicate: false,
    dataKeyAfter: null,
    noticeIds: [],
  } as unknown as Committed;
}

describe("the publisher's last guard", () => {
  it("emits a push its schema accepts", () => {
    const { io, emitted } = fakeIo();
    createSocketPublisher(io, signer).publish(
      committed([{ type: "BidSet", at: 1, by: "u1", side: "claimant", step: 3, amount: SECRET }]),
    );
    expect(emitted).toHaveLength(1);
    expect(JSON.stringify(emitted)).not.toContain(String(SECRET));
  });

  it("does not emit a push its schema refuses, and logs the event type only", () => {
    const { io, emitted } = fakeIo();
    const lines: unknown[] = [];
    const log = { error: (...args: unknown[]) => lines.push(args) };
    // A field no schema describes (as a confidential number in an unexpected place would be).
    const bad = { type: "Step2Closed", at: 1, deal: false, leaked: SECRET } as unknown as SessionEvent;
    const good: SessionEvent = { type: "Step3Opened", at: 1, closesAt: 2 };
    createSocketPublisher(io, signer, { log: log as never }).publish(committed([bad, good]));
    expect(emitted.map((e) => (e.push as { event: { type: string } }).event.type)).toEqual(["Step3Opened"]);
    expect(lines).toHaveLength(1);
    expect(JSON.stringify(lines)).toContain("Step2Closed");
    expect(JSON.stringify(lines)).toContain(PUSH_REFUSED_MESSAGE);
    expect(JSON.stringify(lines)).not.toContain(String(SECRET));
    expect(JSON.stringify(lines)).not.toContain("leaked");
  });

  it("without a logger, sends the rest and then throws naming the type only (for the caller's log line)", () => {
    const { io, emitted } = fakeIo();
    const bad = { type: "Step2Closed", at: 1, deal: false, leaked: SECRET } as unknown as SessionEvent;
    const good: SessionEvent = { type: "Step3Opened", at: 1, closesAt: 2 };
    const publish = () => createSocketPublisher(io, signer).publish(committed([bad, good]));
    expect(publish).toThrow(`${PUSH_REFUSED_MESSAGE}: Step2Closed`);
    expect(emitted).toHaveLength(1);
    try {
      publish();
    } catch (err) {
      expect(String(err)).not.toContain(String(SECRET));
    }
  });
});

describe("the publisher's messages", () => {
  it("sends a commit's pushes to one room as one message, in stream order", () => {
    const { io, emitted, messages } = fakeIo();
    const events: SessionEvent[] = [
      { type: "Step2Closed", at: 1, deal: false },
      { type: "Step3Opened", at: 1, closesAt: 2 },
    ];
    createSocketPublisher(io, signer).publish(committed(events));
    expect(messages).toEqual([{ room: expect.stringMatching(/:claimant$/), pushes: 2 }]);
    expect(emitted.map((e) => (e.push as { version: number }).version)).toEqual([1, 2]);
  });
});

describe("the publisher's heads", () => {
  it("signs one head per stream and commit, on its last push", () => {
    const { io, emitted } = fakeIo();
    const events: SessionEvent[] = [
      { type: "Step2Closed", at: 1, deal: false },
      { type: "Step3Opened", at: 1, closesAt: 2 },
      { type: "Step3Opened", at: 1, closesAt: 3 },
    ];
    createSocketPublisher(io, signer).publish(committed(events));
    const pushes = emitted.map((e) => e.push as { version: number; head?: Parameters<typeof verifyHead>[1] });
    expect(pushes.map((p) => p.version)).toEqual([1, 2, 3]);
    expect(pushes.map((p) => p.head?.position ?? null)).toEqual([null, null, 3]);
    expect(verifyHead(signer.publicKeyPem, pushes[2]?.head as never)).toBe(true);
  });
});

/** The signer, counting its Ed25519 signatures (one per sign or signCommit). */
function countingSigner() {
  let n = 0;
  const counting: HeadSigner = {
    ...signer,
    sign: (h) => {
      n++;
      return signer.sign(h);
    },
    signCommit: (...args) => {
      n++;
      return signer.signCommit(...args);
    },
  };
  return { counting, signed: () => n };
}

describe("the publisher's signature", () => {
  it("is one per commit for all three rooms, and tells a room nothing of another's head", () => {
    const { io, emitted } = fakeIo();
    const { counting, signed } = countingSigner();
    const events: SessionEvent[] = [
      { type: "Step2Closed", at: 1, deal: false },
      { type: "Step3Opened", at: 1, closesAt: 2 },
    ];
    const c = committed(events, ROLES);
    createSocketPublisher(io, counting).publish(c);
    expect(signed()).toBe(1);
    const byRoom = new Map(emitted.map((e) => [e.room.split(":").at(-1), e]));
    expect([...byRoom.keys()].sort()).toEqual([...ROLES].sort());
    const heads = ROLES.map((r) => {
      const head = (byRoom.get(r)?.push as { head?: Parameters<typeof verifyHead>[1] } | undefined)?.head;
      if (!head) throw new Error(`no head in the ${r} room`);
      return head;
    });
    for (const [i, h] of heads.entries()) {
      expect(h.stream).toBe(ROLES[i]);
      expect(h.position).toBe(2);
      expect(verifyHead(signer.publicKeyPem, h)).toBe(true);
      // The same signature and leaves in every room; each room holds only its own head and salt.
      expect(h.signature).toBe(heads[0]?.signature);
      expect(h.leaves).toEqual(heads[0]?.leaves);
      const frame = JSON.stringify(byRoom.get(ROLES[i])?.push);
      for (const other of heads.filter((_, j) => j !== i)) {
        expect(frame).not.toContain(other.head);
        expect(frame).not.toContain(other.salt);
      }
    }
    // Another stream's head passed off as this room's does not verify.
    const [claimant, respondent] = heads as [
      Parameters<typeof verifyHead>[1],
      Parameters<typeof verifyHead>[1],
    ];
    expect(verifyHead(signer.publicKeyPem, { ...claimant, head: respondent.head })).toBe(false);
    expect(verifyHead(signer.publicKeyPem, { ...claimant, stream: "respondent" })).toBe(false);
  });
});

describe("rooms nobody is in", () => {
  const events: SessionEvent[] = [
    { type: "Step2Closed", at: 1, deal: false },
    { type: "Step3Opened", at: 1, closesAt: 2 },
  ];

  it("get nothing, not even a signature, when the node knows its rooms", () => {
    const { io, emitted } = fakeIo();
    const { counting, signed } = countingSigner();
    const c = committed(events);
    createSocketPublisher(io, counting, { occupied: () => false }).publish(c);
    expect(emitted).toHaveLength(0);
    expect(signed()).toBe(0);
    createSocketPublisher(io, counting, { occupied: (room) => room.endsWith(":claimant") }).publish(c);
    expect(emitted.map((e) => e.room)).toEqual([`s:${c.sessionId}:claimant`, `s:${c.sessionId}:claimant`]);
    expect(signed()).toBe(1);
  });

  it("get their pushes when the node cannot know (no occupancy given: a cluster adapter)", () => {
    const { io, emitted } = fakeIo();
    createSocketPublisher(io, signer).publish(committed(events));
    expect(emitted).toHaveLength(2);
  });
});
