// The mail channel with no SMTP server: each mail is written as an RFC 822 .eml file into <dataDir>/outbox.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { simpleParser } from "mailparser";
import { afterEach, describe, expect, it } from "vitest";
import { Scenario, T0 } from "../../../common/test/engine/builder";
import type { PendingNotice } from "../../src/notify/channels";
import { createMailChannel } from "../../src/notify/mail";
import { createUnsubscribeTokens } from "../../src/notify/unsubscribe";

const tokens = createUnsubscribeTokens(Buffer.alloc(32, 5));
const dirs: string[] = [];

function tempDataDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "bc-mail-"));
  dirs.push(dir);
  return dir;
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const notice: PendingNotice = {
  id: "0b6f3c1e-1111-4222-8333-944445555666",
  sessionId: "session-1",
  userId: null,
  email: "invitee@example.test",
  name: null,
  kind: "invitation",
  title: "You are invited",
  body: "Claire invites you to Smith v. Jones as the respondent.",
  link: "https://mediate.example.test/invitations/accept#tok",
};

describe("mail without an SMTP server", () => {
  it("writes each mail as an .eml file into <dataDir>/outbox, named by time and notice id", async () => {
    const dataDir = tempDataDir();
    const channel = createMailChannel({
      from: "Backchannel <no-reply@backchannel.test>",
      dataDir,
      publicUrl: "https://mediate.example.test/",
      unsubscribe: tokens,
      now: () => T0,
    });
    const outbox = path.join(dataDir, "outbox");
    expect(channel.destination).toBe(outbox);
    expect(readdirSync(outbox)).toEqual([]); // created up front

    const session = Scenario.inStep2().s;
    expect(await channel.send(notice, session)).toBe("sent");
    await channel.close();

    const files = readdirSync(outbox);
    expect(files).toEqual([`2027-01-04T09-00-00.000Z-${notice.id}.eml`]);
    const raw = readFileSync(path.join(outbox, files[0] as string));
    // RFC 822 line ends throughout.
    expect(raw.toString("latin1").replace(/\r\n/g, "")).not.toMatch(/[\r\n]/);

    const parsed = await simpleParser(raw);
    expect(parsed.subject).toBe("You are invited: Smith v. Jones");
    expect(parsed.messageId).toBe(`<notice-${notice.id}@backchannel>`);
    expect(parsed.text).toContain(`Accept the invitation: ${notice.link}`);
    // A trailing slash on the public URL does not double up in links.
    expect(parsed.text).toContain("https://mediate.example.test/unsubscribe?token=");
    expect(parsed.attachments.map((a) => a.contentType)).toEqual(["text/calendar"]);
    const to = Array.isArray(parsed.to) ? parsed.to[0] : parsed.to;
    expect(to?.value.map((a) => a.address)).toEqual(["invitee@example.test"]);
  });

  it("a member who is not one is refused before anything is written", async () => {
    const dataDir = tempDataDir();
    const channel = createMailChannel({
      from: "no-reply@backchannel.test",
      dataDir,
      publicUrl: "https://mediate.example.test",
      unsubscribe: tokens,
    });
    const session = Scenario.inStep2().s;
    const outcome = await channel.send(
      { ...notice, kind: "step2-open", userId: "someone-else", email: "x@example.test", link: null },
      session,
    );
    expect(outcome).toBe("not-a-member");
    expect(readdirSync(path.join(dataDir, "outbox"))).toEqual([]);
  });
});
