// Starts a worker thread from the TypeScript sources (tests, `npm run dev`): a worker thread does not inherit its
// parent's TypeScript loader, so it registers tsx, then loads the entry (workerData.entry). The built server starts the
// bundled dist/<name>.mjs instead (threads.ts picks).
import { workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
await import(workerData.entry);
