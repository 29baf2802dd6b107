// Preloaded into every server process the topology starts (`node --import tsx --import <this> src/main.ts`):
// when the process that started it dies without stopping it (a crashed test, a `kill -9` of the CLI), the node is
// re-parented, and this notices and stops it the way SIGTERM does (graceful shutdown, forced after 15 s by main.ts).
const parent = process.ppid;
const timer = setInterval(() => {
  if (process.ppid === parent) return;
  clearInterval(timer);
  process.kill(process.pid, "SIGTERM");
}, 500);
timer.unref();
