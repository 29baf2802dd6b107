import { randomBytes, randomUUID } from "node:crypto";
import { beforeEach, describe, expect, it } from "vitest";
import {
  hashInvitationToken,
  issueInvitation,
  listInvitations,
  peekInvitation,
  redeemInvitation,
} from "../../src/auth/invitations";
import type { Queryable } from "../../src/store/db";
import { describeBackends } from "../support/db";

const T0 = Date.UTC(2030, 5, 1, 9, 0, 0);
const DAY = 24 * 3600 * 1000;

async function insertUser(q: Queryable, name: string): Promise<string> {
  const id = randomUUID();
  await q.query("INSERT INTO users (id, email, display_name, password_hash) VALUES ($1, $2, $3, $4)", [
    id,
    `${name.toLowerCase()}-${id}@example.com`,
    name,
    "$argon2id$not-a-real-hash",
  ]);
  return id;
}

async function insertSession(q: Queryable, createdBy: string): Promise<string> {
  const id = randomUUID();
  await q.query(
    "INSERT INTO sessions (id, title, created_by, chain_hash, phase) VALUES ($1, $2, $3, $4, $5)",
    [id, "Smith v. Jones", createdBy, "0".repeat(64), "setup"],
  );
  return id;
}

describeBackends("invitations", ({ db }) => {
  let mediator: string;
  let alice: string;
  let bob: string;
  let sessionId: string;

  beforeEach(async () => {
    mediator = await insertUser(db(), "Mediator");
    alice = await insertUser(db(), "Alice");
    bob = await insertUser(db(), "Bob");
    sessionId = await insertSession(db(), mediator);
  });

  function issue(overrides: Partial<Parameters<typeof issueInvitation>[1]> = {}) {
    return issueInvitation(db(), {
      sessionId,
      role: "respondent",
      canBid: true,
      ttlMs: 7 * DAY,
      createdBy: mediator,
      now: T0,
      ...overrides,
    });
  }

  describe("issueInvitation", () => {
    it("returns a 32-byte random token once and stores only its SHA-256", async () => {
      const issued = await issue({ email: " Bob@Example.com " });
      expect(issued.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(issued.token, "base64url")).toHaveLength(32);
      expect(issued.expiresAt).toBe(T0 + 7 * DAY);

      const { rows } = await db().query<Record<string, unknown>>("SELECT * FROM invitations WHERE id = $1", [
        issued.id,
      ]);
      expect(rows).toHaveLength(1);
      expect(rows[0]?.token_hash).toBe(hashInvitationToken(issued.token));
      expect(rows[0]?.token_hash).toMatch(/^[0-9a-f]{64}$/);
      expect(rows[0]?.email).toBe("bob@example.com");
      expect(JSON.stringify(rows[0])).not.toContain(issued.token);
    });

    it("uses the id the caller gave the engine, when given", async () => {
      const id = randomUUID();
      expect((await issue({ id })).id).toBe(id);
    });

    it("issues a different token every time", async () => {
      const tokens = new Set<string>();
      for (let i = 0; i < 5; i++) tokens.add((await issue()).token);
      expect(tokens.size).toBe(5);
    });

    it("refuses a mediator invitation with bidding rights, an unknown role, and a non-positive lifetime", async () => {
      await expect(issue({ role: "mediator", canBid: true })).rejects.toThrow(RangeError);
      await expect(issue({ role: "judge" as never })).rejects.toThrow(RangeError);
      await expect(issue({ ttlMs: 0 })).rejects.toThrow(RangeError);
      expect(await listInvitations(db(), sessionId)).toEqual([]);
    });
  });

  describe("redeemInvitation", () => {
    it("redeems once, recording who and when", async () => {
      const issued = await issue({ role: "claimant", canBid: false });
      const result = await redeemInvitation(db(), { token: issued.token, userId: alice, now: T0 + DAY });
      expect(result).toEqual({
        ok: true,
        invitation: { id: issued.id, sessionId, role: "claimant", canBid: false },
      });
      const [listed] = await listInvitations(db(), sessionId);
      expect(listed).toMatchObject({ usedBy: alice, usedAt: T0 + DAY });
    });

    it("refuses a second use, by anyone", async () => {
      const { token } = await issue();
      expect((await redeemInvitation(db(), { token, userId: alice, now: T0 })).ok).toBe(true);
      for (const userId of [bob, alice]) {
        const again = await redeemInvitation(db(), { token, userId, now: T0 + 1000 });
        expect(again).toMatchObject({ ok: false, code: "INVITE_USED" });
        if (!again.ok) expect(again.message).toMatch(/already been used/);
      }
      const [listed] = await listInvitations(db(), sessionId);
      expect(listed?.usedBy).toBe(alice);
    });

    it("refuses an expired invitation, from the millisecond it expires", async () => {
      const { token, expiresAt } = await issue({ ttlMs: DAY });
      expect(await redeemInvitation(db(), { token, userId: alice, now: expiresAt })).toMatchObject({
        ok: false,
        code: "INVITE_EXPIRED",
      });
      expect(await redeemInvitation(db(), { token, userId: alice, now: expiresAt + DAY })).toMatchObject({
        ok: false,
        code: "INVITE_EXPIRED",
      });
      expect((await redeemInvitation(db(), { token, userId: alice, now: expiresAt - 1 })).ok).toBe(true);
    });

    it("reports a used invitation as used even after it has expired", async () => {
      const { token, expiresAt } = await issue({ ttlMs: DAY });
      await redeemInvitation(db(), { token, userId: alice, now: T0 });
      expect(await redeemInvitation(db(), { token, userId: bob, now: expiresAt + 1 })).toMatchObject({
        ok: false,
        code: "INVITE_USED",
      });
    });

    it("refuses unknown and malformed tokens", async () => {
      await issue();
      for (const token of [
        randomBytes(32).toString("base64url"),
        "",
        "short",
        `${"A".repeat(43)}=`,
        "a".repeat(500),
      ]) {
        expect(await redeemInvitation(db(), { token, userId: alice, now: T0 })).toMatchObject({
          ok: false,
          code: "INVITE_INVALID",
        });
      }
    });

    it("lets exactly one of two simultaneous redemptions win", async () => {
      const { token } = await issue();
      const results = await Promise.all([
        redeemInvitation(db(), { token, userId: alice, now: T0 }),
        redeemInvitation(db(), { token, userId: bob, now: T0 }),
      ]);
      expect(results.filter((r) => r.ok)).toHaveLength(1);
      expect(results.filter((r) => !r.ok && r.code === "INVITE_USED")).toHaveLength(1);
    });

    it("lets exactly one of several racing transactions win", async () => {
      const { token } = await issue();
      const users = [alice, bob, await insertUser(db(), "Carol"), await insertUser(db(), "Dave")];
      // Each transaction holds its lock a moment before committing, so the others really wait on it.
      const results = await Promise.all(
        users.map((userId) =>
          db().tx(async (q) => {
            const result = await redeemInvitation(q, { token, userId, now: T0 });
            await new Promise((resolve) => setTimeout(resolve, 50));
            return result;
          }),
        ),
      );
      expect(results.filter((r) => r.ok)).toHaveLength(1);
      expect(results.filter((r) => !r.ok && r.code === "INVITE_USED")).toHaveLength(users.length - 1);
      const winner = users[results.findIndex((r) => r.ok)];
      expect((await listInvitations(db(), sessionId))[0]?.usedBy).toBe(winner);
    });

    it("stays unused when the transaction that redeemed it rolls back", async () => {
      const { token } = await issue();
      await expect(
        db().tx(async (q) => {
          expect((await redeemInvitation(q, { token, userId: alice, now: T0 })).ok).toBe(true);
          throw new Error("the engine refused the join");
        }),
      ).rejects.toThrow("the engine refused the join");
      expect((await redeemInvitation(db(), { token, userId: bob, now: T0 })).ok).toBe(true);
    });
  });

  describe("peekInvitation", () => {
    it("shows what the invitation offers, without secrets, and consumes nothing", async () => {
      const issued = await issue({ role: "respondent", canBid: true, email: "bob@example.com" });
      const peek = await peekInvitation(db(), issued.token, T0);
      expect(peek).toEqual({
        ok: true,
        invitation: {
          sessionId,
          title: "Smith v. Jones",
          role: "respondent",
          canBid: true,
          expiresAt: issued.expiresAt,
        },
      });
      expect((await redeemInvitation(db(), { token: issued.token, userId: bob, now: T0 })).ok).toBe(true);
    });

    it("says when the invitation is used, expired or unknown", async () => {
      const used = await issue();
      await redeemInvitation(db(), { token: used.token, userId: alice, now: T0 });
      const expiring = await issue({ ttlMs: 1000 });
      expect(await peekInvitation(db(), used.token, T0)).toMatchObject({ ok: false, code: "INVITE_USED" });
      expect(await peekInvitation(db(), expiring.token, T0 + 1000)).toMatchObject({
        ok: false,
        code: "INVITE_EXPIRED",
      });
      expect(await peekInvitation(db(), randomBytes(32).toString("base64url"), T0)).toMatchObject({
        ok: false,
        code: "INVITE_INVALID",
      });
      expect(await peekInvitation(db(), "nonsense", T0)).toMatchObject({ ok: false, code: "INVITE_INVALID" });
    });
  });

  describe("listInvitations", () => {
    it("lists a session's invitations oldest first, without token hashes", async () => {
      const first = await issue({ role: "claimant", now: T0 });
      const second = await issue({ role: "mediator", canBid: false, email: "m@example.com", now: T0 + 1000 });
      const otherSession = await insertSession(db(), mediator);
      await issue({ sessionId: otherSession });

      const listed = await listInvitations(db(), sessionId);
      expect(listed).toEqual([
        {
          id: first.id,
          sessionId,
          role: "claimant",
          canBid: true,
          email: null,
          expiresAt: first.expiresAt,
          createdBy: mediator,
          createdAt: T0,
          usedBy: null,
          usedAt: null,
        },
        {
          id: second.id,
          sessionId,
          role: "mediator",
          canBid: false,
          email: "m@example.com",
          expiresAt: second.expiresAt,
          createdBy: mediator,
          createdAt: T0 + 1000,
          usedBy: null,
          usedAt: null,
        },
      ]);
      expect(JSON.stringify(listed)).not.toContain(hashInvitationToken(first.token));
    });
  });
});
