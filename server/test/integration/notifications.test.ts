// Told wherever they are, for real: a real SMTP peer (smtp-server) receives the server's mail, and a local push
// service (plain HTTP; the message is encrypted as a browser's push service would pass it on) receives its Web Push
// messages, which the test decrypts with the subscribing "browser's" own keys. The respondent never opens a socket (its
// tab is closed) and still hears of the deal by push and by mail; the claimant's client turns the deal mail off
// through a mail's unsubscribe link, without signing in; an invited address that never joins gets the invitation and
// nothing else. No mail and no push holds a side's number; only members' deal mails hold the deal's amount.
import { createECDH, randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
// @ts-expect-error http_ece ships no types
import ece from "http_ece";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../../src/server";
import { backends, createStorage, Participant, type Storage, startOn } from "../support/server";
import { type ReceivedMail, type SmtpPeer, startSmtpPeer } from "../support/smtp";
import { accept, ok } from "./harness";

const DEMAND = 41_234_56; // $41,234.56
const OFFER = 58_765_43; // $58,765.43: above the demand, so Step 2 closes with a deal between them
const RULES = { step2DurationMs: 1500, step3DurationMs: 60_000, maxSessionMs: 120_000 };

interface Mail {
  to: string[];
  subject: string;
  text: string;
  html: string;
  raw: string;
  attachments: Array<{ contentType: string; content: string }>;
}

interface PushHit {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function forms(cents: number): string[] {
  const units = (cents / 100).toFixed(2);
  return [String(cents), units, Number(units).toLocaleString("en-US", { minimumFractionDigits: 2 })];
}

async function until<T>(what: string, f: () => T | undefined, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

for (const backend of backends()) {
  describe(`notifications on ${backend}`, () => {
    let storage: Storage;
    let server: RunningServer;
    let smtp: SmtpPeer;
    let pushService: Server;
    let mails: Mail[] = [];
    const pushes: PushHit[] = [];
    const pushStatus = 201;
    let sessionId = "";
    let claimant: Participant;
    let claimantClient: Participant;
    let respondent: Participant;
    let mediator: Participant;
    const stranger = `stranger-${randomBytes(4).toString("hex")}@example.test`;
    // The respondent's browser: its push keys, as pushManager.subscribe would make them.
    const browser = createECDH("prime256v1");
    browser.generateKeys();
    const authSecret = randomBytes(16);
    let dealAmount = 0;

    const asMail = (m: ReceivedMail): Mail => ({
      to: m.rcpt,
      subject: m.parsed.subject ?? "",
      text: m.parsed.text ?? "",
      html: typeof m.parsed.html === "string" ? m.parsed.html : "",
      raw: m.raw,
      attachments: m.parsed.attachments.map((a) => ({
        contentType: a.contentType,
        content: a.content.toString("utf8"),
      })),
    });
    const mailsTo = (email: string) => {
      mails = smtp.received.map(asMail);
      return mails.filter((m) => m.to.includes(email));
    };
    const rest = (p: Participant, command: Record<string, unknown>) =>
      p.http("POST", `/api/sessions/${sessionId}/commands`, {
        idempotencyKey: `k-${randomBytes(6).toString("hex")}`,
        command,
      });

    beforeAll(async () => {
      smtp = await startSmtpPeer();
      pushService = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
          pushes.push({ path: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks) });
          res.writeHead(pushStatus).end();
        });
      });
      await new Promise<void>((resolve) => pushService.listen(0, "127.0.0.1", resolve));

      storage = await createStorage(backend);
      server = await startOn(storage, {
        SMTP_URL: smtp.url,
        MAIL_FROM: "Backchannel <mediation@backchannel.test>",
        PUBLIC_URL: "http://app.backchannel.test",
      });
      claimant = await new Participant(server.url, "Claimant Attorney").signUp();
      claimantClient = await new Participant(server.url, "Claimant Client").signUp();
      respondent = await new Participant(server.url, "Respondent Adjuster").signUp();
      mediator = await new Participant(server.url, "Mediator").signUp();
      const created = await claimant.http("POST", "/api/sessions", {
        title: "Smith v. Acme",
        creatorRole: "claimant",
        rules: RULES,
        termsText: "Release of all claims; payment within 30 days of $_____.",
      });
      expect(created.status).toBe(201);
      sessionId = (created.body as { view: { id: string } }).view.id;
    });

    afterAll(async () => {
      for (const p of [claimant, claimantClient, respondent, mediator]) p?.close();
      await server?.close();
      await smtp?.close();
      await new Promise<void>((resolve) => (pushService ? pushService.close(() => resolve()) : resolve()));
      await storage?.dispose();
    });

    it("mails an invitation to the address the form was given, with its link and the deadlines as a calendar", async () => {
      for (const [p, role, canBid] of [
        [respondent, "respondent", true],
        [mediator, "mediator", false],
        [claimantClient, "claimant", false],
      ] as const) {
        const r = await claimant.http("POST", `/api/sessions/${sessionId}/invitations`, {
          role,
          canBid,
          email: p.user.email,
        });
        expect(r.status).toBe(201);
        expect(r.body.emailedTo).toBe(p.user.email);
        const mail = await until("the invitation mail", () => mailsTo(p.user.email)[0]);
        expect(mail.subject).toContain("Smith v. Acme");
        const link = (r.body as { link: string }).link;
        expect(link.startsWith("http://app.backchannel.test/invite/")).toBe(true);
        expect(mail.text).toContain(link);
        expect(mail.attachments.some((a) => a.contentType.startsWith("text/calendar"))).toBe(true);
        // The person joins with the token the mail carried.
        await accept(p, link.split("/invite/")[1] as string);
      }
      const r = await claimant.http("POST", `/api/sessions/${sessionId}/invitations`, {
        role: "claimant",
        canBid: false,
        email: stranger,
      });
      expect(r.status).toBe(201);
      await until("the stranger's invitation", () => mailsTo(stranger)[0]);
    });

    it("subscribes the respondent's browser to push, then its tab closes (no socket at all)", async () => {
      const r = await respondent.http("POST", "/api/notifications/push-subscriptions", {
        endpoint: `http://127.0.0.1:${(pushService.address() as AddressInfo).port}/push/respondent-phone`,
        keys: {
          p256dh: browser.getPublicKey().toString("base64url"),
          auth: authSecret.toString("base64url"),
        },
        label: "Phone",
      });
      expect(r.status).toBe(201);
      expect(respondent.socket).toBeUndefined();
    });

    it("mails Step 2's opening to the sides, and an unsubscribe link turns a kind off without signing in", async () => {
      await claimant.connect();
      expect((await claimant.emit("session:open", { sessionId })).ok).toBe(true);
      await ok(claimant.command(sessionId, { type: "SkipTerms" }));
      expect((await rest(respondent, { type: "SkipTerms" })).status).toBe(200);
      for (const p of [claimant, claimantClient, respondent]) {
        const mail = await until("Step 2's mail", () =>
          mailsTo(p.user.email).find((m) => /Step 2/.test(m.subject)),
        );
        expect(mail.text).toContain("Smith v. Acme");
      }
      expect(mailsTo(mediator.user.email).some((m) => /Step 2/.test(m.subject))).toBe(false);
      // The claimant's client turns deal mail off from a mail, signed out: the token names the address and kind.
      const anyMail = mailsTo(claimantClient.user.email).at(-1) as Mail;
      const link = /http:\/\/app\.backchannel\.test\/unsubscribe\?token=([A-Za-z0-9_.~-]+)/.exec(
        anyMail.text,
      );
      expect(link).not.toBeNull();
      const unfolded = anyMail.raw.replace(/\r?\n[ \t]+/g, " ");
      expect(unfolded).toMatch(
        /^List-Unsubscribe: <http:\/\/app\.backchannel\.test\/api\/notifications\/unsubscribe\?token=/m,
      );
      expect(anyMail.raw).toContain("List-Unsubscribe-Post: List-Unsubscribe=One-Click");
      const stepToken = (link as RegExpExecArray)[1] as string;
      const signedOut = new Participant(server.url, "nobody");
      const res = await signedOut.http("POST", "/api/notifications/unsubscribe", { token: stepToken });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ email: claimantClient.user.email, channel: "mail" });
      // And through preferences, signed in: the client's deal mail off.
      const prefs = await claimantClient.http("PUT", "/api/notifications/preferences", {
        mail: { deal: false },
      });
      expect(prefs.status).toBe(200);
      expect((prefs.body as { mail: Record<string, boolean> }).mail.deal).toBe(false);
    });

    it("tells everyone of the deal: members' deal mails hold the amount, the closed tab gets a push", async () => {
      await ok(claimant.command(sessionId, { type: "SetNumber", amount: DEMAND }));
      expect((await rest(respondent, { type: "SetNumber", amount: OFFER })).status).toBe(200);
      const deal = await claimant.waitFor((e) => e.type === "DealMade", 10_000);
      dealAmount = (deal.payload as { event: { amount: number } }).event.amount;
      expect(dealAmount).toBeGreaterThanOrEqual(DEMAND);
      expect(dealAmount).toBeLessThanOrEqual(OFFER);
      const amountText = Number((dealAmount / 100).toFixed(2)).toLocaleString("en-US", {
        minimumFractionDigits: 2,
      });
      for (const p of [claimant, respondent, mediator]) {
        const mail = await until(`${p.name}'s deal mail`, () =>
          mailsTo(p.user.email).find((m) => /deal/i.test(m.subject)),
        );
        expect(mail.text).toContain(amountText);
        // The blank in the terms is filled with the amount.
        expect(mail.text).toContain(`payment within 30 days of $${amountText}`);
      }
      // The closed tab hears of it by push: decrypted with the browser's own keys, it names the session, no amount.
      const hit = await until("the deal's push", () => {
        for (const h of pushes) {
          const payload = JSON.parse(
            ece.decrypt(h.body, { version: "aes128gcm", privateKey: browser, authSecret }).toString("utf8"),
          ) as { kind: string; body: string; url: string };
          if (payload.kind === "deal") return { h, payload };
        }
        return undefined;
      });
      expect(hit.h.path).toBe("/push/respondent-phone");
      expect(hit.payload.body).toBe("A deal was made in Smith v. Acme.");
      expect(hit.payload.url).toBe(`/sessions/${sessionId}`);
      expect(String(hit.h.headers.authorization)).toMatch(/^vapid t=/);
    });

    it("sends nobody else a deal mail: not the member who turned it off, not an invited stranger", async () => {
      // Every notice of the deal has been delivered (or skipped) before anything is judged absent.
      const end = Date.now() + 15_000;
      for (;;) {
        const rows = await server.notifications.recent();
        if (rows.every((r) => r.sent_at !== null)) break;
        if (Date.now() > end) throw new Error(`notices still pending: ${JSON.stringify(rows)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(mailsTo(claimantClient.user.email).some((m) => /deal/i.test(m.subject))).toBe(false);
      expect(mailsTo(stranger)).toHaveLength(1);
      const rows = await server.notifications.recent();
      expect(rows.some((r) => r.outcome === "opted-out" && r.kind === "deal")).toBe(true);
    });

    it("puts no side's number in any mail or push, and the deal amount only in members' deal mails", () => {
      const secrets = [...forms(DEMAND), ...forms(OFFER)].filter((f) => !forms(dealAmount).includes(f));
      const decodedPushes = pushes.map((h) =>
        ece.decrypt(h.body, { version: "aes128gcm", privateKey: browser, authSecret }).toString("utf8"),
      );
      expect(decodedPushes.length).toBeGreaterThanOrEqual(2);
      for (const text of decodedPushes) {
        for (const f of [...secrets, ...forms(dealAmount)]) expect(text).not.toContain(f);
      }
      mails = smtp.received.map(asMail);
      expect(mails.length).toBeGreaterThanOrEqual(10);
      for (const m of mails) {
        const all = [m.raw, m.subject, m.text, m.html, ...m.attachments.map((a) => a.content)].join("\n");
        for (const f of secrets) expect(all).not.toContain(f);
        const isMemberDealMail = /deal/i.test(m.subject) && m.to.every((to) => to !== stranger);
        if (!isMemberDealMail) for (const f of forms(dealAmount)) expect(all).not.toContain(f);
      }
    });
  });
}
