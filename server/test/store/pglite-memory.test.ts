// The embedded database's memory at idle (pglite-durable.ts): a buffer pool that fits in PGlite's initial
// WASM memory, and a new data dir made by initdb in a child process, whose memory goes with it.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { PGlite } from "@electric-sql/pglite";
import { afterAll, describe, expect, it } from "vitest";
import { openDurablePglite, SHARED_BUFFERS } from "../../src/store/pglite-durable";
import { leftToNewcomerPass } from "../support/db";

/** Needs no service: .ci/run's first pass leaves it to the newcomer pass (support/db.ts). */
const elsewhere = leftToNewcomerPass("PGlite's memory (embedded only)");

const MiB = 2 ** 20;

// Creating a data dir runs initdb in a child process: seconds alone, far more on two cores shared with .ci/run's other
// pass. A memory test, not a timing one: the limit only catches a hang.
describe.skipIf(elsewhere)("PGlite on a data dir: memory", { timeout: 120_000 }, () => {
  const root = mkdtempSync(path.join(tmpdir(), "bc-pglite-memory-"));
  const dataDir = path.join(root, "pglite");
  let pglite: PGlite | undefined;

  afterAll(async () => {
    await pglite?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it("creates a new data dir without keeping initdb's memory, and runs with the small buffer pool", async () => {
    const external = process.memoryUsage().external;
    pglite = await openDurablePglite(dataDir);
    expect(existsSync(path.join(dataDir, "PG_VERSION"))).toBe(true);
    // initdb run in this process leaves ~570 MiB of WASM memory and heap copies reachable while the
    // instance is open; run in the child, only this instance's own 128 MiB (and its file bundle) remain.
    expect((process.memoryUsage().external - external) / MiB).toBeLessThan(256);

    const shown = await pglite.query<{ shared_buffers: string }>("SHOW shared_buffers");
    expect(shown.rows[0]?.shared_buffers).toBe(SHARED_BUFFERS);
    // The pool fits in the initial WASM memory (128 MiB), which postgres's default 128MB outgrew (189 MiB).
    await pglite.query("SELECT count(*) FROM pg_class");
    expect(pglite.Module.HEAPU8.byteLength).toBeLessThanOrEqual(128 * MiB);
  });

  it("reopens the data dir it made", async () => {
    await pglite?.query("CREATE TABLE kept (n int)");
    await pglite?.query("INSERT INTO kept VALUES (1)");
    await pglite?.close();
    pglite = await openDurablePglite(dataDir);
    expect((await pglite.query<{ n: number }>("SELECT n FROM kept")).rows).toEqual([{ n: 1 }]);
  });
});
