// The settlement summary as a PDF (GET /api/sessions/:id/settlement.pdf, and the attachment of a member's deal mail).
// It renders common's settlementSummary and nothing else, so it holds exactly what the web page and the mail say: no
// side's number, no proposal. Standard Helvetica fonts only (nothing to embed): they can encode WinAnsi characters
// only, so every other character is replaced by a safe spelling (fancy spaces by a space, accented letters by their
// base letter, an unencodable currency sign by the currency's code, anything else by "?"). Long lines wrap; the
// document flows onto as many pages as it needs, each with a footer.
import type { SettlementSummary } from "@backchannel/common";
import { PageSizes, PDFDocument, type PDFFont, type PDFPage, rgb, StandardFonts } from "pdf-lib";

export interface SettlementPdfOptions {
  /** A4 (the default) or US Letter */
  pageSize?: "A4" | "Letter";
  /** epoch ms: the document's creation date and the "made on" line */
  now?: number;
}

const MARGIN = 56;
const FOOTER_SPACE = 36;
const INK = rgb(0.11, 0.1, 0.09);
const MUTED = rgb(0.34, 0.33, 0.31);
const RULE = rgb(0.66, 0.64, 0.62);

/** "Smith v. Jones settlement.pdf", safe in a Content-Disposition header and any file system. */
export function settlementFileName(title: string): string {
  const safe = [...title.normalize("NFKD").replace(/\p{M}/gu, "")]
    .map((ch) => LETTERS[ch] ?? ch)
    .join("")
    .replace(/[^A-Za-z0-9 ._-]+/g, " ")
    .replace(/\.{2,}/g, ".")
    .replace(/\s+/g, " ")
    .replace(/^[\s.]+|[\s.]+$/g, "")
    .slice(0, 80)
    .trim();
  return `${safe || "Backchannel"} settlement.pdf`;
}

/** Text the standard fonts can encode: every character outside the font's set is replaced safely. */
export function winAnsiSafe(text: string, font: PDFFont, currency = ""): string {
  const supported = charset(font);
  let out = "";
  for (const ch of text.replace(/\r\n|\r/g, "\n")) {
    const cp = ch.codePointAt(0) as number;
    if (ch === "\n" || supported.has(cp)) {
      out += ch;
      continue;
    }
    if (ch === "\t" || /\s/u.test(ch)) {
      out += " ";
      continue;
    }
    if (/\p{Cc}|\p{Cf}/u.test(ch)) continue;
    const base = ch.normalize("NFKD").replace(/\p{M}/gu, "");
    if (base && [...base].every((c) => supported.has(c.codePointAt(0) as number))) {
      out += base;
      continue;
    }
    const known = SPELLINGS[ch] ?? LETTERS[ch];
    if (known !== undefined) {
      out += known;
      continue;
    }
    if (/\p{Sc}/u.test(ch) && currency) {
      out += `${currency} `;
      continue;
    }
    out += "?";
  }
  return out;
}

const SPELLINGS: Record<string, string> = {
  "\u2212": "-",
  "\u2010": "-",
  "\u2011": "-",
  "\u2264": "<=",
  "\u2265": ">=",
  "\u2260": "!=",
  "\u2192": "->",
  "\u2190": "<-",
  "\u2248": "~",
  "\u2032": "'",
  "\u2033": '"',
};

/** Letters NFKD does not take apart (Ł is not L plus a mark). */
const LETTERS: Record<string, string> = {
  "\u0141": "L",
  "\u0142": "l",
  "\u0110": "D",
  "\u0111": "d",
  "\u0126": "H",
  "\u0127": "h",
  "\u0131": "i",
  "\u0152": "OE",
  "\u0153": "oe",
  "\u00d8": "O",
  "\u00f8": "o",
  "\u00df": "ss",
  "\u00c6": "AE",
  "\u00e6": "ae",
};

const charsets = new WeakMap<PDFFont, Set<number>>();
function charset(font: PDFFont): Set<number> {
  let set = charsets.get(font);
  if (!set) {
    set = new Set(font.getCharacterSet());
    charsets.set(font, set);
  }
  return set;
}

/**
 * Measures text in a font and size as it grows: `next(at, s)` is the width of `at`'s text followed by `s`. A standard
 * font's width is its glyphs' widths plus the kerning of each adjacent pair, so text + s is as wide as text, plus s
 * after text's last character, less that character alone: growing a line costs the measure of its new part only.
 * (Measuring the whole line again for each word made wrapping quadratic, and cutting a long word cubic: 4,000
 * characters without a space took 10 s, and the terms allow 60,000.)
 */
function measurer(font: PDFFont, size: number) {
  const w = (s: string) => font.widthOfTextAtSize(s, size);
  return {
    of: w,
    next(at: { text: string; width: number }, s: string): number {
      if (!at.text) return w(s);
      const last = lastChar(at.text);
      return at.width + w(last + s) - w(last);
    },
  };
}

function lastChar(s: string): string {
  const low = s.charCodeAt(s.length - 1);
  const high = s.charCodeAt(s.length - 2);
  return low >= 0xdc00 && low <= 0xdfff && high >= 0xd800 && high <= 0xdbff ? s.slice(-2) : s.slice(-1);
}

/** Sums of many widths may differ from one measure in the last bits: near the limit, the text itself is measured. */
const NEAR = 1e-6;

function fitsIn(limit: number, width: number, text: () => string, measure: (s: string) => number): boolean {
  if (width < limit - NEAR) return true;
  if (width > limit + NEAR) return false;
  return measure(text()) <= limit;
}

/**
 * The end of the longest piece of `text` from `start` (whole characters, at least one) that, followed by `suffix`,
 * is no wider than `limit`; text.length when all of it fits.
 */
function fittingEnd(
  text: string,
  start: number,
  limit: number,
  m: ReturnType<typeof measurer>,
  suffix = "",
): number {
  let end = start;
  const at = { text: "", width: 0 };
  while (end < text.length) {
    const code = text.codePointAt(end) ?? 0;
    const ch = String.fromCodePoint(code);
    const width = m.next(at, ch);
    const withSuffix = suffix ? width + m.of(ch + suffix) - m.of(ch) : width;
    const piece = end + ch.length;
    if (end > start && !fitsIn(limit, withSuffix, () => text.slice(start, piece) + suffix, m.of)) break;
    at.text = ch;
    at.width = width;
    end = piece;
  }
  return end;
}

/** Splits text into lines no wider than `width` at `size`: at spaces where possible, inside a long word if not. */
export function wrapText(text: string, font: PDFFont, size: number, width: number): string[] {
  const lines: string[] = [];
  const m = measurer(font, size);
  for (const paragraph of text.split("\n")) {
    const line = { text: "", width: 0 };
    for (const word of paragraph.split(/ +/)) {
      const added = line.text ? ` ${word}` : word;
      const grown = m.next(line, added);
      if (fitsIn(width, grown, () => line.text + added, m.of)) {
        line.text += added;
        line.width = grown;
        continue;
      }
      if (line.text) lines.push(line.text);
      // A word wider than the line: as much of it as fits on each line, the rest starts the next one.
      let start = 0;
      for (
        let end = fittingEnd(word, 0, width, m);
        end < word.length;
        end = fittingEnd(word, start, width, m)
      ) {
        lines.push(word.slice(start, end));
        start = end;
      }
      line.text = word.slice(start);
      line.width = m.of(line.text);
    }
    lines.push(line.text);
  }
  return lines;
}

/** `text` whole if it fits in `limit`, else its longest start that fits with an ellipsis after it. */
export function truncateText(text: string, font: PDFFont, size: number, limit: number): string {
  const m = measurer(font, size);
  if (m.of(text) <= limit) return text;
  return `${text.slice(0, fittingEnd(text, 0, limit, m, "\u2026"))}\u2026`;
}

/** The settlement summary as a PDF document. */
export async function settlementPdf(
  summary: SettlementSummary,
  opts: SettlementPdfOptions = {},
): Promise<Uint8Array> {
  const now = opts.now ?? Date.now();
  const size = opts.pageSize === "Letter" ? PageSizes.Letter : PageSizes.A4;
  const doc = await PDFDocument.create();
  const regular = await doc.embedFont(StandardFonts.Helvetica);
  const bold = await doc.embedFont(StandardFonts.HelveticaBold);
  const mono = await doc.embedFont(StandardFonts.Courier);
  const safe = (s: string, font: PDFFont = regular) => winAnsiSafe(s, font, summary.currency);

  doc.setTitle(safe(`Settlement summary: ${summary.title}`));
  doc.setAuthor("Backchannel");
  doc.setCreator("Backchannel");
  doc.setProducer("Backchannel (pdf-lib)");
  doc.setCreationDate(new Date(now));
  doc.setModificationDate(new Date(now));
  doc.setLanguage("en");

  const [pageWidth, pageHeight] = size;
  const width = pageWidth - 2 * MARGIN;
  let page: PDFPage = doc.addPage(size);
  let y = pageHeight - MARGIN;

  const room = (needed: number) => {
    if (y - needed >= MARGIN + FOOTER_SPACE) return;
    page = doc.addPage(size);
    y = pageHeight - MARGIN;
  };

  const write = (
    text: string,
    o: { font?: PDFFont; size?: number; indent?: number; color?: typeof INK; gapAfter?: number } = {},
  ) => {
    const font = o.font ?? regular;
    const fontSize = o.size ?? 10.5;
    const indent = o.indent ?? 0;
    const leading = fontSize * 1.4;
    for (const line of wrapText(safe(text, font), font, fontSize, width - indent)) {
      room(leading);
      y -= leading;
      if (line) page.drawText(line, { x: MARGIN + indent, y, size: fontSize, font, color: o.color ?? INK });
    }
    y -= o.gapAfter ?? 0;
  };

  const heading = (text: string) => {
    room(48);
    y -= 12;
    write(text, { font: bold, size: 13, gapAfter: 4 });
  };

  const bullet = (text: string) => {
    const lines = wrapText(safe(text), regular, 10.5, width - 14);
    for (const [i, line] of lines.entries()) {
      room(14.7);
      y -= 14.7;
      if (i === 0) page.drawText("-", { x: MARGIN + 2, y, size: 10.5, font: regular, color: INK });
      if (line) page.drawText(line, { x: MARGIN + 14, y, size: 10.5, font: regular, color: INK });
    }
    y -= 2;
  };

  const field = (label: string, value: string) => {
    write(label, { font: bold, size: 10.5 });
    write(value, { size: 10.5, gapAfter: 6 });
  };

  // ---------------------------------------------------------------- the document
  write("SETTLEMENT SUMMARY", { font: bold, size: 9, color: MUTED, gapAfter: 2 });
  write(summary.title, { font: bold, size: 18, gapAfter: 10 });
  write("Settlement amount", { font: bold, size: 10.5, color: MUTED });
  write(summary.amount, { font: bold, size: 22, gapAfter: 10 });
  field("How the deal was made", `${summary.how}.`);
  if (summary.bonus) field("Bonus", summary.bonus);
  field("When", summary.when);
  field("Session started", summary.started);

  heading("Parties");
  for (const party of summary.parties) bullet(`${party.name} (${party.roleLabel})`);

  heading("Terms");
  write(summary.terms.heading, { gapAfter: 6 });
  const termsTop = y;
  const termsFirstPage = doc.getPageCount() - 1;
  write(summary.terms.text, { indent: 12, gapAfter: 4 });
  // A rule beside the terms, on the part of them each page holds.
  const pagesNow = doc.getPages();
  for (let i = termsFirstPage; i < pagesNow.length; i++) {
    const top = i === termsFirstPage ? termsTop : pageHeight - MARGIN;
    const bottom = i === pagesNow.length - 1 ? y + 4 : MARGIN + FOOTER_SPACE;
    if (top > bottom)
      pagesNow[i]?.drawLine({
        start: { x: MARGIN + 2, y: top },
        end: { x: MARGIN + 2, y: bottom },
        thickness: 2,
        color: RULE,
      });
  }

  heading("Rules of the session");
  for (const rule of summary.rules) bullet(rule);

  if (summary.audit) {
    heading("Audit record");
    write(summary.audit.label, { size: 10.5 });
    write(summary.audit.hash, { font: mono, size: 9, gapAfter: 4 });
    write(
      "The server signed this head of the hash chain of your stream of events; npm run audit:verify checks an audit export against it.",
      { size: 9, color: MUTED },
    );
  }

  y -= 12;
  write(
    `Made by Backchannel on ${new Date(now).toISOString().slice(0, 16).replace("T", " ")} UTC. Neither side's confidential number appears in this document.`,
    { size: 9, color: MUTED },
  );

  // ---------------------------------------------------------------- footers
  const pages = doc.getPages();
  const footTitle = safe(summary.title);
  for (const [i, p] of pages.entries()) {
    const label = `Page ${i + 1} of ${pages.length}`;
    const labelWidth = regular.widthOfTextAtSize(label, 8.5);
    const title = truncateText(`Settlement summary: ${footTitle}`, regular, 8.5, width - labelWidth - 24);
    p.drawLine({
      start: { x: MARGIN, y: MARGIN + 14 },
      end: { x: pageWidth - MARGIN, y: MARGIN + 14 },
      thickness: 0.5,
      color: RULE,
    });
    p.drawText(title, { x: MARGIN, y: MARGIN, size: 8.5, font: regular, color: MUTED });
    p.drawText(label, {
      x: pageWidth - MARGIN - labelWidth,
      y: MARGIN,
      size: 8.5,
      font: regular,
      color: MUTED,
    });
  }

  return doc.save({ useObjectStreams: false });
}
