// Process entry point: `npm start` (role from ROLE: all | web | worker).
import { loadConfig } from "./config";
import { createLogger } from "./log";
import { DEFAULT_CLIENT_DIST, startServer } from "./server";

const config = loadConfig(process.env);
config.clientDist ??= DEFAULT_CLIENT_DIST;
const log = createLogger({ level: config.logLevel, name: "backchannel" });

const running = await startServer(config, { log }).catch((err: unknown) => {
  log.fatal({ err: err instanceof Error ? err.message : String(err) }, "could not start");
  process.exit(1);
});
console.log(`Backchannel is running at ${running.url}`);

let stopping = false;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    const force = setTimeout(() => process.exit(1), 15_000);
    force.unref();
    running.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
