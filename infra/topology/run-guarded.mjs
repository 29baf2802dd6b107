// `node run-guarded.mjs <command> [args...]`: runs a program that knows nothing of its parent (nginx) and stops it
// when the topology's owner dies without stopping it. The owner starts this wrapper in a process group of its own
// and signals the whole group (wrapper, nginx master and workers) to stop it; this wrapper only covers the case
// where nobody is left to do that.
import { spawn } from "node:child_process";

const [command, ...args] = process.argv.slice(2);
if (!command) {
  console.error("usage: node run-guarded.mjs <command> [args...]");
  process.exit(2);
}
const parent = process.ppid;
const child = spawn(command, args, { stdio: "inherit" });
child.on("error", (err) => {
  console.error(`run-guarded: cannot start ${command}: ${err.message}`);
  process.exit(127);
});
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
// A group signal reaches the child too: wait for it to exit rather than dying first.
for (const signal of ["SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP"]) process.on(signal, () => {});
let orphaned = false;
setInterval(() => {
  if (orphaned || process.ppid === parent) return;
  orphaned = true;
  child.kill("SIGTERM");
  setTimeout(() => child.kill("SIGKILL"), 5000).unref();
}, 500).unref();
