// Bad requests are the client's fault: whatever arrives over HTTP (a path that is not valid percent-encoding, a charset
// or Content-Encoding the server cannot read, a corrupt compressed body, random bytes, a body cut short) answers 4xx
// with a stable code and a sentence, never 500. A seeded fuzz of 10,000 raw requests, sent over plain sockets
// so nothing in a client library tidies them up, prints its figure.
import { randomBytes } from "node:crypto";
import net from "node:net";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../../src/server";
import { leftToNewcomerPass } from "../support/db";
import { createStorage, Participant, type Storage, startOn } from "../support/server";

interface Raw {
  status: number;
  body: string;
}

/** Sends bytes as they are and reads the status line and body; `cut`: close the socket after sending. */
function rawRequest(port: number, bytes: Buffer, cut = false): Promise<Raw | null> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    socket.on("data", (c) => chunks.push(c));
    socket.on("error", () => resolve(null));
    socket.on("close", () => {
      const text = Buffer.concat(chunks).toString("latin1");
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      resolve(m ? { status: Number(m[1]), body: text.slice(text.indexOf("\r\n\r\n") + 4) } : null);
    });
    socket.write(bytes, () => {
      if (cut) socket.destroy();
    });
    socket.setTimeout(5000, () => socket.destroy());
  });
}

function request(opts: {
  method?: string;
  path: string;
  token?: string;
  headers?: Record<string, string>;
  body?: Buffer;
  length?: number;
}): Buffer {
  const body = opts.body ?? Buffer.alloc(0);
  const lines = [
    `${opts.method ?? "POST"} ${opts.path} HTTP/1.1`,
    "Host: 127.0.0.1",
    "Connection: close",
    ...(opts.token ? [`Authorization: Bearer ${opts.token}`] : []),
    ...Object.entries(opts.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
    `Content-Length: ${opts.length ?? body.length}`,
  ];
  return Buffer.concat([Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1"), body]);
}

const REQUESTS = 10_000;

const PATHS = [
  "/api/auth/signin",
  "/api/sessions",
  "/api/sessions/%E0%A4%A",
  "/api/sessions/%ZZ/commands",
  "/api/sessions/00000000-0000-4000-8000-000000000000/commands",
  "/api/invitations/accept",
  "/api/notifications/unsubscribe",
  "/api/notifications/preferences",
  "/api/%",
];

const elsewhere = leftToNewcomerPass("the malformed REST requests (embedded only)");

describe.skipIf(elsewhere)("malformed REST requests", () => {
  let storage: Storage;
  let server: RunningServer;
  let token = "";

  beforeAll(async () => {
    storage = await createStorage("embedded");
    server = await startOn(storage, { SIGNUP_RATE_LIMIT: "100000/1h" });
    token = (await new Participant(server.url, "Fuzz").signUp()).token;
  });
  afterAll(async () => {
    await server?.close();
    await storage?.dispose();
  });

  it("answers each known kind of unreadable request with 400 INVALID_INPUT, not 500", async () => {
    const json = Buffer.from('{"email":"a@b.c","password":"x"}');
    const cases: Array<[string, Buffer]> = [
      [
        "bad percent-encoding in a path parameter",
        request({ method: "GET", path: "/api/sessions/%E0%A4%A", token }),
      ],
      [
        "an unsupported charset",
        request({
          path: "/api/auth/signin",
          headers: { "Content-Type": "application/json; charset=koi8-x" },
          body: json,
        }),
      ],
      [
        "an unknown Content-Encoding",
        request({
          path: "/api/auth/signin",
          headers: { "Content-Type": "application/json", "Content-Encoding": "zstd-x" },
          body: json,
        }),
      ],
      [
        "a corrupt gzip body",
        request({
          path: "/api/auth/signin",
          headers: { "Content-Type": "application/json", "Content-Encoding": "gzip" },
          body: Buffer.concat([gzipSync(json).subarray(0, 12), randomBytes(20)]),
        }),
      ],
      [
        "a body shorter than its Content-Length",
        request({
          path: "/api/auth/signin",
          headers: { "Content-Type": "application/json" },
          body: json,
          length: json.length + 50,
        }),
      ],
    ];
    for (const [what, bytes] of cases) {
      // A short body only ends when the client gives up: half-close after sending, as a client that gave up would.
      const r = await rawRequest(server.port, bytes, what.startsWith("a body shorter"));
      if (r === null) continue; // the socket was cut before any answer: nothing was answered at all, so no 500 either
      expect(r.status, what).toBeGreaterThanOrEqual(400);
      expect(r.status, what).toBeLessThan(500);
      expect(JSON.parse(r.body).error.code, what).toBe("INVALID_INPUT");
    }
  });

  it(`never answers 5xx to ${REQUESTS.toLocaleString("en-US")} malformed requests`, async () => {
    const statuses = new Map<number, number>();
    const header = fc.constantFrom<Record<string, string>>(
      {},
      { "Content-Type": "application/json" },
      { "Content-Type": "application/json; charset=utf-16" },
      { "Content-Type": "application/json; charset=bogus" },
      { "Content-Type": "text/plain" },
      { "Content-Type": "application/json", "Content-Encoding": "gzip" },
      { "Content-Type": "application/json", "Content-Encoding": "deflate" },
      { "Content-Type": "application/json", "Content-Encoding": "br" },
      { "Content-Type": "application/json", "Content-Encoding": "x-unknown" },
      { "Content-Type": "application/x-www-form-urlencoded" },
    );
    const body = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
      fc.json().map((j) => Buffer.from(j)),
      fc.string().map((s) => Buffer.from(s)),
      fc.constant(gzipSync(Buffer.from('{"token":"x"}'))),
    );
    const path = fc.oneof(
      fc.constantFrom(...PATHS),
      fc.string({ maxLength: 20 }).map((s) => `/api/sessions/${encodeURIComponent(s).replace(/%2/g, "%")}`),
    );
    const samples = fc.sample(
      fc.record({ header, body, path, method: fc.constantFrom("POST", "PUT", "GET", "DELETE") }),
      { numRuns: REQUESTS, seed: 42 },
    );
    // Eight connections at a time, as several clients would send them.
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let i = next++; i < samples.length; i = next++) {
          const s = samples[i]!;
          const r = await rawRequest(
            server.port,
            request({ method: s.method, path: s.path, token, headers: s.header, body: s.body }),
          );
          const status = r?.status ?? 0;
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
        }
      }),
    );
    const figure = [...statuses.entries()].sort((a, b) => a[0] - b[0]).map(([k, v]) => `${k}: ${v}`);
    console.log(`${REQUESTS} malformed REST requests, answers by status: ${figure.join(", ")}`);
    const fiveXx = [...statuses.entries()].filter(([k]) => k >= 500).reduce((n, [, v]) => n + v, 0);
    expect(fiveXx).toBe(0);
    // The fuzz reached the body parser and the routes (not only 404s).
    expect(statuses.get(400) ?? 0).toBeGreaterThan(REQUESTS / 20);
  }, 120_000);
});
