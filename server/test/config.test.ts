import path from "node:path";
import { describe, expect, it } from "vitest";
import { CONFIG_VARIABLES, ConfigError, loadConfig } from "../src/config";

function problemsOf(env: NodeJS.ProcessEnv): { variable: string; message: string }[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error("expected loadConfig to refuse this environment");
}

describe("loadConfig", () => {
  it("starts with no variables at all, on the embedded defaults", () => {
    expect(loadConfig({})).toEqual({
      env: "development",
      host: "127.0.0.1",
      port: 3000,
      role: "all",
      databaseUrl: undefined,
      dataDir: path.resolve("./data"),
      redisUrl: undefined,
      redisPrefix: "bc",
      masterKey: undefined,
      jwtSecret: undefined,
      jwtIssuer: "backchannel",
      jwtAudience: "backchannel-app",
      tokenTtlSeconds: 43200,
      allowedOrigins: ["http://localhost:3000", "http://127.0.0.1:3000"],
      publicUrl: "http://localhost:3000",
      trustProxy: false,
      logLevel: "info",
      clientDist: undefined,
      bodyLimit: "256kb",
      socketMaxBuffer: 262144,
      loginRateLimit: { points: 10, durationSeconds: 900 },
      loginAddressRateLimit: { points: 60, durationSeconds: 900 },
      signupRateLimit: { points: 100, durationSeconds: 3600 },
      socketRateLimit: { points: 30, durationSeconds: 10 },
      socketConnectRateLimit: { points: 300, durationSeconds: 60 },
      maxSocketsPerAccount: 20,
      sessionRateLimit: { points: 30, durationSeconds: 3600 },
      invitationRateLimit: { points: 100, durationSeconds: 3600 },
      maxOpenInvitations: 100,
      metricsPort: 9464,
      metricsHost: "127.0.0.1",
      metricsToken: undefined,
      deadlineSweepMs: 30_000,
      stateCacheSessions: 10_000,
      smtpUrl: undefined,
      mailFrom: "Backchannel <no-reply@localhost>",
      vapidPublicKey: undefined,
      vapidPrivateKey: undefined,
      vapidSubject: "mailto:ops@localhost",
    });
  });

  it("reads every variable", () => {
    const secret = "s".repeat(40);
    const masterKey = "ab".repeat(32);
    const cfg = loadConfig({
      NODE_ENV: "production",
      HOST: "0.0.0.0",
      PORT: "8080",
      ROLE: "worker",
      DATABASE_URL: "postgres://root@127.0.0.1:5432/test",
      DATA_DIR: "/var/lib/backchannel",
      REDIS_URL: "redis://127.0.0.1:6379/2",
      REDIS_PREFIX: "bc-prod",
      MASTER_KEY: masterKey,
      JWT_SECRET: secret,
      JWT_ISSUER: "iss",
      JWT_AUDIENCE: "aud",
      TOKEN_TTL_SECONDS: "3600",
      ALLOWED_ORIGINS: "https://app.example.com, https://Mediate.Example.com:8443/",
      TRUST_PROXY: "true",
      LOG_LEVEL: "debug",
      CLIENT_DIST: "/srv/client",
      BODY_LIMIT: "64KB",
      SOCKET_MAX_BUFFER: "32768",
      LOGIN_RATE_LIMIT: "5/1h",
      LOGIN_ADDRESS_RATE_LIMIT: "40/30m",
      SIGNUP_RATE_LIMIT: "7/1h",
      SOCKET_RATE_LIMIT: "100 / 60",
      SOCKET_CONNECT_RATE_LIMIT: "50/1m",
      SOCKETS_PER_ACCOUNT: "4",
      SESSION_RATE_LIMIT: "3/1h",
      INVITATION_RATE_LIMIT: "9/2h",
      OPEN_INVITATIONS_PER_SESSION: "12",
      PUBLIC_URL: "https://mediate.example.com/app/",
      METRICS_PORT: "9100",
      METRICS_HOST: "10.0.0.5",
      METRICS_TOKEN: "m".repeat(20),
      DEADLINE_SWEEP_MS: "5000",
      STATE_CACHE_SESSIONS: "25000",
      SMTP_URL: "smtp://mail.example.com:587",
      MAIL_FROM: "Mediation <m@example.com>",
      VAPID_PUBLIC_KEY: `B${"k".repeat(86)}`,
      VAPID_PRIVATE_KEY: "p".repeat(43),
      VAPID_SUBJECT: "https://example.com/contact",
    });
    expect(cfg).toEqual({
      env: "production",
      host: "0.0.0.0",
      port: 8080,
      role: "worker",
      databaseUrl: "postgres://root@127.0.0.1:5432/test",
      dataDir: "/var/lib/backchannel",
      redisUrl: "redis://127.0.0.1:6379/2",
      redisPrefix: "bc-prod",
      masterKey,
      jwtSecret: secret,
      jwtIssuer: "iss",
      jwtAudience: "aud",
      tokenTtlSeconds: 3600,
      allowedOrigins: ["https://app.example.com", "https://mediate.example.com:8443"],
      publicUrl: "https://mediate.example.com/app",
      trustProxy: true,
      logLevel: "debug",
      clientDist: "/srv/client",
      bodyLimit: "64kb",
      socketMaxBuffer: 32768,
      loginRateLimit: { points: 5, durationSeconds: 3600 },
      loginAddressRateLimit: { points: 40, durationSeconds: 1800 },
      signupRateLimit: { points: 7, durationSeconds: 3600 },
      socketRateLimit: { points: 100, durationSeconds: 60 },
      socketConnectRateLimit: { points: 50, durationSeconds: 60 },
      maxSocketsPerAccount: 4,
      sessionRateLimit: { points: 3, durationSeconds: 3600 },
      invitationRateLimit: { points: 9, durationSeconds: 7200 },
      maxOpenInvitations: 12,
      metricsPort: 9100,
      metricsHost: "10.0.0.5",
      metricsToken: "m".repeat(20),
      deadlineSweepMs: 5000,
      stateCacheSessions: 25_000,
      smtpUrl: "smtp://mail.example.com:587",
      mailFrom: "Mediation <m@example.com>",
      vapidPublicKey: `B${"k".repeat(86)}`,
      vapidPrivateKey: "p".repeat(43),
      vapidSubject: "https://example.com/contact",
    });
  });

  it("refuses ROLE=web or worker without shared PostgreSQL and Redis (deadlines would never fire)", () => {
    for (const ROLE of ["web", "worker"]) {
      expect(problemsOf({ ROLE }).map((p) => p.variable)).toEqual(["ROLE"]);
      expect(problemsOf({ ROLE, DATABASE_URL: "postgres://db/x" }).map((p) => p.variable)).toEqual(["ROLE"]);
      expect(loadConfig({ ROLE, DATABASE_URL: "postgres://db/x", REDIS_URL: "redis://r:6379" }).role).toBe(
        ROLE,
      );
    }
  });

  it("derives the default allowed origins from PORT", () => {
    expect(loadConfig({ PORT: "4123" }).allowedOrigins).toEqual([
      "http://localhost:4123",
      "http://127.0.0.1:4123",
    ]);
  });

  it("treats an empty variable as unset", () => {
    const cfg = loadConfig({ PORT: "", REDIS_URL: "", MASTER_KEY: "  ", JWT_SECRET: "" });
    expect(cfg.port).toBe(3000);
    expect(cfg.redisUrl).toBeUndefined();
    expect(cfg.masterKey).toBeUndefined();
    expect(cfg.jwtSecret).toBeUndefined();
  });

  it("is silent under test unless LOG_LEVEL says otherwise", () => {
    expect(loadConfig({ NODE_ENV: "test" }).logLevel).toBe("silent");
    expect(loadConfig({ NODE_ENV: "test", LOG_LEVEL: "warn" }).logLevel).toBe("warn");
  });

  it("accepts a base64 master key and PORT 0 (tests bind a free port)", () => {
    const b64 = Buffer.alloc(32, 7).toString("base64");
    expect(loadConfig({ MASTER_KEY: b64, PORT: "0" })).toMatchObject({ masterKey: b64, port: 0 });
  });

  it("lists every bad variable in one error", () => {
    const problems = problemsOf({
      PORT: "http",
      ROLE: "boss",
      NODE_ENV: "staging",
      TOKEN_TTL_SECONDS: "5",
      TRUST_PROXY: "maybe",
      LOG_LEVEL: "loud",
      BODY_LIMIT: "lots",
      SOCKET_MAX_BUFFER: "-1",
      LOGIN_RATE_LIMIT: "ten per minute",
      SOCKET_RATE_LIMIT: "0/10s",
      REDIS_PREFIX: "has space",
    });
    expect(problems.map((p) => p.variable).sort()).toEqual(
      [
        "BODY_LIMIT",
        "LOGIN_RATE_LIMIT",
        "LOG_LEVEL",
        "NODE_ENV",
        "PORT",
        "REDIS_PREFIX",
        "ROLE",
        "SOCKET_MAX_BUFFER",
        "SOCKET_RATE_LIMIT",
        "TOKEN_TTL_SECONDS",
        "TRUST_PROXY",
      ].sort(),
    );
    for (const problem of problems) expect(problem.message.length).toBeGreaterThan(10);
  });

  it("explains each problem in the error message", () => {
    expect(() => loadConfig({ PORT: "99999", ROLE: "boss" })).toThrowError(
      /Invalid configuration:\n {2}- PORT: must be a whole number from 0 to 65535 \(got "99999"\)\n {2}- ROLE: must be all, web or worker/,
    );
  });

  it("refuses a short JWT_SECRET and a malformed MASTER_KEY without echoing them", () => {
    const shortSecret = "short-secret-value";
    const badKey = "deadbeef";
    let message = "";
    try {
      loadConfig({ JWT_SECRET: shortSecret, MASTER_KEY: badKey });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/JWT_SECRET: must be at least 32 bytes/);
    expect(message).toMatch(/MASTER_KEY: must be 32 bytes/);
    expect(message).not.toContain(shortSecret);
    expect(message).not.toContain(badKey);
  });

  it("refuses a base64 MASTER_KEY that is not 32 bytes", () => {
    expect(problemsOf({ MASTER_KEY: Buffer.alloc(16).toString("base64") })[0]?.variable).toBe("MASTER_KEY");
  });

  it("refuses URLs of the wrong kind without echoing credentials", () => {
    const problems = problemsOf({
      DATABASE_URL: "mysql://admin:hunter2@db/app",
      REDIS_URL: "http://:hunter2@cache",
    });
    expect(problems.map((p) => p.variable).sort()).toEqual(["DATABASE_URL", "REDIS_URL"]);
    expect(JSON.stringify(problems)).not.toContain("hunter2");
  });

  it("reads mail and push settings: an SMTP URL, never echoed, and a VAPID pair given whole", () => {
    const config = loadConfig({
      SMTP_URL: "smtps://u:pw@mail.example.com:465",
      MAIL_FROM: "B <b@example.com>",
    });
    expect(config.smtpUrl).toBe("smtps://u:pw@mail.example.com:465");
    expect(config.mailFrom).toBe("B <b@example.com>");
    expect(loadConfig({}).smtpUrl).toBeUndefined();
    const bad = problemsOf({ SMTP_URL: "http://u:hunter2@mail.example.com" });
    expect(bad.map((p) => p.variable)).toEqual(["SMTP_URL"]);
    expect(JSON.stringify(bad)).not.toContain("hunter2");
    const pub = `B${"x".repeat(86)}`;
    const priv = "y".repeat(43);
    expect(loadConfig({ VAPID_PUBLIC_KEY: pub, VAPID_PRIVATE_KEY: priv }).vapidPublicKey).toBe(pub);
    expect(problemsOf({ VAPID_PUBLIC_KEY: pub }).map((p) => p.variable)).toEqual(["VAPID_PRIVATE_KEY"]);
    const half = problemsOf({ VAPID_PRIVATE_KEY: priv });
    expect(half.map((p) => p.variable)).toEqual(["VAPID_PUBLIC_KEY"]);
    expect(JSON.stringify(problemsOf({ VAPID_PRIVATE_KEY: "secret!" }))).not.toContain("secret!");
    expect(problemsOf({ VAPID_SUBJECT: "ops@example.com" }).map((p) => p.variable)).toEqual([
      "VAPID_SUBJECT",
    ]);
  });

  it("accepts postgresql:// and rediss:// URLs", () => {
    const cfg = loadConfig({ DATABASE_URL: "postgresql://u@h/db", REDIS_URL: "rediss://h:6380" });
    expect(cfg.databaseUrl).toBe("postgresql://u@h/db");
    expect(cfg.redisUrl).toBe("rediss://h:6380");
  });

  it("refuses allowed origins with a path, a wildcard or another scheme", () => {
    for (const value of ["https://app.example.com/login", "*", "ftp://files.example.com", " , "]) {
      expect(problemsOf({ ALLOWED_ORIGINS: value })[0]?.variable).toBe("ALLOWED_ORIGINS");
    }
  });

  it("defaults PUBLIC_URL to the first allowed origin", () => {
    expect(loadConfig({ ALLOWED_ORIGINS: "https://b.example, https://a.example" }).publicUrl).toBe(
      "https://b.example",
    );
    expect(loadConfig({ PORT: "4123" }).publicUrl).toBe("http://localhost:4123");
  });

  it("refuses a PUBLIC_URL that is not an http(s) address without a query", () => {
    for (const value of [
      "mediate.example.com",
      "ftp://x.example",
      "https://x.example/?a=b",
      "https://x.example/#top",
    ]) {
      expect(problemsOf({ PUBLIC_URL: value }).map((p) => p.variable)).toEqual(["PUBLIC_URL"]);
    }
  });

  it("reads TRUST_PROXY as a switch, a hop count or a list of proxies", () => {
    expect(loadConfig({ TRUST_PROXY: "on" }).trustProxy).toBe(true);
    expect(loadConfig({ TRUST_PROXY: "0" }).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: "2" }).trustProxy).toBe(2);
    expect(loadConfig({ TRUST_PROXY: "loopback, 10.0.0.0/8, fd00::/8" }).trustProxy).toEqual([
      "loopback",
      "10.0.0.0/8",
      "fd00::/8",
    ]);
    for (const value of ["maybe", "10.0.0.0/33", "10.0.0.1, example.com"]) {
      expect(problemsOf({ TRUST_PROXY: value }).map((p) => p.variable)).toEqual(["TRUST_PROXY"]);
    }
  });

  it("puts metrics on a port of their own: 9464 by default, a free one when PORT=0 or under test, or none", () => {
    expect(loadConfig({}).metricsPort).toBe(9464);
    expect(loadConfig({ PORT: "0" }).metricsPort).toBe(0);
    expect(loadConfig({ NODE_ENV: "test", PORT: "4000" }).metricsPort).toBe(0);
    expect(loadConfig({ PORT: "0", METRICS_PORT: "9100" }).metricsPort).toBe(9100);
    expect(loadConfig({ METRICS_PORT: "off" }).metricsPort).toBeNull();
    expect(problemsOf({ METRICS_PORT: "70000" }).map((p) => p.variable)).toEqual(["METRICS_PORT"]);
    const short = "tooshort";
    const problems = problemsOf({ METRICS_TOKEN: short });
    expect(problems.map((p) => p.variable)).toEqual(["METRICS_TOKEN"]);
    expect(JSON.stringify(problems)).not.toContain(short);
  });

  it("refuses limits of zero or of the wrong shape", () => {
    const problems = problemsOf({
      SIGNUP_RATE_LIMIT: "0/1h",
      LOGIN_ADDRESS_RATE_LIMIT: "lots",
      SOCKET_CONNECT_RATE_LIMIT: "5",
      SESSION_RATE_LIMIT: "5/0s",
      INVITATION_RATE_LIMIT: "-1/1h",
      SOCKETS_PER_ACCOUNT: "0",
      OPEN_INVITATIONS_PER_SESSION: "many",
    });
    expect(problems.map((p) => p.variable).sort()).toEqual(
      [
        "INVITATION_RATE_LIMIT",
        "LOGIN_ADDRESS_RATE_LIMIT",
        "OPEN_INVITATIONS_PER_SESSION",
        "SESSION_RATE_LIMIT",
        "SIGNUP_RATE_LIMIT",
        "SOCKETS_PER_ACCOUNT",
        "SOCKET_CONNECT_RATE_LIMIT",
      ].sort(),
    );
  });

  it("documents every variable it reads", async () => {
    const { readFile } = await import("node:fs/promises");
    const doc = await readFile(new URL("../../docs/configuration.md", import.meta.url), "utf8");
    for (const name of [...CONFIG_VARIABLES, "CI", "REQUIRE_SERVICES", "REQUIRE_BROWSER", "CHROMIUM_PATH"]) {
      expect(doc, `docs/configuration.md should describe ${name}`).toContain(`\`${name}\``);
    }
  });
});
