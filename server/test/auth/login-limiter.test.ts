import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLimiter, type Limiter, signinKey } from "../../src/limits";
import { servicesRequired } from "../support/db";

/** The per (address, email) sign-in limit, as createLimits builds it. */
function loginLimiter(o: {
  redis?: Redis;
  prefix: string;
  points: number;
  durationSeconds: number;
}): Limiter {
  return createLimiter({
    redis: o.redis,
    prefix: o.prefix,
    name: "signin-email",
    limit: { points: o.points, durationSeconds: o.durationSeconds },
  });
}

async function attempts(limiter: Limiter, key: string, n: number) {
  const results = [];
  for (let i = 0; i < n; i++) results.push(await limiter.consume(key));
  return results;
}

describe("signinKey", () => {
  it("is one key per (ip, normalised email)", () => {
    expect(signinKey("10.0.0.1", " Alice@Example.COM ")).toBe(signinKey("10.0.0.1", "alice@example.com"));
    expect(signinKey("10.0.0.1", "alice@example.com")).not.toBe(signinKey("10.0.0.2", "alice@example.com"));
  });
});

/** The behaviour every store must have; `make` returns limiters that share one store. */
function limiterContract(make: (points: number, durationSeconds: number) => Limiter) {
  it("allows N attempts, then blocks with a retry delay", async () => {
    const limiter = make(3, 900);
    const key = signinKey("203.0.113.7", "alice@example.com");
    expect(await attempts(limiter, key, 3)).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
    const blocked = await limiter.consume(key);
    expect(blocked.ok).toBe(false);
    if (!blocked.ok) {
      expect(blocked.retryAt - Date.now()).toBeGreaterThan(890_000);
      expect(blocked.retryAt - Date.now()).toBeLessThanOrEqual(900_000);
    }
    expect((await limiter.consume(key)).ok).toBe(false);
  });

  it("counts each (ip, email) separately", async () => {
    const limiter = make(2, 900);
    await attempts(limiter, signinKey("203.0.113.7", "alice@example.com"), 3);
    expect(await limiter.consume(signinKey("203.0.113.7", "bob@example.com"))).toEqual({ ok: true });
    expect(await limiter.consume(signinKey("203.0.113.8", "alice@example.com"))).toEqual({ ok: true });
  });

  it("forgets the attempts after reset (a successful sign-in)", async () => {
    const limiter = make(2, 900);
    const key = signinKey("203.0.113.9", "carol@example.com");
    await attempts(limiter, key, 3);
    expect((await limiter.consume(key)).ok).toBe(false);
    await limiter.reset(key);
    expect(await attempts(limiter, key, 2)).toEqual([{ ok: true }, { ok: true }]);
    expect((await limiter.consume(key)).ok).toBe(false);
  });

  it("allows attempts again once the window has passed", async () => {
    const limiter = make(1, 1);
    const key = signinKey("203.0.113.10", "dave@example.com");
    expect(await limiter.consume(key)).toEqual({ ok: true });
    const refused = await limiter.consume(key);
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.retryAt - Date.now()).toBeLessThanOrEqual(1_000);
    await new Promise((resolve) => setTimeout(resolve, 1_300));
    expect(await limiter.consume(key)).toEqual({ ok: true });
  });
}

describe("login limiter [memory]", () => {
  it("uses memory without Redis", () => {
    expect(loginLimiter({ prefix: "t", points: 1, durationSeconds: 1 }).store).toBe("memory");
  });
  limiterContract((points, durationSeconds) => loginLimiter({ prefix: "t", points, durationSeconds }));
});

describe("login limiter with Redis unreachable", () => {
  it("falls back to this node's memory and still limits", async () => {
    // lazyConnect and no retries: the client never becomes ready, as when Redis is down.
    const down = new Redis("redis://127.0.0.1:1", { lazyConnect: true, retryStrategy: () => null });
    down.on("error", () => {});
    try {
      const limiter = loginLimiter({ redis: down, prefix: "t", points: 2, durationSeconds: 900 });
      expect(limiter.store).toBe("redis");
      const key = signinKey("198.51.100.1", "erin@example.com");
      expect(await attempts(limiter, key, 2)).toEqual([{ ok: true }, { ok: true }]);
      expect((await limiter.consume(key)).ok).toBe(false);
      await limiter.reset(key);
      expect(await limiter.consume(key)).toEqual({ ok: true });
    } finally {
      down.disconnect();
    }
  });
});

const redisUrl = process.env.REDIS_URL;
if (!redisUrl) {
  if (servicesRequired()) {
    describe("login limiter [redis]", () => {
      it("needs REDIS_URL (CI=true or REQUIRE_SERVICES=1)", () => {
        throw new Error("REDIS_URL is not set, but CI=true or REQUIRE_SERVICES=1 requires the Redis suites");
      });
    });
  } else {
    console.warn("SKIPPING login limiter [redis]: REDIS_URL not set");
  }
}

describe.skipIf(!redisUrl)("login limiter [redis]", () => {
  const prefix = `bc-test-${process.pid}-${randomBytes(4).toString("hex")}`;
  let redis: Redis;
  let second: Redis;

  beforeAll(async () => {
    redis = new Redis(redisUrl ?? "", { maxRetriesPerRequest: 1 });
    second = new Redis(redisUrl ?? "", { maxRetriesPerRequest: 1 });
    await Promise.all([redis.ping(), second.ping()]);
  });

  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await Promise.all([redis.quit(), second.quit()]);
  });

  let n = 0;
  // Each test gets its own prefix inside the run's prefix, so windows never leak between tests.
  limiterContract((points, durationSeconds) =>
    loginLimiter({ redis, prefix: `${prefix}:${n++}`, points, durationSeconds }),
  );

  it("shares the count between nodes (two clients, one Redis)", async () => {
    const shared = `${prefix}:shared`;
    const nodeA = loginLimiter({ redis, prefix: shared, points: 3, durationSeconds: 900 });
    const nodeB = loginLimiter({ redis: second, prefix: shared, points: 3, durationSeconds: 900 });
    const key = signinKey("203.0.113.20", "frank@example.com");
    expect(await nodeA.consume(key)).toEqual({ ok: true });
    expect(await nodeB.consume(key)).toEqual({ ok: true });
    expect(await nodeA.consume(key)).toEqual({ ok: true });
    expect((await nodeB.consume(key)).ok).toBe(false);
    await nodeA.reset(key);
    expect(await nodeB.consume(key)).toEqual({ ok: true });
  });

  it("keeps email addresses out of Redis keys", async () => {
    const own = `${prefix}:keys`;
    const limiter = loginLimiter({ redis, prefix: own, points: 3, durationSeconds: 900 });
    await limiter.consume(signinKey("203.0.113.21", "grace@example.com"));
    const keys = await redis.keys(`${own}:*`);
    expect(keys).toHaveLength(1);
    expect(keys[0]).not.toContain("grace");
    expect(keys[0]).not.toContain("203.0.113.21");
  });
});
