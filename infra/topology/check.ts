// Checks the Docker deployment's configuration without a Docker engine (`npm run topology --workspace infra --
// --check`): infra/nginx.conf through `nginx -t`, infra/redis.conf by starting a throwaway redis-server on it, and
// infra/docker-compose.yml parsed as YAML and held against both (service names, ports, mounts, variables).
// docs/operations.md, "Running the production topology on one machine", says what each check can and cannot see.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { CONFIG_VARIABLES } from "../../server/src/config";
import { findNginx } from "./proxy";

export const INFRA_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export interface CheckResult {
  name: string;
  /** skipped: the tool it needs is not installed */
  status: "ok" | "failed" | "skipped";
  detail: string;
}

type Yaml = Record<string, unknown>;

interface ComposeService {
  image?: string;
  command?: string[] | string;
  environment?: Record<string, string | number | boolean | null>;
  volumes?: string[];
  ports?: string[];
  healthcheck?: { test?: string[] | string };
}

/** The redis.conf values the deadlines rely on (docs/operations.md, "Production"). */
const REDIS_EXPECTED: Record<string, string> = {
  hz: "100",
  "maxmemory-policy": "noeviction",
  appendonly: "yes",
  appendfsync: "everysec",
};

export async function checkConfigs(infraDir = INFRA_DIR): Promise<CheckResult[]> {
  const work = mkdtempSync(path.join(tmpdir(), "bc-config-check-"));
  try {
    const compose = parseCompose(path.join(infraDir, "docker-compose.yml"));
    const results: CheckResult[] = [compose.result];
    if (compose.services) results.push(...checkCompose(compose.services));
    results.push(...checkNginx(path.join(infraDir, "nginx.conf"), compose.services, work));
    results.push(await checkRedis(path.join(infraDir, "redis.conf"), work));
    return results;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- docker-compose.yml

/** Parsed by PyYAML (python3-yaml, installed on these machines): no YAML parser is among the project's packages. */
function parseCompose(file: string): { result: CheckResult; services?: Record<string, ComposeService> } {
  const name = "docker-compose.yml parses";
  const run = spawnSync(
    "python3",
    ["-c", "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))", file],
    { encoding: "utf8", timeout: 20_000 },
  );
  if (run.error || (run.status !== 0 && /No module named/.test(run.stderr))) {
    return {
      result: {
        name,
        status: "skipped",
        detail: "no YAML parser: needs python3 with PyYAML (apt-get install -y python3-yaml)",
      },
    };
  }
  if (run.status !== 0) return { result: { name, status: "failed", detail: run.stderr.trim() } };
  const doc = JSON.parse(run.stdout) as Yaml;
  const services = doc.services as Record<string, ComposeService> | undefined;
  if (!services || typeof services !== "object")
    return { result: { name, status: "failed", detail: "no services: section" } };
  return {
    result: {
      name,
      status: "ok",
      detail: `services: ${Object.keys(services).join(", ")} (anchors and << merged)`,
    },
    services,
  };
}

function roleOf(s: ComposeService): string | undefined {
  const role = s.environment?.ROLE;
  return role === undefined || role === null ? undefined : String(role);
}

function webServices(services: Record<string, ComposeService>): string[] {
  return Object.keys(services).filter((n) => roleOf(services[n] as ComposeService) === "web");
}

function checkCompose(services: Record<string, ComposeService>): CheckResult[] {
  const problems: string[] = [];
  for (const required of ["postgres", "redis", "nginx"]) {
    if (!services[required]) problems.push(`no "${required}" service`);
  }
  const webs = webServices(services);
  const workers = Object.keys(services).filter((n) => roleOf(services[n] as ComposeService) === "worker");
  if (webs.length < 2)
    problems.push(`expected two or more ROLE=web services, found ${webs.join(", ") || "none"}`);
  if (workers.length < 1) problems.push("no ROLE=worker service");

  const known = new Set<string>(CONFIG_VARIABLES);
  for (const name of [...webs, ...workers]) {
    const s = services[name] as ComposeService;
    const env = s.environment ?? {};
    const unknown = Object.keys(env).filter((v) => !known.has(v));
    if (unknown.length > 0)
      problems.push(`${name}: variables the server does not read: ${unknown.join(", ")}`);
    const database = String(env.DATABASE_URL ?? "");
    const dbHost = /@([A-Za-z0-9_.-]+)(?::\d+)?\//.exec(database)?.[1];
    if (!dbHost || !services[dbHost])
      problems.push(`${name}: DATABASE_URL names host "${dbHost}", not a service`);
    const redisHost = /^rediss?:\/\/(?:[^@/]*@)?([A-Za-z0-9_.-]+)/.exec(String(env.REDIS_URL ?? ""))?.[1];
    if (!redisHost || !services[redisHost])
      problems.push(`${name}: REDIS_URL names host "${redisHost}", not a service`);
    for (const secret of ["MASTER_KEY", "JWT_SECRET", "AUDIT_SIGNING_KEY"]) {
      if (!env[secret]) problems.push(`${name}: no ${secret} (every node needs the same one)`);
    }
    const health = JSON.stringify(s.healthcheck?.test ?? "");
    if (!health.includes(`:${env.PORT}/readyz`))
      problems.push(`${name}: healthcheck does not ask /readyz on PORT`);
  }
  // Every node the same configuration but its ROLE.
  const envs = [...webs, ...workers].map((n) => {
    const { ROLE: _role, ...rest } = (services[n] as ComposeService).environment ?? {};
    return JSON.stringify(rest, Object.keys(rest).sort());
  });
  if (new Set(envs).size > 1) problems.push("the nodes' environments differ beyond ROLE");

  const redis = services.redis;
  if (redis) {
    const mount = (redis.volumes ?? []).find((v) => v.startsWith("./redis.conf:"));
    const target = mount?.split(":")[1];
    const command = Array.isArray(redis.command) ? redis.command.join(" ") : String(redis.command ?? "");
    if (!target) problems.push("redis: ./redis.conf is not mounted");
    else if (!command.includes(target)) problems.push(`redis: command does not start on ${target}`);
  }
  return [
    {
      name: "docker-compose.yml services",
      status: problems.length > 0 ? "failed" : "ok",
      detail:
        problems.length > 0
          ? problems.join("; ")
          : `web: ${webs.join(", ")}; worker: ${workers.join(", ")}; storage hosts and mounts match`,
    },
  ];
}

// ---------------------------------------------------------------- nginx.conf

/**
 * `nginx -t` on a copy whose upstream hosts (compose service names, which resolve only inside the compose network)
 * are replaced by 127.0.0.1, with the prefix, pid and error log in a temporary folder. nginx resolves upstream names
 * when it loads its configuration, so without that it fails with "host not found in upstream".
 */
function checkNginx(
  file: string,
  services: Record<string, ComposeService> | undefined,
  work: string,
): CheckResult[] {
  const text = readFileSync(file, "utf8");
  const results: CheckResult[] = [];
  const upstreamHosts = [...text.matchAll(/^\s*server\s+([A-Za-z0-9_.-]+):(\d+)\s*;/gm)].map((m) => ({
    host: m[1] as string,
    port: m[2] as string,
  }));

  const problems: string[] = [];
  if (!/^\s*(ip_hash|hash\s|sticky\s)/m.test(text))
    problems.push("no sticky upstream (ip_hash, hash or sticky)");
  if (!/proxy_set_header\s+Upgrade\s+\$http_upgrade/.test(text))
    problems.push("WebSocket Upgrade not forwarded");
  if (!/proxy_set_header\s+Connection\s+\$connection_upgrade/.test(text))
    problems.push("Connection header not set from $connection_upgrade");
  if (!/proxy_http_version\s+1\.1/.test(text))
    problems.push("proxy_http_version is not 1.1 (WebSockets need it)");
  if (!/location\s*=\s*\/metrics\s*\{[^}]*return\s+404/.test(text)) problems.push("/metrics not blocked");
  const readTimeout = /proxy_read_timeout\s+(\d+)s/.exec(text)?.[1];
  if (!readTimeout || Number(readTimeout) < 45)
    problems.push(`proxy_read_timeout ${readTimeout ?? "default 60"}s: need an explicit 45 s or more`);
  if (services) {
    const webs = webServices(services);
    const named = upstreamHosts.map((u) => u.host).sort();
    if (JSON.stringify(named) !== JSON.stringify([...webs].sort()))
      problems.push(
        `upstream servers ${named.join(", ")} are not the compose web services ${webs.join(", ")}`,
      );
    for (const u of upstreamHosts) {
      const port = String(services[u.host]?.environment?.PORT ?? "");
      if (port && port !== u.port)
        problems.push(`upstream ${u.host}:${u.port}, but ${u.host} has PORT=${port}`);
    }
    const listen = /^\s*listen\s+(?:[\d.]+:)?(\d+)/m.exec(text)?.[1];
    const published = (services.nginx?.ports ?? []).map((p) => String(p).split(":").pop());
    if (!listen || !published.includes(listen))
      problems.push(`nginx listens on ${listen}, compose publishes ${published.join(", ") || "nothing"}`);
    const mounted = (services.nginx?.volumes ?? []).some((v) =>
      v.startsWith("./nginx.conf:/etc/nginx/nginx.conf"),
    );
    if (!mounted) problems.push("compose does not mount ./nginx.conf as /etc/nginx/nginx.conf");
  }
  results.push({
    name: "nginx.conf content",
    status: problems.length > 0 ? "failed" : "ok",
    detail:
      problems.length > 0
        ? problems.join("; ")
        : `sticky upstream ${upstreamHosts.map((u) => `${u.host}:${u.port}`).join(", ")}, upgrades forwarded, /metrics blocked`,
  });

  const nginx = findNginx();
  if (!nginx) {
    results.push({
      name: "nginx -t",
      status: "skipped",
      detail: "nginx is not installed (apt-get install -y nginx-light)",
    });
    return results;
  }
  const prefix = path.join(work, "nginx");
  mkdirSync(path.join(prefix, "logs"), { recursive: true });
  const copy = path.join(prefix, "nginx.conf");
  writeFileSync(copy, text.replace(/^(\s*server\s+)[A-Za-z0-9_.-]+(:\d+\s*;)/gm, "$1127.0.0.1$2"));
  const run = spawnSync(
    nginx,
    [
      "-t",
      "-p",
      prefix,
      "-e",
      path.join(prefix, "logs/error.log"),
      "-c",
      copy,
      "-g",
      `pid ${prefix}/nginx.pid;`,
    ],
    { encoding: "utf8", timeout: 20_000 },
  );
  const output = `${run.stdout}${run.stderr}`.trim();
  results.push({
    name: "nginx -t",
    status: run.status === 0 ? "ok" : "failed",
    detail: `${output.split("\n").pop() ?? ""} (upstream hosts ${upstreamHosts.map((u) => u.host).join(", ")} tested as 127.0.0.1)${run.status === 0 ? "" : `\n${output}`}`,
  });
  return results;
}

// ---------------------------------------------------------------- redis.conf

/**
 * Redis has no "check this file" flag: it parses its configuration as it starts and stops with "FATAL CONFIG FILE
 * ERROR" on any bad line. So start it on the file, with what would touch the machine overridden (no TCP port, a
 * socket and data folder in a temporary directory, no daemon), read back the values the deadlines rely on, and
 * shut it down.
 */
async function checkRedis(file: string, work: string): Promise<CheckResult> {
  const name = "redis.conf";
  const bin = spawnSync("redis-server", ["--version"], { encoding: "utf8" });
  if (bin.error) return { name, status: "skipped", detail: "redis-server is not installed" };
  const dir = path.join(work, "redis");
  mkdirSync(dir, { recursive: true });
  const socket = path.join(dir, "redis.sock");
  let output = "";
  const child: ChildProcess = spawn(
    "redis-server",
    [file, "--port", "0", "--unixsocket", socket, "--dir", dir, "--daemonize", "no", "--logfile", ""],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  child.stdout?.on("data", (d) => {
    output += d;
  });
  child.stderr?.on("data", (d) => {
    output += d;
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  let done = false;
  void exited.then(() => {
    done = true;
  });
  try {
    const deadline = Date.now() + 10_000;
    while (!existsSync(socket)) {
      if (done) return { name, status: "failed", detail: output.trim() || "redis-server exited" };
      if (Date.now() > deadline)
        return { name, status: "failed", detail: `redis-server did not start:\n${output}` };
      await new Promise((r) => setTimeout(r, 50));
    }
    const redis = new Redis({ path: socket, maxRetriesPerRequest: 1, retryStrategy: () => null });
    redis.on("error", () => {});
    try {
      const wrong: string[] = [];
      for (const [key, want] of Object.entries(REDIS_EXPECTED)) {
        const [, got] = (await redis.config("GET", key)) as [string, string];
        if (got !== want) wrong.push(`${key} is ${got}, expected ${want}`);
      }
      await redis.call("SHUTDOWN", "NOSAVE").catch(() => {});
      return wrong.length > 0
        ? { name, status: "failed", detail: wrong.join("; ") }
        : {
            name,
            status: "ok",
            detail: `redis-server ${/v=([\d.]+)/.exec(bin.stdout)?.[1] ?? ""} loaded it (port and dir overridden); ${Object.entries(
              REDIS_EXPECTED,
            )
              .map(([k, v]) => `${k} ${v}`)
              .join(", ")}`,
          };
    } finally {
      redis.disconnect();
    }
  } finally {
    if (!done) {
      child.kill("SIGKILL");
      await exited;
    }
  }
}

export function formatResults(results: CheckResult[]): string {
  const mark = { ok: "ok  ", failed: "FAIL", skipped: "skip" } as const;
  return results.map((r) => `${mark[r.status]}  ${r.name}: ${r.detail}`).join("\n");
}
