// The leak scan's matcher finds an amount in every form the scan claims to cover, and nothing in look-alikes; the
// MONITOR unescaping gives back the bytes Redis received. (The scan over a real run is in two-nodes.test.ts.)
import { describe, expect, it } from "vitest";
import { AmountMatcher, unescapeMonitor } from "./leak-scan";

const matcher = new AmountMatcher([{ cents: 41_234_567, distinctive: true }, { cents: 1_000_003 }]);
const forms = (text: string | Buffer) => matcher.scan("test", text).map((h) => h.form);

/** What MONITOR prints for `bytes` (sdscatrepr). */
function monitorRepr(bytes: Buffer): string {
  let out = "";
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    if (c === "\\" || c === '"') out += `\\${c}`;
    else if (c === "\n") out += "\\n";
    else if (b >= 0x20 && b < 0x7f) out += c;
    else out += `\\x${b.toString(16).padStart(2, "0")}`;
  }
  return out;
}

describe("the leak scan's matcher", () => {
  it("finds the cents, the dollars with and without grouping, and (when distinctive) the whole dollars", () => {
    expect(forms('{"amount":41234567}')).toEqual(['cents "41234567"']);
    expect(forms("demand 412,345.67 USD")).toEqual(['dollars "412,345.67"']);
    expect(forms("x=412345.67")).toEqual(['dollars "412345.67"']);
    expect(forms("about $412,345 now")).toEqual(['whole dollars "412,345"']);
    expect(forms("[41234567,17]")).toEqual(['cents "41234567"']);
    expect(forms("[17,41234567]")).toEqual(['cents "41234567"']);
    expect(forms('"10,000.03"')).toEqual(['dollars "10,000.03"']);
    expect(forms("n=1000003;")).toEqual(['cents "1000003"']);
  });

  it("does not take look-alikes for amounts", () => {
    expect(forms("id a41234567f, 141234567, 41234567.5, 1796133127.41234567, v1.41234567")).toEqual([]);
    // Whole dollars of an amount not marked distinctive are ambiguous: not looked for.
    expect(forms("10000 ms")).toEqual([]);
  });

  it("finds the MessagePack encodings the Socket.IO Redis adapter would publish", () => {
    const u32 = Buffer.from([0x81, 0xa6, ...Buffer.from("amount"), 0xce, 0x02, 0x75, 0x30, 0x87]);
    expect(u32.readUInt32BE(u32.length - 4)).toBe(41_234_567);
    expect(forms(u32)).toEqual(["msgpack uint32"]);
    const f64 = Buffer.alloc(9);
    f64[0] = 0xcb;
    f64.writeDoubleBE(412_345.67, 1);
    expect(forms(f64)).toEqual(["msgpack float64 (dollars)"]);
    // ...also once printed by MONITOR and read back.
    const line = `+1796133127.123456 [0 127.0.0.1:5555] "PUBLISH" "bc-io#/#" "${monitorRepr(u32)}"`;
    expect(line).toContain("\\xce\\x02u0\\x87");
    expect(forms(unescapeMonitor(line))).toEqual(["msgpack uint32"]);
    expect(forms(line)).toEqual([]); // the escaped text alone would hide it
  });
});
