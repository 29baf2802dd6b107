// Starts the embedded database's thread from the TypeScript sources (tests, `npm run dev`): a worker thread does not
// inherit its parent's TypeScript loader, so it registers tsx, then loads pglite-worker.ts. The built server starts
// dist/pglite-worker.mjs instead (pglite-thread.ts picks).
import { workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
await import(workerData.entry);
