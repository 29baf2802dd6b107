// `npm start`'s process on SIGTERM: stops accepting, finishes the command in flight (its ack arrives and it is
// stored), closes the scheduler and the database, and exits 0.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Participant } from "../support/server";
import { ok } from "./harness";

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

describe("graceful shutdown on SIGTERM", () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), "bc-shutdown-"));
  let child: ChildProcess | undefined;
  afterAll(() => {
    child?.kill("SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
  });

  const env = {
    ...process.env,
    NODE_ENV: "test",
    LOG_LEVEL: "info",
    HOST: "127.0.0.1",
    DATA_DIR: dataDir,
    DATABASE_URL: "",
    REDIS_URL: "",
    ROLE: "all",
    MASTER_KEY: randomBytes(32).toString("base64"),
    JWT_SECRET: randomBytes(32).toString("base64url"),
  };

  async function start(port: number) {
    const proc = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
      cwd: path.resolve(import.meta.dirname, "../.."),
      env: { ...env, PORT: String(port) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child = proc;
    const out = { text: "" };
    proc.stdout?.on("data", (d) => {
      out.text += String(d);
    });
    proc.stderr?.on("data", (d) => {
      out.text += String(d);
    });
    const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
    for (let i = 0; i < 300 && !out.text.includes("Backchannel is running at"); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(out.text).toContain("Backchannel is running at");
    return { proc, out, exited, url: `http://127.0.0.1:${port}` };
  }

  it("acks the command in flight, stores it, and exits 0", async () => {
    const port = await freePort();
    const first = await start(port);
    const claimant = await new Participant(first.url, "Claimant").signUp();
    const created = await claimant.http("POST", "/api/sessions", {
      title: "Shutdown",
      creatorRole: "claimant",
    });
    const sessionId = (created.body as { view: { id: string } }).view.id;
    await claimant.connect();
    await ok(claimant.emit("session:open", { sessionId }));

    // The command and the signal leave together.
    const inFlight = claimant.command(sessionId, {
      type: "EditTerms",
      baseVersion: 1,
      text: "Release of all claims.",
    });
    first.proc.kill("SIGTERM");
    expect(await inFlight).toMatchObject({ ok: true });
    expect(await first.exited).toBe(0);
    expect(first.out.text).toContain("shutting down");
    claimant.close();

    // Started again on the same data, the edit is there.
    const second = await start(port);
    const view = await claimant.http("GET", `/api/sessions/${sessionId}`);
    expect((view.body as { view: { terms: { text: string; version: number } } }).view.terms).toMatchObject({
      version: 2,
      text: "Release of all claims.",
    });
    second.proc.kill("SIGTERM");
    expect(await second.exited).toBe(0);
  }, 90_000);
});
