// "A number never enters a room broadcast, a Redis message, a queue job, a log line, an error message or a
// metric." Each channel is captured for real while a full negotiation runs, then searched for the numbers.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { Writable } from "node:stream";
import { Redis } from "ioredis";
import { simpleParser } from "mailparser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/log";
import type { RunningServer } from "../../src/server";
import { backends, createStorage, type Storage, startOn } from "../support/server";
import { ok, openTable, SHORT_RULES, type Table } from "./harness";

const DEMAND = 73_914_205;
const OFFER = 70_212_303;
const SECOND_DEMAND = 73_555_201;

for (const backend of backends()) {
  describe(`confidentiality on ${backend}`, () => {
    let storage: Storage;
    let server: RunningServer;
    let t: Table;
    const logLines: string[] = [];
    const redisTraffic: string[] = [];
    let monitor: Redis | undefined;

    beforeAll(async () => {
      storage = await createStorage(backend);
      if (storage.redisUrl) {
        // Everything any client sends to Redis, pub/sub and queue commands included.
        monitor = new Redis(storage.redisUrl);
        const m = await monitor.monitor();
        m.on("monitor", (_time: string, args: string[]) => redisTraffic.push(args.join(" ")));
      }
      const sink = new Writable({
        write(chunk, _enc, done) {
          logLines.push(String(chunk));
          done();
        },
      });
      server = await startOn(storage, {}, { log: createLogger({ level: "trace", name: "conf" }, sink) });
      t = await openTable(server, { ...SHORT_RULES, step2DurationMs: 600 });
      // A whole negotiation: sealed numbers, a Step 3 change, a smart proposal, a refused number, a deal.
      await ok(t.claimant.command(t.sessionId, { type: "SetNumber", amount: DEMAND }));
      await ok(t.respondent.command(t.sessionId, { type: "SetNumber", amount: OFFER }));
      await t.mediator.waitFor((e) => e.type === "Step3Opened", 5000);
      await ok(t.claimant.command(t.sessionId, { type: "SetNumber", amount: SECOND_DEMAND }));
      await ok(t.claimant.command(t.sessionId, { type: "RequestProposal" }));
      const req = await t.respondent.waitFor((e) => e.type === "ProposalRequested");
      const requestId = (req.payload as { event: { requestId: string } }).event.requestId;
      const refused = await t.respondent.command(t.sessionId, { type: "SetNumber", amount: 73_444_401 });
      expect(refused).toMatchObject({ ok: false, code: "BIDDING_PAUSED" });
      expect(JSON.stringify(refused)).not.toContain("73444401");
      await ok(t.respondent.command(t.sessionId, { type: "ConsentProposal", requestId }));
      const made = await t.claimant.waitFor((e) => e.type === "SmartProposalMade");
      const proposalId = (made.payload as { event: { proposalId: string } }).event.proposalId;
      await ok(t.claimant.command(t.sessionId, { type: "AnswerProposal", proposalId, accept: false }));
      await ok(t.respondent.command(t.sessionId, { type: "AnswerProposal", proposalId, accept: false }));
      await t.claimant.waitFor((e) => e.type === "ProposalResolved");
      await ok(t.respondent.command(t.sessionId, { type: "SetNumber", amount: SECOND_DEMAND }));
      await t.mediator.waitFor((e) => e.type === "DealMade");
      await new Promise((r) => setTimeout(r, 300));
    });

    afterAll(async () => {
      for (const p of t?.all ?? []) p.close();
      await server?.close();
      monitor?.disconnect();
      await storage?.dispose();
    });

    const secrets = [DEMAND, OFFER, 73_444_401].map(String);

    it("puts no number in any log line, even at trace level", () => {
      expect(logLines.length).toBeGreaterThan(10);
      const all = logLines.join("");
      expect(all).toContain("command applied"); // the capture works
      for (const s of secrets) expect(all).not.toContain(s);
    });

    it("puts no number in any room push, to anyone", () => {
      for (const p of t.all) {
        const pushes = JSON.stringify(p.pushes.filter((x) => x.name === "session:event"));
        expect(pushes).toContain("NumberSet");
        for (const s of secrets) expect(pushes).not.toContain(s);
      }
    });

    // No SMTP_URL here: every mail is a file in the outbox folder, which is searched whole (headers, both parts,
    // attachments), for each number in cents and as money ("739,142.05", "739142.05").
    it("puts no number in any mail, nor in the notification outbox", async () => {
      const outbox = path.join(storage.dataDir, "outbox");
      const deadline = Date.now() + 10_000;
      let mails: string[] = [];
      // Every member gets the deal mail.
      while (Date.now() < deadline) {
        // Finished mails only: a mail being written is a ".<name>.partial" file until it is renamed, so reading
        // one could count a mail twice or find it gone.
        mails = readdirSync(outbox, { withFileTypes: true })
          .filter((f) => f.isFile() && f.name.endsWith(".eml"))
          .map((f) => readFileSync(path.join(outbox, f.name), "utf8"));
        if (mails.filter((m) => /^Subject: .*Deal/im.test(m)).length >= t.all.length) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(mails.filter((m) => /^Subject: .*Deal/im.test(m)).length).toBe(t.all.length);
      const money = (cents: number) => (cents / 100).toFixed(2);
      const forms = [DEMAND, OFFER, 73_444_401].flatMap((c) => [
        String(c),
        money(c),
        Number(money(c)).toLocaleString("en-US", { minimumFractionDigits: 2 }),
      ]);
      // Decoded too: a base64 or quoted-printable part would hide a number from a search of the raw file.
      const decoded = await Promise.all(
        mails.map(async (m) => {
          const p = await simpleParser(m);
          const files = p.attachments.map((a) => a.content.toString("utf8"));
          return [m, p.subject, p.text, p.html, ...files].join("\n");
        }),
      );
      const all = decoded.join("\n");
      expect(all).toContain("Smith v. Acme"); // the decoding works
      for (const f of forms) expect(all).not.toContain(f);
      const rows = await server.notifications.recent();
      expect(rows.length).toBeGreaterThan(t.all.length);
      for (const f of forms) expect(JSON.stringify(rows)).not.toContain(f);
    });

    it("puts no number in any metric", async () => {
      const metrics = await (await fetch(`${server.metricsUrl}/metrics`)).text();
      expect(metrics).toContain("backchannel_commands_total");
      for (const s of secrets) expect(metrics).not.toContain(s);
    });

    // Only the PostgreSQL + Redis run has a Redis to watch; the embedded run has none to leak into.
    if (backend === "services")
      it("sends no number to Redis: no pub/sub message, no queue job, no key", async () => {
        expect(redisTraffic.length).toBeGreaterThan(10);
        const traffic = redisTraffic.join("\n");
        expect(traffic).toContain("deadline"); // BullMQ traffic was captured
        expect(traffic).toMatch(/publish/i); // adapter traffic was captured
        for (const s of secrets) expect(traffic).not.toContain(s);
        // And nothing at rest under this run's prefix either.
        const r = new Redis(storage.redisUrl as string);
        const keys = await r.keys(`${storage.redisPrefix}*`);
        let dump = "";
        for (const k of keys) {
          const type = await r.type(k);
          if (type === "string") dump += await r.get(k);
          else if (type === "hash") dump += JSON.stringify(await r.hgetall(k));
          else if (type === "list") dump += JSON.stringify(await r.lrange(k, 0, -1));
          else if (type === "zset") dump += JSON.stringify(await r.zrange(k, "0", "-1"));
          else if (type === "set") dump += JSON.stringify(await r.smembers(k));
          else if (type === "stream") dump += JSON.stringify(await r.xrange(k, "-", "+"));
        }
        await r.quit();
        expect(keys.length).toBeGreaterThan(0);
        for (const s of secrets) expect(dump).not.toContain(s);
      });
  });
}
