// npm run topology --workspace infra -- [flags]   (or: npx tsx infra/topology/cli.ts [flags])
// Starts the production topology on this machine and keeps it up until Ctrl-C; or, with --check, checks the Docker
// deployment's configuration files. docs/operations.md, "Running the production topology on one machine".
import { parseArgs } from "node:util";
import { checkConfigs, formatResults } from "./check";
import { cleanStale, startTopology, type TopologyOptions } from "./start";

const USAGE = `usage: npm run topology --workspace infra -- [flags]

  --check              check infra/nginx.conf, infra/redis.conf and infra/docker-compose.yml, then exit
  --port <n>           the proxy's port (default: a free one)
  --web <n>            how many ROLE=web nodes (default 2)
  --proxy <kind>       auto (default: nginx when installed), nginx or node
  --database-url <url> PostgreSQL to create this run's database on (default: DATABASE_URL, else
                       postgres://postgres@127.0.0.1:5432/postgres)
  --redis-url <url>    Redis (default: REDIS_URL, else redis://127.0.0.1:6379)
  --log-level <level>  the nodes' LOG_LEVEL (default info); logs go to <temp dir>/<node>.log
  --clean-stale        drop what runs killed outright left (databases bc_topo_<pid>_* whose pid is gone from
                       this machine, their Redis keys and temp dirs), then exit
  --env KEY=VALUE      add to every node's environment (repeatable), e.g. --env LOG_LEVEL=debug
  --keep               keep the temp dir (logs, generated nginx.conf) after stopping
  --json               print the topology as JSON once it is up
`;

const { values } = parseArgs({
  options: {
    check: { type: "boolean" },
    "clean-stale": { type: "boolean" },
    port: { type: "string" },
    web: { type: "string" },
    proxy: { type: "string" },
    "database-url": { type: "string" },
    "redis-url": { type: "string" },
    "log-level": { type: "string" },
    env: { type: "string", multiple: true },
    keep: { type: "boolean" },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  },
});

if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

if (values.check) {
  const results = await checkConfigs();
  console.log(formatResults(results));
  const failed = results.filter((r) => r.status === "failed").length;
  const skipped = results.filter((r) => r.status === "skipped").length;
  console.log(`\n${failed} failed, ${skipped} skipped of ${results.length} checks`);
  process.exit(failed > 0 ? 1 : 0);
}

if (values["clean-stale"]) {
  const cleaned = await cleanStale({ databaseUrl: values["database-url"], redisUrl: values["redis-url"] });
  console.log(
    `dropped ${cleaned.databases.length} database(s)${cleaned.databases.length > 0 ? ` (${cleaned.databases.join(", ")})` : ""}, deleted ${cleaned.redisKeys} Redis key(s) and ${cleaned.dirs.length} temp dir(s)`,
  );
  process.exit(0);
}

const proxy = values.proxy ?? "auto";
if (!["auto", "nginx", "node"].includes(proxy)) {
  process.stderr.write(`--proxy must be auto, nginx or node\n\n${USAGE}`);
  process.exit(2);
}
const env: Record<string, string> = {};
for (const pair of values.env ?? []) {
  const at = pair.indexOf("=");
  if (at < 1) {
    process.stderr.write(`--env wants KEY=VALUE, got "${pair}"\n`);
    process.exit(2);
  }
  env[pair.slice(0, at)] = pair.slice(at + 1);
}
const options: TopologyOptions = {
  env,
  proxy: proxy as TopologyOptions["proxy"],
  proxyPort: values.port ? Number(values.port) : undefined,
  webNodes: values.web ? Number(values.web) : undefined,
  databaseUrl: values["database-url"],
  redisUrl: values["redis-url"],
  logLevel: values["log-level"],
  keepTemp: values.keep,
};

const started = Date.now();
const topology = await startTopology(options).catch((err: unknown) => {
  console.error(`could not start the topology: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
let stopping = false;
const stop = async (why: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`\n${why}: stopping...`);
  try {
    await topology.stop();
    console.log(
      `stopped; database ${topology.database.name} dropped, Redis keys ${topology.redis.prefix}* deleted${options.keepTemp ? `, logs kept in ${topology.tempDir}` : ""}`,
    );
    process.exit(0);
  } catch (err) {
    console.error(err);
    process.exit(1);
  }
};
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => void stop(signal));

if (values.json) {
  console.log(
    JSON.stringify({
      url: topology.url,
      proxy: topology.proxy,
      nodes: [...topology.nodes, topology.worker].map(
        ({ name, role, pid, port, url, metricsPort, logFile }) => ({
          name,
          role,
          pid,
          port,
          url,
          metricsPort,
          logFile,
        }),
      ),
      database: topology.database.name,
      redisPrefix: topology.redis.prefix,
      tempDir: topology.tempDir,
    }),
  );
} else {
  const rows = [...topology.nodes, topology.worker].map(
    (n) =>
      `  ${n.name.padEnd(7)} ROLE=${n.role.padEnd(6)} pid ${String(n.pid).padEnd(7)} ${n.url}  metrics :${n.metricsPort}  log ${n.logFile}`,
  );
  console.log(`Backchannel topology up in ${((Date.now() - started) / 1000).toFixed(1)} s: ${topology.url}
  proxy   ${topology.proxy.kind.padEnd(11)} pid ${String(topology.proxy.pid).padEnd(7)} ${topology.url}${topology.proxy.config ? `  config ${topology.proxy.config}` : ""}
${rows.join("\n")}
  database ${topology.database.name} on ${new URL(topology.database.url).host}, Redis prefix ${topology.redis.prefix}
Ctrl-C stops everything and cleans up.`);
}
