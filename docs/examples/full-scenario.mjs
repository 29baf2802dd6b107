// A complete negotiation against a running Backchannel server, written only from docs/protocol.md:
// three people sign up, the claimant creates a session with short rules, invites the respondent and a
// mediator, everyone connects, both sides skip the terms and enter overlapping numbers, and all three
// receive the deal.
//
//   node docs/examples/full-scenario.mjs http://127.0.0.1:3000     (or BASE_URL=... node ...)
//
// Exits 0 after printing the deal, 1 with a message on any failure, and gives up after 20 seconds.
import { randomUUID } from "node:crypto";
import { io } from "socket.io-client";

// biome-ignore lint/suspicious/noUndeclaredEnvVars: a standalone script, never run as a turbo task
const BASE_URL = (process.argv[2] ?? process.env.BASE_URL ?? "").replace(/\/+$/, "");
const TIMEOUT_MS = 20_000;
const ACK_TIMEOUT_MS = 5_000;

// Short rules (protocol.md section 3): Step 2 lasts 1 s, Step 3 5 s, the whole session at most 20 s.
const RULES = { step2DurationMs: 1000, step3DurationMs: 5000, maxSessionMs: 20_000 };
// Amounts are integers in cents. offer >= demand, so they match; offer > demand, so the deal lies in between.
const DEMAND = 500_000; // the claimant's $5,000.00
const OFFER = 600_000; // the respondent's $6,000.00

function fail(message) {
  console.error(`full-scenario: FAILED: ${message}`);
  process.exit(1);
}

if (!/^https?:\/\//.test(BASE_URL)) fail("give the server's URL, e.g. http://127.0.0.1:3000");
setTimeout(() => fail(`no deal within ${TIMEOUT_MS / 1000} s`), TIMEOUT_MS);

/** One REST call; any status other than `expected` is a failure that names the error code. */
async function api(method, path, { token, body, expected = 200 } = {}) {
  const res = await fetch(BASE_URL + path, {
    method,
    headers: {
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const json = text ? JSON.parse(text) : null;
  if (res.status !== expected) {
    const error = json?.error ? `${json.error.code}: ${json.error.message}` : text;
    throw new Error(`${method} ${path} answered ${res.status} (${error})`);
  }
  return json;
}

/** A person at the table: an account, a socket, and the session as far as this person has applied it. */
class Participant {
  constructor(label) {
    this.label = label;
    this.version = 0; // the last session version applied (protocol.md section 5)
    this.deal = null;
  }

  async signUp(runId) {
    const email = `${this.label.toLowerCase()}-${runId}@example.test`;
    const r = await api("POST", "/api/auth/signup", {
      body: { email, password: "correct horse battery", displayName: this.label },
      expected: 201,
    });
    this.token = r.token;
    this.user = r.user;
  }

  async connect() {
    // WebSocket transport only (protocol.md section 4); the token goes in the handshake.
    this.socket = io(BASE_URL, {
      transports: ["websocket"],
      auth: { token: this.token },
      reconnection: false,
    });
    await new Promise((resolve, reject) => {
      this.socket.once("connect", resolve);
      this.socket.once("connect_error", (err) =>
        reject(new Error(`${this.label} could not connect: ${err.data?.code ?? err.message}`)),
      );
    });
    this.socket.on("disconnect", (reason) => {
      if (!this.closing) fail(`${this.label}'s socket closed (${reason})`);
    });
  }

  async emit(event, payload) {
    const ack = await this.socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, payload);
    if (!ack.ok) throw new Error(`${this.label}: ${event} refused: ${ack.code}: ${ack.message}`);
    return ack;
  }

  /** session:open, then apply pushes in version order; a gap is filled with sync. */
  async open(sessionId) {
    this.sessionId = sessionId;
    this.pending = Promise.resolve();
    // One message carries a commit's pushes, in order (protocol.md section 5).
    this.socket.on("session:event", (...pushes) => {
      for (const push of pushes) {
        if (push.sessionId !== sessionId) continue;
        // One push at a time, so a sync answer and later pushes cannot interleave.
        this.pending = this.pending.then(() => this.receive(push)).catch((err) => fail(err.message));
      }
    });
    const ack = await this.emit("session:open", { sessionId });
    this.version = Math.max(this.version, ack.version);
    if (ack.view.deal) this.deal = ack.view.deal;
  }

  async receive({ version, event }) {
    if (version <= this.version) return; // a duplicate, or already in the snapshot
    if (version === this.version + 1) {
      this.apply(event);
      this.version = version;
      return;
    }
    // A gap: events this viewer may not see, or pushes missed. Ask the server what we missed.
    const r = await this.emit("sync", { sessionId: this.sessionId, sinceVersion: this.version });
    if (r.snapshot) {
      if (r.snapshot.deal) this.deal = r.snapshot.deal;
    } else {
      for (const e of r.events) if (e.version > this.version) this.apply(e.event);
    }
    this.version = Math.max(this.version, r.version);
  }

  apply(event) {
    if (event.type === "DealMade") this.deal = event;
  }

  command(command) {
    // A fresh idempotency key per command; a retry would reuse it (protocol.md section 6).
    return this.emit("command", { sessionId: this.sessionId, idempotencyKey: randomUUID(), command });
  }

  close() {
    this.closing = true;
    this.socket?.close();
  }
}

async function main() {
  const runId = randomUUID().slice(0, 8);
  const claimant = new Participant("Claimant");
  const respondent = new Participant("Respondent");
  const mediator = new Participant("Mediator");
  const everyone = [claimant, respondent, mediator];

  // 1. Accounts.
  for (const p of everyone) await p.signUp(runId);

  // 2. The claimant creates the session; its id is view.id.
  const created = await api("POST", "/api/sessions", {
    token: claimant.token,
    body: { title: `Docs example ${runId}`, creatorRole: "claimant", rules: RULES },
    expected: 201,
  });
  const sessionId = created.view.id;

  // 3. Invitations for the respondent and the mediator, accepted by each.
  for (const [p, role] of [
    [respondent, "respondent"],
    [mediator, "mediator"],
  ]) {
    const invitation = await api("POST", `/api/sessions/${sessionId}/invitations`, {
      token: claimant.token,
      body: { role },
      expected: 201,
    });
    const accepted = await api("POST", "/api/invitations/accept", {
      token: p.token,
      body: { token: invitation.token },
    });
    if (accepted.sessionId !== sessionId) throw new Error(`${p.label} joined another session`);
  }

  // 4. Everyone connects and opens the session, so the pushes reach them.
  for (const p of everyone) {
    await p.connect();
    await p.open(sessionId);
  }

  // 5. Both sides skip the terms: Step 1 closes and Step 2 opens in the second command.
  await claimant.command({ type: "SkipTerms" });
  await respondent.command({ type: "SkipTerms" });

  // 6. Overlapping numbers. The sender's ack echoes its own number; nobody else is ever sent it.
  const own = await claimant.command({ type: "SetNumber", amount: DEMAND });
  if (own.own?.amount !== DEMAND) throw new Error("the claimant's ack did not echo its number");
  await respondent.command({ type: "SetNumber", amount: OFFER });

  // 7. The deal: at the Step 2 deadline (or at once, had the offer come in Step 3), for all three.
  while (everyone.some((p) => !p.deal)) await new Promise((resolve) => setTimeout(resolve, 20));

  const amounts = new Set(everyone.map((p) => p.deal.amount));
  if (amounts.size !== 1) throw new Error(`the three saw different deals: ${[...amounts].join(", ")}`);
  const { amount, source } = claimant.deal;
  if (!(amount >= DEMAND && amount <= OFFER)) throw new Error(`the deal ${amount} is outside the overlap`);

  console.log(`DEAL ${amount} cents ($${(amount / 100).toFixed(2)}), source ${source}, seen by all three`);
  for (const p of everyone) p.close();
  process.exit(0);
}

main().catch((err) => fail(err instanceof Error ? err.message : String(err)));
