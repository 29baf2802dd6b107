import { describe, expect, it } from "vitest";
import { CanonicalJsonError, canonicalJson } from "../../src/store/canonical-json";

describe("canonicalJson", () => {
  it("sorts keys recursively and emits no whitespace", () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: "x" } })).toBe(
      '{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}',
    );
  });

  it("gives the same text whatever order the keys were built in", () => {
    const one = { sessionId: "s", version: 2, payload: { side: "claimant", note: "ok" } };
    const two = { payload: { note: "ok", side: "claimant" }, version: 2, sessionId: "s" };
    expect(canonicalJson(one)).toBe(canonicalJson(two));
  });

  it("matches JSON.stringify for primitives, nulls and escapes", () => {
    for (const v of [null, true, false, 0, -1.5, 1e21, 'quote" backslash\\ line\n é \u2028']) {
      expect(canonicalJson(v)).toBe(JSON.stringify(v));
    }
  });

  it("drops undefined members like JSON and honours toJSON", () => {
    expect(canonicalJson({ a: undefined, b: [undefined], c: new Date(0) })).toBe(
      '{"b":[null],"c":"1970-01-01T00:00:00.000Z"}',
    );
  });

  it("refuses values that would not survive a JSON round trip", () => {
    expect(() => canonicalJson({ n: Number.NaN })).toThrow(CanonicalJsonError);
    expect(() => canonicalJson({ n: Number.POSITIVE_INFINITY })).toThrow(/non-finite/);
    expect(() => canonicalJson({ n: 10n })).toThrow(/bigint/);
    expect(() => canonicalJson({ m: new Map() })).toThrow(/plain objects/);
    expect(() => canonicalJson(undefined)).toThrow(CanonicalJsonError);
  });

  it("names where in the value it refused", () => {
    expect(() => canonicalJson({ a: [1, { b: Number.NaN }] })).toThrow("$.a[1].b: non-finite number");
    expect(() => canonicalJson({ z: 1, a: { m: new Map() } })).toThrow("$.a.m: only plain objects");
    expect(() => canonicalJson([0n])).toThrow("$[0]: bigint");
  });
});
