// Group commit's rules, on a fake batch runner: units that arrive together share a batch, a key never shares or
// overlaps batches, `alone` units get their own, deferred units come back first, and a batch that fails whole is
// retried unit by unit so only the bad unit fails.
import { describe, expect, it } from "vitest";
import { GroupCommit, type GroupUnit, type UnitOutcome } from "../../src/store/group-commit";

interface U extends GroupUnit {
  name: string;
  fail?: "refuse" | "throw";
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A runner that records its batches and answers each unit with its name (or refuses/throws as the unit asks). */
function recorder(opts: { delayMs?: number; deferAfter?: number } = {}) {
  const batches: string[][] = [];
  let running = 0;
  let maxRunning = 0;
  const run = async (units: readonly U[]): Promise<Array<UnitOutcome<string>>> => {
    running++;
    maxRunning = Math.max(maxRunning, running);
    batches.push(units.map((u) => u.name));
    try {
      if (opts.delayMs) await sleep(opts.delayMs);
      if (units.length > 1 && units.some((u) => u.fail === "throw")) throw new Error("batch rolled back");
      if (units[0]?.fail === "throw") throw new Error(`${units[0].name} broke`);
      return units.map((u, i) =>
        opts.deferAfter !== undefined && i >= opts.deferAfter
          ? { deferred: true }
          : u.fail === "refuse"
            ? { ok: false, error: new Error(`${u.name} refused`) }
            : { ok: true, value: u.name },
      );
    } finally {
      running--;
    }
  };
  return { run, batches, maxRunning: () => maxRunning };
}

describe("group commit", () => {
  it("gives units submitted together one batch, each answered with its own outcome", async () => {
    const r = recorder();
    const g = new GroupCommit<U, string>(r.run);
    const results = await Promise.allSettled([
      g.submit({ key: "a", name: "a1" }),
      g.submit({ key: "b", name: "b1", fail: "refuse" }),
      g.submit({ key: "c", name: "c1" }),
    ]);
    expect(r.batches).toEqual([["a1", "b1", "c1"]]);
    expect(results.map((x) => (x.status === "fulfilled" ? x.value : String(x.reason)))).toEqual([
      "a1",
      "Error: b1 refused",
      "c1",
    ]);
  });

  it("never puts one key in a batch twice, nor in two batches at once, and keeps its order", async () => {
    const r = recorder({ delayMs: 20 });
    const g = new GroupCommit<U, string>(r.run, { concurrency: 2 });
    const done = await Promise.all([
      g.submit({ key: "a", name: "a1" }),
      g.submit({ key: "a", name: "a2" }),
      g.submit({ key: "b", name: "b1" }),
      g.submit({ key: "a", name: "a3" }),
    ]);
    expect(done).toEqual(["a1", "a2", "b1", "a3"]);
    for (const batch of r.batches) expect(new Set(batch.map((n) => n[0])).size).toBe(batch.length);
    const order = r.batches.flat().filter((n) => n.startsWith("a"));
    expect(order).toEqual(["a1", "a2", "a3"]);
    // a2 could not start while a1's batch ran: three batches for key a, one after another.
    expect(r.batches.filter((b) => b.some((n) => n.startsWith("a")))).toHaveLength(3);
  });

  it("starts a lone unit at once and gathers what arrives meanwhile into the next batch", async () => {
    const r = recorder({ delayMs: 30 });
    const g = new GroupCommit<U, string>(r.run);
    const first = g.submit({ key: "a", name: "a1" });
    await sleep(5);
    const rest = Promise.all(["b", "c", "d"].map((k) => g.submit({ key: k, name: `${k}1` })));
    await Promise.all([first, rest]);
    expect(r.batches).toEqual([["a1"], ["b1", "c1", "d1"]]);
    expect(r.maxRunning()).toBe(1);
  });

  it("runs an `alone` unit in a batch of its own", async () => {
    const r = recorder();
    const g = new GroupCommit<U, string>(r.run);
    await Promise.all([
      g.submit({ key: "a", name: "a1" }),
      g.submit({ key: "b", name: "b1", alone: true }),
      g.submit({ key: "c", name: "c1" }),
    ]);
    expect(r.batches).toEqual([["a1", "c1"], ["b1"]]);
  });

  it("splits a burst into batches of maxBatch, earliest first", async () => {
    const r = recorder();
    const g = new GroupCommit<U, string>(r.run, { maxBatch: 2 });
    await Promise.all(["a", "b", "c", "d", "e"].map((k) => g.submit({ key: k, name: k })));
    expect(r.batches).toEqual([["a", "b"], ["c", "d"], ["e"]]);
  });

  it("starts one batch per turn of the event loop, so two batches' staging never holds the loop at once", async () => {
    // A batch stages its units before its first wait; two started in one turn would run back to back. Between them
    // the loop takes a turn: a callback queued behind the first batch's start runs before the second starts.
    const order: string[] = [];
    const g = new GroupCommit<U, string>(
      async (units) => {
        order.push(`batch ${units.map((u) => u.name).join(",")}`);
        await sleep(20);
        return units.map((u) => ({ ok: true, value: u.name }));
      },
      { maxBatch: 2, concurrency: 2 },
    );
    const all = Promise.all(["a", "b", "c", "d"].map((k) => g.submit({ key: k, name: k })));
    setImmediate(() => order.push("a turn of the loop"));
    await all;
    expect(order).toEqual(["batch a,b", "a turn of the loop", "batch c,d"]);
  });

  it("puts deferred units back at the front, ahead of later arrivals", async () => {
    const r = recorder({ deferAfter: 1 });
    const g = new GroupCommit<U, string>(r.run);
    const all = Promise.all(["a", "b", "c"].map((k) => g.submit({ key: k, name: k })));
    await all;
    expect(r.batches).toEqual([["a", "b", "c"], ["b", "c"], ["c"]]);
  });

  it("retries a failed batch unit by unit, so only the unit that breaks alone fails", async () => {
    const r = recorder();
    const g = new GroupCommit<U, string>(r.run);
    const results = await Promise.allSettled([
      g.submit({ key: "a", name: "a1" }),
      g.submit({ key: "b", name: "b1", fail: "throw" }),
      g.submit({ key: "c", name: "c1" }),
    ]);
    expect(r.batches).toEqual([["a1", "b1", "c1"], ["a1"], ["b1"], ["c1"]]);
    expect(results.map((x) => x.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(String((results[1] as PromiseRejectedResult).reason)).toBe("Error: b1 broke");
  });

  it("idle() resolves once nothing is queued or running", async () => {
    const r = recorder({ delayMs: 20 });
    const g = new GroupCommit<U, string>(r.run);
    const settled: string[] = [];
    for (const k of ["a", "b"]) void g.submit({ key: k, name: k }).then((v) => settled.push(v));
    void g.submit({ key: "a", name: "a2" }).then((v) => settled.push(v));
    await g.idle();
    expect(g.size).toBe(0);
    await sleep(0);
    expect(settled.sort()).toEqual(["a", "a2", "b"]);
  });
});
