// Reads back the text of a PDF that pdf-lib wrote: each content stream inflated, each shown string (<hex> Tj) decoded.
// Enough for tests of our own documents (standard fonts, WinAnsi); not a general PDF text extractor.
import { inflateSync } from "node:zlib";

/** Every string a content stream shows (pdf-lib writes text as <hex> Tj), one shown string a line. */
export function pdfText(bytes: Uint8Array): string {
  const raw = Buffer.from(bytes).toString("latin1");
  const out: string[] = [];
  // The data runs to the "\n" before "endstream": a "\r" just before it may be the compressed data's own last byte
  // (1 stream in 256), and inflate ignores one that is not.
  const streams = /stream\r?\n([\s\S]*?)\nendstream/g;
  for (let m = streams.exec(raw); m; m = streams.exec(raw)) {
    const data = Buffer.from(m[1] as string, "latin1");
    let content: string;
    try {
      content = inflateSync(data).toString("latin1");
    } catch {
      content = data.toString("latin1");
    }
    for (const t of content.matchAll(/<([0-9A-Fa-f]*)>\s*Tj/g))
      out.push(Buffer.from(t[1] as string, "hex").toString("latin1"));
  }
  return out.join("\n");
}
