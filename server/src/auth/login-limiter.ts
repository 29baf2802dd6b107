// Brute-force protection for sign-in: N attempts per window per (ip, email). Shared across nodes through
// Redis when there is one; in memory on a single node otherwise.

import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";

export type LimitResult = { ok: true } | { ok: false; retryAfterSeconds: number };

export interface LoginLimiter {
  readonly store: "redis" | "memory";
  consume(key: string): Promise<LimitResult>;
  /** forget the attempts for key, after a successful sign-in */
  reset(key: string): Promise<void>;
}

export interface LoginLimiterOptions {
  redis?: Redis;
  /** REDIS_PREFIX; the limiter's keys live under "<prefix>:login:" */
  prefix: string;
  points: number;
  durationSeconds: number;
}

/** The key for one (ip, email) pair. */
export function loginAttemptKey(ip: string, email: string): string {
  return `${ip}|${email.trim().toLowerCase()}`;
}

// Stored keys are hashed so that email addresses never sit in Redis in the clear.
function storedKey(key: string): string {
  return createHash("sha256").update(key).digest("base64url");
}

export function createLoginLimiter(opts: LoginLimiterOptions): LoginLimiter {
  const base = { keyPrefix: `${opts.prefix}:login`, points: opts.points, duration: opts.durationSeconds };
  const memory = new RateLimiterMemory(base);
  // With Redis down, each node falls back to its own memory: weaker, but sign-in keeps working and limited.
  const limiter = opts.redis
    ? new RateLimiterRedis({
        ...base,
        storeClient: opts.redis,
        rejectIfRedisNotReady: true,
        insuranceLimiter: memory,
      })
    : memory;

  return {
    store: opts.redis ? "redis" : "memory",
    async consume(key) {
      try {
        await limiter.consume(storedKey(key));
        return { ok: true };
      } catch (rejection) {
        if (rejection instanceof RateLimiterRes) {
          return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)) };
        }
        throw rejection;
      }
    },
    async reset(key) {
      await limiter.delete(storedKey(key));
      if (limiter !== memory) await memory.delete(storedKey(key));
    },
  };
}
