// Canonical JSON: object keys sorted recursively (by UTF-16 code units), no whitespace.
// Hashes in the audit chain are computed over this form, so two encoders (the server and an
// offline verifier) agree byte for byte on the same value, whatever order its keys were built in.

export class CanonicalJsonError extends Error {
  override name = "CanonicalJsonError";
}

export function canonicalJson(value: unknown): string {
  let out: string | undefined;
  try {
    // First without tracking the path (no string built per member: this runs some ten times per event appended)...
    out = encode(value, null);
  } catch (err) {
    if (!(err instanceof Refused)) throw err;
    // ...and again, tracking it, only to name where the refused value sits.
    out = encode(value, "$");
  }
  if (out === undefined) throw new CanonicalJsonError("$: undefined has no JSON form");
  return out;
}

/** What encode throws in place of a CanonicalJsonError when it tracks no path. */
class Refused extends Error {}

function refuse(path: string | null, why: string): never {
  throw path === null ? new Refused() : new CanonicalJsonError(`${path}: ${why}`);
}

// Mirrors JSON.stringify (undefined object members are dropped, toJSON is honoured) but refuses
// values that would not survive a round trip through JSON / jsonb unchanged, so a digest computed
// before a row is stored still matches the row read back.
function encode(value: unknown, path: string | null): string | undefined {
  if (value === null) return "null";
  if (typeof value === "object" && typeof (value as { toJSON?: unknown }).toJSON === "function") {
    return encode((value as { toJSON: () => unknown }).toJSON(), path);
  }
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isFinite(value)) refuse(path, "non-finite number");
      return JSON.stringify(value);
    case "undefined":
    case "function":
    case "symbol":
      return undefined;
    case "bigint":
      return refuse(path, "bigint has no JSON form");
    case "object":
      break;
  }
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++)
      out += `${i > 0 ? "," : ""}${encode(value[i], path === null ? null : `${path}[${i}]`) ?? "null"}`;
    return `${out}]`;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    refuse(path, "only plain objects, arrays and primitives are allowed");
  }
  const record = value as Record<string, unknown>;
  let out = "{";
  let first = true;
  for (const key of Object.keys(record).sort()) {
    const encoded = encode(record[key], path === null ? null : `${path}.${key}`);
    if (encoded === undefined) continue;
    out += `${first ? "" : ","}${JSON.stringify(key)}:${encoded}`;
    first = false;
  }
  return `${out}}`;
}
