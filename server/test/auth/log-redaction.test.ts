// Tests for src/log.ts. They live here because this folder is the one the auth/config owner may write to.
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, silentLogger } from "../../src/log";

function capture(level = "info") {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const logger = createLogger({ level, name: "test" }, destination);
  return { logger, records: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>), lines };
}

describe("createLogger", () => {
  it("writes JSON lines with the level, name and message", () => {
    const { logger, records } = capture();
    logger.info({ sessionId: "s-1" }, "session created");
    expect(records()).toEqual([
      expect.objectContaining({ level: 30, name: "test", sessionId: "s-1", msg: "session created" }),
    ]);
  });

  it("respects the level", () => {
    const { logger, lines } = capture("warn");
    logger.info("quiet");
    logger.warn("loud");
    expect(lines).toHaveLength(1);
  });

  it("redacts confidential numbers wherever a logged object carries them", () => {
    const { logger, lines } = capture();
    logger.info(
      {
        amount: 1234567,
        command: { type: "SetNumber", amount: 2345678 },
        event: { type: "BidSet", data: { demand: 3456789, offer: 4567890 } },
        state: { claimant: { bid: { amount: 5678901 } } },
        deal: { dealAmount: 6789012 },
        history: [{ amount: 7890123 }],
      },
      "state changed",
    );
    const output = lines.join("");
    for (const secret of ["1234567", "2345678", "3456789", "4567890", "5678901", "6789012", "7890123"]) {
      expect(output).not.toContain(secret);
    }
    expect(output).toContain("SetNumber");
    expect(output).toContain("[redacted]");
  });

  it("redacts credentials in requests and objects", () => {
    const { logger, lines } = capture();
    logger.info({
      req: {
        headers: {
          authorization: "Bearer eyJ.secret.token",
          cookie: "bc_session=eyJ.cookie.token",
          "set-cookie": "bc_session=eyJ.set.token",
        },
      },
      body: { email: "alice@example.com", password: "hunter2hunter2" },
      token: "invite-token-value",
      config: { jwtSecret: "jwt-secret-value", masterKey: "master-key-value" },
      user: { passwordHash: "$argon2id$hash" },
    });
    const output = lines.join("");
    for (const secret of [
      "eyJ.secret",
      "eyJ.cookie",
      "eyJ.set",
      "hunter2",
      "invite-token",
      "jwt-secret",
      "master-key",
      "$argon2id$",
    ]) {
      expect(output).not.toContain(secret);
    }
    expect(output).toContain("alice@example.com");
  });
});

describe("silentLogger", () => {
  it("logs nothing", () => {
    expect(silentLogger.level).toBe("silent");
    expect(silentLogger.isLevelEnabled("fatal")).toBe(false);
  });
});
