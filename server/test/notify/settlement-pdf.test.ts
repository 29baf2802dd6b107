// The settlement PDF: parsed back with pdf-lib (pages, size), its text read from the inflated content streams, and
// checked for the summary's content and for the absence of either side's number.
import { type Command, type SessionState, settlementSummary, viewState } from "@backchannel/common";
import fc from "fast-check";
import { PDFDocument, type PDFFont, StandardFonts } from "pdf-lib";
import { describe, expect, it } from "vitest";
import { CLAIMANT, RESPONDENT, Scenario, setNumber } from "../../../common/test/engine/builder";
import { settlementFileName, settlementPdf, truncateText, wrapText } from "../../src/notify/settlement-pdf";
import { pdfText } from "./pdf-text";

const DEMAND = 1_111_100;
const OFFER = 9_876_500;

function dealSession(termsText: string, title = "Smith v. Jones", currency = "USD"): SessionState {
  const s = new Scenario()
    .create({ title, termsText, rules: { ...new Scenario().create().s.rules, currency } })
    .cast();
  s.ok({ type: "ApproveTerms", actor: CLAIMANT, version: 1 } as Command);
  s.ok({ type: "ApproveTerms", actor: RESPONDENT, version: 1 } as Command);
  s.ok(setNumber(CLAIMANT, DEMAND));
  s.ok(setNumber(RESPONDENT, OFFER));
  s.tickAt(s.s.step2ClosesAt as number);
  if (!s.s.deal) throw new Error("no deal");
  return s.s;
}

function summaryOf(state: SessionState) {
  const summary = settlementSummary(
    viewState(state, { userId: RESPONDENT, role: "respondent" }, state.updatedAt, 9),
    {
      stream: "respondent",
      position: 9,
      head: "0f".repeat(32),
    },
  );
  if (!summary) throw new Error("no summary");
  return summary;
}

describe("settlementPdf", () => {
  it("renders the summary on A4 pages: title, amount, how, parties, terms with the amount, rules, audit head", async () => {
    const state = dealSession("The respondent pays $_____ to the claimant within 30 days.");
    const summary = summaryOf(state);
    const bytes = await settlementPdf(summary, { now: state.updatedAt });
    expect(Buffer.from(bytes.slice(0, 5)).toString()).toBe("%PDF-");
    const doc = await PDFDocument.load(bytes);
    const pages = doc.getPageCount();
    expect(pages).toBeGreaterThanOrEqual(1);
    expect(pages).toBeLessThanOrEqual(2);
    const [w, h] = [doc.getPage(0).getWidth(), doc.getPage(0).getHeight()];
    expect([Math.round(w), Math.round(h)]).toEqual([595, 842]);
    expect(doc.getTitle()).toBe("Settlement summary: Smith v. Jones");

    const text = pdfText(bytes);
    expect(text).toContain("Smith v. Jones");
    expect(text).toContain(summary.amount);
    expect(text).toContain("Step 2: the two sealed numbers met at the Step 2 deadline.");
    expect(text).toContain(summary.when.replace(/\u202f/g, " "));
    expect(text).toContain("Claire Attorney (Claimant)");
    expect(text).toContain(`The respondent pays ${summary.amount} to the claimant within 30 days.`);
    expect(text).toContain("The agreed terms (version 1), with the amount filled in:");
    expect(text).toContain("Rules of the session");
    expect(text).toContain("Audit record head (your role's stream, position 9)");
    expect(text).toContain("0f".repeat(32));
    expect(text).toContain(`Page 1 of ${pages}`);
    expect(text).not.toContain("_____");
    // Neither side's number, in any spelling.
    for (const n of ["11,111", "98,765", "1111100", "9876500", "11111.00", "98765.00"])
      expect(text).not.toContain(n);
  });

  it("wraps long lines within the margins and breaks long terms onto more pages, each with its footer", async () => {
    const long = `${"Each party bears its own costs and fees, and ".repeat(12)}pays $_____.\n${Array.from(
      { length: 120 },
      (_, i) => `Clause ${i + 1}: ${"x".repeat(i % 3 === 0 ? 180 : 20)}`,
    ).join("\n")}`;
    const summary = summaryOf(dealSession(long));
    const bytes = await settlementPdf(summary, { pageSize: "Letter" });
    const doc = await PDFDocument.load(bytes);
    const pages = doc.getPageCount();
    expect(pages).toBeGreaterThan(2);
    expect(Math.round(doc.getPage(0).getWidth())).toBe(612);
    const text = pdfText(bytes);
    expect(text).toContain(`Page ${pages} of ${pages}`);
    expect(text).toContain("Clause 120:");
    expect(text).toContain(`pays ${summary.amount}.`);
    // A 180-character word is cut into lines, none of which is wider than the text column.
    const lines = text.split("\n");
    expect(Math.max(...lines.filter((l) => /^x+$/.test(l)).map((l) => l.length))).toBeLessThan(120);
  });

  it("replaces what the standard fonts cannot encode instead of failing", async () => {
    const state = dealSession(
      "Zahlung von $_____ an Müller \u6771\u4eac\u2009\u2265 done\u200b.",
      "M\u00fcller \u2192 \u0141\u00f3d\u017a \u6771\u4eac",
      "INR",
    );
    const summary = summaryOf(state);
    expect(summary.amount).toMatch(/^\u20b9/);
    const bytes = await settlementPdf(summary);
    const text = pdfText(bytes);
    expect(text).toContain("Müller -> Lódz ??");
    expect(text).toContain(`INR ${summary.amount.slice(1)}`);
    expect(text).toContain("an Müller ?? >= done.");
  });
});

describe("settlementFileName", () => {
  it("keeps a safe title and drops what a header or a file system could misread", () => {
    expect(settlementFileName("Smith v. Jones")).toBe("Smith v. Jones settlement.pdf");
    expect(settlementFileName('A "quoted"\r\n/../name; x=1')).toBe("A quoted . name x 1 settlement.pdf");
    expect(settlementFileName("Łódź")).toBe("Lodz settlement.pdf");
    expect(settlementFileName("\u6771\u4eac")).toBe("Backchannel settlement.pdf");
  });
});

// The line breaking as it was before it measured only what a line gains (it measured each whole candidate line, and
// cut a long word one character at a time from its end): the oracle the faster one must agree with, on columns wider
// than any one character (given a narrower one it never ended: it cut nothing off a one-character rest).
function wrapByWholeLines(text: string, font: PDFFont, size: number, width: number): string[] {
  const lines: string[] = [];
  const fits = (s: string) => font.widthOfTextAtSize(s, size) <= width;
  for (const paragraph of text.split("\n")) {
    let line = "";
    for (const word of paragraph.split(/ +/)) {
      const candidate = line ? `${line} ${word}` : word;
      if (fits(candidate)) {
        line = candidate;
        continue;
      }
      if (line) lines.push(line);
      line = "";
      let rest = word;
      while (rest && !fits(rest)) {
        let cut = rest.length - 1;
        while (cut > 1 && !fits(rest.slice(0, cut))) cut--;
        lines.push(rest.slice(0, cut));
        rest = rest.slice(cut);
      }
      line = rest;
    }
    lines.push(line);
  }
  return lines;
}

/** Counts the characters a font is asked to measure. */
function counting(font: PDFFont): { font: PDFFont; measured: () => number } {
  let measured = 0;
  const counted = Object.create(font) as PDFFont;
  counted.widthOfTextAtSize = (text: string, size: number) => {
    measured += text.length;
    return font.widthOfTextAtSize(text, size);
  };
  return { font: counted, measured: () => measured };
}

describe("wrapText", async () => {
  const doc = await PDFDocument.create();
  const fonts = {
    regular: await doc.embedFont(StandardFonts.Helvetica),
    bold: await doc.embedFont(StandardFonts.HelveticaBold),
    mono: await doc.embedFont(StandardFonts.Courier),
  };
  // Kerned pairs (AV, To, Wa), wide and narrow glyphs, runs of spaces, words around the line's length and far past it.
  const piece = fc.oneof(
    fc.constantFrom("AV", "To", "Wa", "W", "i", "l", "M", "m", ".", ",", "-", "x", "1", "\u00e9"),
    fc.constantFrom(" ", "  ", "   "),
    fc.constantFrom("\n", "\n\n"),
    fc.stringMatching(/^[A-Za-z]{1,12}$/),
    fc.integer({ min: 1, max: 150 }).map((n) => "W".repeat(n)),
    fc.integer({ min: 1, max: 150 }).map((n) => "i".repeat(n)),
  );
  const text = fc.array(piece, { maxLength: 30 }).map((parts) => parts.join(""));
  const oneLine = text.map((t) => t.replaceAll("\n", " "));
  // The widest character here (W in bold at 22 pt) is 20.8 pt: every column holds one.
  const width = fc.oneof(
    fc.constantFrom(21, 50, 100, 451.28, 515.28),
    fc.double({ min: 21, max: 600, noNaN: true }),
  );
  const size = fc.constantFrom(8.5, 9, 10.5, 13, 22);

  it("breaks every text where measuring whole lines did", () => {
    fc.assert(
      fc.property(
        text,
        fc.constantFrom("regular", "bold", "mono") as fc.Arbitrary<keyof typeof fonts>,
        size,
        width,
        (t, f, sz, w) => {
          expect(wrapText(t, fonts[f], sz, w)).toEqual(wrapByWholeLines(t, fonts[f], sz, w));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("measures each character a bounded number of times, however long a word is (it was cubic: 4,000 took 10 s)", () => {
    for (const t of [
      "x".repeat(60_000),
      "W ".repeat(30_000),
      `${"word ".repeat(5_000)}${"i".repeat(30_000)}`,
    ]) {
      const c = counting(fonts.regular);
      const lines = wrapText(t, c.font, 10.5, 451.28);
      expect(lines.join("").replaceAll(" ", "")).toBe(t.replaceAll(" ", ""));
      for (const line of lines)
        expect(fonts.regular.widthOfTextAtSize(line, 10.5)).toBeLessThanOrEqual(451.28);
      expect(c.measured()).toBeLessThan(12 * t.length);
    }
  });

  it("puts one character on each line of a column narrower than any character", () => {
    expect(wrapText("AVW xi", fonts.regular, 10, 1)).toEqual(["A", "V", "W", "x", "i"]);
  });

  it("truncates a footer's title as cutting one character at a time did, measuring it a bounded number of times", () => {
    fc.assert(
      fc.property(oneLine, size, width, (t, sz, w) => {
        let title = t;
        const fits = (s: string) => fonts.regular.widthOfTextAtSize(s, sz) <= w;
        while (title.length > 1 && !fits(title === t ? title : `${title}\u2026`)) title = title.slice(0, -1);
        if (title !== t) title = `${title}\u2026`;
        const c = counting(fonts.regular);
        expect(truncateText(t, c.font, sz, w)).toBe(title);
        expect(c.measured()).toBeLessThanOrEqual(12 * t.length + 12);
      }),
      { numRuns: 300 },
    );
  });
});
