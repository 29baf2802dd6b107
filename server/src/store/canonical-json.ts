// Canonical JSON: object keys sorted recursively (by UTF-16 code units), no whitespace.
// Hashes in the audit chain are computed over this form, so two encoders (the server and an
// offline verifier) agree byte for byte on the same value, whatever order its keys were built in.

export class CanonicalJsonError extends Error {
  override name = "CanonicalJsonError";
}

export function canonicalJson(value: unknown): string {
  const out = encode(value, "$");
  if (out === undefined) throw new CanonicalJsonError("$: undefined has no JSON form");
  return out;
}

// Mirrors JSON.stringify (undefined object members are dropped, toJSON is honoured) but refuses
// values that would not survive a round trip through JSON / jsonb unchanged, so a digest computed
// before a row is stored still matches the row read back.
function encode(value: unknown, path: string): string | undefined {
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
      if (!Number.isFinite(value)) throw new CanonicalJsonError(`${path}: non-finite number`);
      return JSON.stringify(value);
    case "undefined":
    case "function":
    case "symbol":
      return undefined;
    case "bigint":
      throw new CanonicalJsonError(`${path}: bigint has no JSON form`);
    case "object":
      break;
  }
  if (Array.isArray(value)) {
    return `[${value.map((item, i) => encode(item, `${path}[${i}]`) ?? "null").join(",")}]`;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    throw new CanonicalJsonError(`${path}: only plain objects, arrays and primitives are allowed`);
  }
  const record = value as Record<string, unknown>;
  const parts: string[] = [];
  for (const key of Object.keys(record).sort()) {
    const encoded = encode(record[key], `${path}.${key}`);
    if (encoded !== undefined) parts.push(`${JSON.stringify(key)}:${encoded}`);
  }
  return `{${parts.join(",")}}`;
}
