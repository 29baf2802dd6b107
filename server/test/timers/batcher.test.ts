// The batcher behind the worker's deadline handler: firings of the same moment go to one pass, each firing answers
// with its own session's outcome, and a session is never in two passes at once.
import { describe, expect, it } from "vitest";
import { createBatcher } from "../../src/timers/batcher";

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe("deadline batcher", () => {
  it("hands firings of the same moment to one pass, and each resolves", async () => {
    const passes: string[][] = [];
    const b = createBatcher(async (ids) => {
      passes.push(ids);
      return new Map();
    });
    await Promise.all(["a", "b", "c", "a"].map((id) => b.submit(id)));
    expect(passes).toEqual([["a", "b", "c"]]);
  });

  it("rejects only the firings of a session that failed, with its own error", async () => {
    const boom = new Error("b failed");
    const b = createBatcher(async () => new Map([["b", boom]]));
    const results = await Promise.allSettled(["a", "b", "c"].map((id) => b.submit(id)));
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect((results[1] as PromiseRejectedResult).reason).toBe(boom);
  });

  it("a pass that throws rejects every firing it held", async () => {
    const b = createBatcher(async () => {
      throw new Error("database gone");
    });
    const results = await Promise.allSettled(["a", "b"].map((id) => b.submit(id)));
    expect(results.every((r) => r.status === "rejected")).toBe(true);
  });

  it("never runs passes at once: a session submitted during a pass waits for the next", async () => {
    let running = 0;
    let maxRunning = 0;
    const passes: string[][] = [];
    const b = createBatcher(async (ids) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      passes.push(ids);
      await sleep(30);
      running--;
      return new Map();
    });
    const first = b.submit("a");
    await sleep(10); // the first pass is running
    const second = Promise.all([b.submit("a"), b.submit("b")]);
    await Promise.all([first, second]);
    await b.idle();
    expect(maxRunning).toBe(1);
    expect(passes).toEqual([["a"], ["a", "b"]]);
  });

  it("splits a large burst into passes of maxBatch, earliest first", async () => {
    const passes: string[][] = [];
    const b = createBatcher(
      async (ids) => {
        passes.push(ids);
        return new Map();
      },
      { maxBatch: 2 },
    );
    await Promise.all(["a", "b", "c", "d", "e"].map((id) => b.submit(id)));
    expect(passes).toEqual([["a", "b"], ["c", "d"], ["e"]]);
  });
});
