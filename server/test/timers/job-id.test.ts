import { describe, expect, it } from "vitest";
import { jobId } from "../../src/timers/scheduler";

describe("jobId", () => {
  it("has no ':' even when the ids do, and is not a bare integer", () => {
    const id = jobId("tenant:42:session", "proposal-a:b-expiry", 1_700_000_000_000);
    expect(id).not.toContain(":");
    expect(`${Number.parseInt(id, 10)}`).not.toBe(id);
    expect(jobId("1", "2", 3)).not.toMatch(/^\d+$/);
  });

  it("is deterministic and includes the due time", () => {
    expect(jobId("s1", "step2-close", 1000)).toBe(jobId("s1", "step2-close", 1000));
    expect(jobId("s1", "step2-close", 1000)).not.toBe(jobId("s1", "step2-close", 1001));
    expect(jobId("s1", "step2-close", 1000)).toBe("dl.s1.step2-close.1000");
  });

  it("never maps two different (sessionId, key) pairs to one id", () => {
    const pairs: Array<[string, string]> = [
      ["a.b", "c"],
      ["a", "b.c"],
      ["a-b", "c"],
      ["a", "b-c"],
      ["a%2Eb", "c"],
      ["a:b", "c"],
      ["a", "b:c"],
      ["a b", "c"],
    ];
    const ids = pairs.map(([s, k]) => jobId(s, k, 5));
    expect(new Set(ids).size).toBe(pairs.length);
    for (const id of ids) expect(id.split(".")).toHaveLength(4);
  });

  it("refuses empty ids and non-integer times", () => {
    expect(() => jobId("", "k", 1)).toThrow(TypeError);
    expect(() => jobId("s", "", 1)).toThrow(TypeError);
    expect(() => jobId("s", "k", 1.5)).toThrow(TypeError);
    expect(() => jobId("s", "k", Number.POSITIVE_INFINITY)).toThrow(TypeError);
    expect(() => jobId("s", "k", -1)).toThrow(TypeError);
  });
});
