// The leak scan's instruments: a raw Redis MONITOR capture (every command as Redis received it, its arguments
// unescaped back to bytes), a dump of every key under a prefix (BullMQ's jobs among them), and a matcher that looks
// for amounts in every form they could take there.
//
// Forms looked for, for an amount of `c` minor units (cents):
//  - decimal text: the cents digits ("4123456"), dollars and cents with or without grouping ("41,234.56",
//    "41234.56"), and, only for amounts given as distinctive, the whole dollars ("41234" / "41,234"). A number is
//    a maximal run of digits (with ",ddd" groups and a fraction) not inside a word or a hex string, so an id that
//    happens to contain the digits is not a hit, and "[4123456,17]" is;
//  - MessagePack, as the Socket.IO Redis adapter encodes the packets it publishes when they carry binary (JSON, the
//    decimal text above, otherwise): uint32 (0xce), uint64 (0xcf) and float64 (0xcb) of the cents, and float64 of
//    the dollars.
import net from "node:net";
import { Redis } from "ioredis";

export interface Hit {
  source: string;
  form: string;
  amount: number;
  context: string;
}

export class AmountMatcher {
  private readonly cents = new Map<string, number>();
  private readonly dollarsCents = new Map<string, number>();
  private readonly dollars = new Map<string, number>();
  private readonly binary = new Map<string, { amount: number; form: string }>();

  constructor(amounts: Array<{ cents: number; distinctive?: boolean }>) {
    for (const { cents, distinctive } of amounts) {
      this.cents.set(String(cents), cents);
      this.dollarsCents.set(`${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, "0")}`, cents);
      if (distinctive) this.dollars.set(String(Math.floor(cents / 100)), cents);
      if (cents < 2 ** 32) {
        const b = Buffer.alloc(5);
        b[0] = 0xce;
        b.writeUInt32BE(cents, 1);
        this.binary.set(b.toString("latin1"), { amount: cents, form: "msgpack uint32" });
      }
      const u64 = Buffer.alloc(9);
      u64[0] = 0xcf;
      u64.writeBigUInt64BE(BigInt(cents), 1);
      this.binary.set(u64.toString("latin1"), { amount: cents, form: "msgpack uint64" });
      const f64 = Buffer.alloc(9);
      f64[0] = 0xcb;
      f64.writeDoubleBE(cents, 1);
      this.binary.set(f64.toString("latin1"), { amount: cents, form: "msgpack float64 (cents)" });
      const d64 = Buffer.alloc(9);
      d64[0] = 0xcb;
      d64.writeDoubleBE(cents / 100, 1);
      this.binary.set(d64.toString("latin1"), { amount: cents, form: "msgpack float64 (dollars)" });
    }
  }

  get size() {
    return this.cents.size;
  }

  /** Every occurrence of an amount in `data` (bytes; text is read as latin1, which keeps every byte). */
  scan(source: string, data: Buffer | string): Hit[] {
    const text = typeof data === "string" ? data : data.toString("latin1");
    const hits: Hit[] = [];
    const context = (i: number, len: number) =>
      JSON.stringify(text.slice(Math.max(0, i - 60), i + len + 60)).slice(0, 400);
    const numbers = /(?<![0-9A-Za-z.])\d+(?:,\d{3})*(?:\.\d+)?(?![0-9A-Za-z])/g;
    for (const m of text.matchAll(numbers)) {
      const token = m[0];
      const found = (form: string, amount: number) =>
        hits.push({ source, form, amount, context: context(m.index, token.length) });
      const candidates = new Set([token.replaceAll(",", ""), ...token.split(",")]);
      for (const t of candidates) {
        if (/^\d+$/.test(t)) {
          const c = this.cents.get(t);
          if (c !== undefined) found(`cents "${t}"`, c);
          const d = this.dollars.get(t);
          if (d !== undefined) found(`whole dollars "${token}"`, d);
        } else {
          const c = this.dollarsCents.get(t);
          if (c !== undefined) found(`dollars "${token}"`, c);
        }
      }
    }
    for (const marker of ["\xce", "\xcf", "\xcb"]) {
      const len = marker === "\xce" ? 5 : 9;
      for (let i = text.indexOf(marker); i !== -1; i = text.indexOf(marker, i + 1)) {
        const b = this.binary.get(text.slice(i, i + len));
        if (b) hits.push({ source, form: b.form, amount: b.amount, context: context(i, len) });
      }
    }
    return hits;
  }
}

/** Redis's MONITOR escaping (sdscatrepr) undone: \xHH, \", \\, \n, \r, \t, \a, \b back to their bytes. */
export function unescapeMonitor(line: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < line.length; i++) {
    const ch = line.charCodeAt(i);
    if (ch !== 0x5c || i + 1 >= line.length) {
      out.push(ch & 0xff);
      continue;
    }
    const next = line[i + 1];
    if (next === "x" && /^[0-9a-f]{2}$/i.test(line.slice(i + 2, i + 4))) {
      out.push(Number.parseInt(line.slice(i + 2, i + 4), 16));
      i += 3;
      continue;
    }
    const simple: Record<string, number> = {
      '"': 0x22,
      "\\": 0x5c,
      n: 0x0a,
      r: 0x0d,
      t: 0x09,
      a: 0x07,
      b: 0x08,
    };
    const byte = next === undefined ? undefined : simple[next];
    if (byte !== undefined) {
      out.push(byte);
      i += 1;
    } else out.push(ch);
  }
  return Buffer.from(out);
}

/**
 * A MONITOR connection of its own (raw RESP over TCP, so that nothing re-decodes the arguments): keeps every command
 * whose line names `prefix`, unescaped. stop() ends it and returns what it kept.
 */
export async function monitorRedis(redisUrl: string, prefix: string) {
  const u = new URL(redisUrl);
  const socket = net.connect(Number(u.port || 6379), u.hostname);
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  const kept: Buffer[] = [];
  let seenBytes = 0;
  let lines = 0;
  let pending = "";
  let ready: () => void = () => {};
  const started = new Promise<void>((r) => {
    ready = r;
  });
  socket.setEncoding("latin1");
  socket.on("data", (chunk: string) => {
    seenBytes += chunk.length;
    pending += chunk;
    let nl = pending.indexOf("\r\n");
    while (nl !== -1) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 2);
      if (line === "+OK") ready();
      else if (line.includes(prefix)) {
        kept.push(unescapeMonitor(line), Buffer.from("\n"));
        lines++;
      }
      nl = pending.indexOf("\r\n");
    }
  });
  socket.on("error", () => {});
  if (u.password) socket.write(`AUTH ${decodeURIComponent(u.password)}\r\n`);
  socket.write("MONITOR\r\n");
  await started;
  return {
    async stop() {
      // Let the last commands arrive.
      await new Promise((r) => setTimeout(r, 300));
      socket.destroy();
      return { data: Buffer.concat(kept), lines, seenBytes };
    },
  };
}

/** Whatever a Redis reply holds, as bytes (nested arrays flattened, numbers and strings as text). */
/** Appends a Redis reply's bytes to `out` (a loop, not a spread: a list or stream may have 100,000 members). */
function bytesOf(reply: unknown, out: Buffer[]): void {
  if (Buffer.isBuffer(reply)) out.push(reply, Buffer.from("\n"));
  else if (Array.isArray(reply)) for (const r of reply) bytesOf(r, out);
  else if (reply !== null && reply !== undefined) out.push(Buffer.from(`${String(reply)}\n`));
}

/** Every key under `prefix` with its value(s) as bytes; `jobs` counts the BullMQ job hashes (those with `data`). */
export async function dumpKeys(redisUrl: string, prefix: string) {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 3 });
  const parts: Buffer[] = [];
  const jobData: Buffer[] = [];
  let keys = 0;
  try {
    let cursor = "0";
    do {
      const [next, batch] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      cursor = next;
      if (batch.length === 0) continue;
      keys += batch.length;
      const types = ((await batch.reduce((p, key) => p.type(key), redis.pipeline()).exec()) ?? []) as Array<
        [Error | null, string]
      >;
      const reads = redis.pipeline();
      for (const [n, key] of batch.entries()) {
        const type = types[n]?.[1];
        if (type === "hash") reads.hgetallBuffer(key);
        else if (type === "string") reads.getBuffer(key);
        else if (type === "list") reads.lrangeBuffer(key, 0, -1);
        else if (type === "set") reads.smembersBuffer(key);
        else if (type === "zset") reads.callBuffer("ZRANGE", key, "0", "-1", "WITHSCORES");
        else if (type === "stream") reads.callBuffer("XRANGE", key, "-", "+");
        else reads.echo(`(${type})`);
      }
      const values = ((await reads.exec()) ?? []) as Array<[Error | null, unknown]>;
      for (const [n, key] of batch.entries()) {
        parts.push(Buffer.from(`\n${key}\n`));
        const value = values[n]?.[1];
        if (types[n]?.[1] === "hash" && value && typeof value === "object" && !Array.isArray(value)) {
          const h = value as Record<string, Buffer>;
          for (const [f, v] of Object.entries(h)) {
            parts.push(Buffer.from(`${f}=`));
            bytesOf(v, parts);
          }
          if (h.data) jobData.push(Buffer.from(h.data));
        } else bytesOf(value, parts);
      }
    } while (cursor !== "0");
  } finally {
    await redis.quit().catch(() => {});
  }
  return { keys, jobs: jobData.length, jobData: Buffer.concat(jobData), data: Buffer.concat(parts) };
}
