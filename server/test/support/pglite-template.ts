// Vitest globalSetup for the server's tests: a folder for this run's PGlite template (see pgliteTemplate in
// server.ts), removed when the run ends, so no run reuses another's.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    pgliteTemplateRoot: string;
  }
}

export default function setup(project: TestProject): () => void {
  const root = mkdtempSync(path.join(tmpdir(), "bc-pglite-template-"));
  project.provide("pgliteTemplateRoot", root);
  return () => rmSync(root, { recursive: true, force: true });
}
