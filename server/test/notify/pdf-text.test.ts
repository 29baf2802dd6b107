// The tests' PDF text reader: it must read every stream, whatever bytes its compressed data ends with.
import { deflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { pdfText } from "./pdf-text";

const shown = (text: string) => `BT <${Buffer.from(text, "latin1").toString("hex")}> Tj ET`;

describe("pdfText", () => {
  it("reads a stream whose compressed data ends with a carriage return", () => {
    // One content stream in 256 compresses to data whose last byte is "\r": it must not be taken for the line end.
    let text = "";
    let data = Buffer.alloc(0);
    for (let i = 0; ; i++) {
      text = `$44,100.00 #${i}`;
      data = deflateSync(shown(text));
      if (data.at(-1) === 0x0d) break;
    }
    const pdf = Buffer.concat([
      Buffer.from("%PDF-1.7\n1 0 obj\n<< /Filter /FlateDecode >>\nstream\n", "latin1"),
      data,
      Buffer.from("\nendstream\nendobj\n%%EOF\n", "latin1"),
    ]);
    expect(pdfText(pdf)).toBe(text);
  });
});
