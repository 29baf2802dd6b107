import { type LedgerItemView, MAX_AMOUNT_CENTS, type SessionEvent, type Side } from "@backchannel/common";
import { describe, expect, it } from "vitest";
import { csvField, csvText, decimalAmount, ledgerFileName, roundsCsv, toCsv } from "../src/lib/csv";
import {
  type ChartBox,
  chartSeries,
  layoutChart,
  ledgerRounds,
  midpointOf,
  polylinePoints,
} from "../src/lib/ledgerRounds";
import { openedSession, snapshot, T0, USERS } from "./fixtures";

const MIN = 60_000;
let seq = 0;

function conveyed(
  from: Side,
  amount: number,
  at: number,
  extra: Partial<LedgerItemView> = {},
): LedgerItemView {
  seq += 1;
  return {
    itemId: `c${seq}`,
    recordedAt: at,
    recordedBy: USERS.mediator,
    item: { kind: "conveyed", from, amount },
    note: null,
    counters: null,
    state: "conveyed",
    shared: true,
    ...extra,
  };
}

function bracket(
  from: Side,
  ourAmount: number,
  theirAmount: number,
  at: number,
  shared = false,
): LedgerItemView {
  seq += 1;
  return {
    itemId: `b${seq}`,
    recordedAt: at,
    recordedBy: USERS.mediator,
    item: { kind: "bracket", from, ourAmount, theirAmount },
    note: null,
    counters: null,
    state: shared ? "conveyed" : "proposed",
    shared,
  };
}

/** [demand, offer, gap, midpoint] of each round, for compact expectations. */
const table = (ledger: LedgerItemView[]) =>
  ledgerRounds(ledger).map((r) => [r.demand?.amount ?? null, r.offer?.amount ?? null, r.gap, r.midpoint]);

describe("ledgerRounds: the round rule", () => {
  it("pairs each conveyed item with the other side's answer, in recording order", () => {
    const ledger = [
      conveyed("claimant", 50_000_000, T0),
      conveyed("respondent", 5_000_000, T0 + 10 * MIN),
      conveyed("claimant", 40_000_000, T0 + 30 * MIN),
      conveyed("respondent", 10_000_000, T0 + 45 * MIN),
    ];
    const rounds = ledgerRounds(ledger);
    expect(table(ledger)).toEqual([
      [50_000_000, 5_000_000, 45_000_000, 27_500_000],
      [40_000_000, 10_000_000, 30_000_000, 25_000_000],
    ]);
    expect(rounds.map((r) => [r.number, r.openedBy, r.openedAt, r.answeredAt])).toEqual([
      [1, "claimant", T0, T0 + 10 * MIN],
      [2, "claimant", T0 + 30 * MIN, T0 + 45 * MIN],
    ]);
  });

  it("orders by recordedAt even when the list is not in that order", () => {
    const ledger = [conveyed("respondent", 200, T0 + MIN), conveyed("claimant", 900, T0)];
    expect(ledgerRounds(ledger).map((r) => r.openedBy)).toEqual(["claimant"]);
    expect(table(ledger)).toEqual([[900, 200, 700, 550]]);
  });

  it("whoever conveys first opens the round: a respondent opener is answered by the claimant", () => {
    const ledger = [conveyed("respondent", 1_000, T0), conveyed("claimant", 9_000, T0 + MIN)];
    const [r] = ledgerRounds(ledger);
    expect(r).toMatchObject({ openedBy: "respondent", openedAt: T0, answeredAt: T0 + MIN, gap: 8_000 });
  });

  it("one side only: each move is its own unanswered round, with no gap or midpoint", () => {
    const ledger = [conveyed("claimant", 9_000, T0), conveyed("claimant", 8_000, T0 + MIN)];
    const rounds = ledgerRounds(ledger);
    expect(table(ledger)).toEqual([
      [9_000, null, null, null],
      [8_000, null, null, null],
    ]);
    expect(rounds.every((r) => r.answeredAt === null && r.standingOffer === null)).toBe(true);
  });

  it("repeated moves by one side: the earlier round closes unanswered, the answer goes to the latest", () => {
    const ledger = [
      conveyed("claimant", 10_000, T0),
      conveyed("respondent", 1_000, T0 + 1 * MIN),
      conveyed("respondent", 2_000, T0 + 2 * MIN),
      conveyed("respondent", 3_000, T0 + 3 * MIN),
      conveyed("claimant", 9_000, T0 + 4 * MIN),
    ];
    const rounds = ledgerRounds(ledger);
    expect(table(ledger)).toEqual([
      [10_000, 1_000, 9_000, 5_500],
      // the respondent moved again with no answer between: the gap is to the claimant's standing demand
      [null, 2_000, 8_000, 6_000],
      [9_000, 3_000, 6_000, 6_000],
    ]);
    expect(rounds.map((r) => [r.openedBy, r.answeredAt])).toEqual([
      ["claimant", T0 + MIN],
      ["respondent", null],
      ["respondent", T0 + 4 * MIN],
    ]);
    expect(rounds[1]!.standingDemand).toBe(10_000);
    // every conveyed position is in exactly one round
    const ids = rounds.flatMap((r) => [r.demand?.itemId, r.offer?.itemId]).filter(Boolean);
    expect(ids.sort()).toEqual(ledger.map((l) => l.itemId).sort());
  });

  it("ignores brackets, drafted or conveyed, wherever they fall", () => {
    const ledger = [
      conveyed("claimant", 10_000, T0),
      bracket("respondent", 4_000, 8_000, T0 + MIN), // drafted
      bracket("claimant", 7_000, 3_000, T0 + 2 * MIN, true), // conveyed
      conveyed("respondent", 2_000, T0 + 3 * MIN),
    ];
    expect(table(ledger)).toEqual([[10_000, 2_000, 8_000, 6_000]]);
    expect(ledgerRounds([bracket("claimant", 1, 2, T0)])).toEqual([]);
    const series = chartSeries(ledger);
    expect([...series.demand, ...series.offer].map((p) => p.amount)).toEqual([10_000, 2_000]);
  });

  it("keeps withdrawn and answered positions, with their state and note", () => {
    const ledger = [
      conveyed("claimant", 10_000, T0, { state: "withdrawn", note: "off the table at noon" }),
      conveyed("respondent", 2_000, T0 + MIN, { state: "countered" }),
    ];
    const [r] = ledgerRounds(ledger);
    expect(r!.demand).toMatchObject({ amount: 10_000, state: "withdrawn", note: "off the table at noon" });
    expect(r!.offer).toMatchObject({ amount: 2_000, state: "countered" });
  });

  it("crossing offers: the gap is zero when the positions meet and negative when they cross", () => {
    const meet = [conveyed("claimant", 5_000, T0), conveyed("respondent", 5_000, T0 + MIN)];
    expect(table(meet)).toEqual([[5_000, 5_000, 0, 5_000]]);
    const cross = [conveyed("claimant", 5_000, T0), conveyed("respondent", 6_001, T0 + MIN)];
    expect(table(cross)).toEqual([[5_000, 6_001, -1_001, 5_501]]);
  });

  it("one-cent gaps: exact, and the midpoint rounds the half cent up", () => {
    const ledger = [conveyed("claimant", 100_001, T0), conveyed("respondent", 100_000, T0 + MIN)];
    expect(table(ledger)).toEqual([[100_001, 100_000, 1, 100_001]]);
    expect(midpointOf(2, 1)).toBe(2);
    expect(midpointOf(1, 1)).toBe(1);
  });

  it("the largest amounts stay exact", () => {
    const ledger = [conveyed("claimant", MAX_AMOUNT_CENTS, T0), conveyed("respondent", 1, T0 + MIN)];
    expect(table(ledger)).toEqual([[MAX_AMOUNT_CENTS, 1, MAX_AMOUNT_CENTS - 1, MAX_AMOUNT_CENTS / 2 + 1]]);
    const top = [
      conveyed("claimant", MAX_AMOUNT_CENTS, T0),
      conveyed("respondent", MAX_AMOUNT_CENTS - 1, T0 + MIN),
    ];
    expect(table(top)).toEqual([[MAX_AMOUNT_CENTS, MAX_AMOUNT_CENTS - 1, 1, MAX_AMOUNT_CENTS]]);
    expect(Number.isSafeInteger(ledgerRounds(top)[0]!.midpoint)).toBe(true);
  });

  it("nothing conveyed: no rounds", () => {
    expect(ledgerRounds([])).toEqual([]);
  });
});

describe("ledgerRounds on a real side's view", () => {
  // The engine and the server's redaction, as in fixtures.ts: the respondent's own drafted bracket is in its view.
  const events: SessionEvent[] = [...openedSession()];
  const start = events.at(-1)!.at;
  const record = (itemId: string, item: Extract<SessionEvent, { type: "LedgerItemRecorded" }>["item"]) =>
    events.push({
      type: "LedgerItemRecorded",
      at: start + events.length * MIN,
      itemId,
      by: USERS.mediator,
      item,
      note: null,
      counters: null,
    });
  record("l1", { kind: "conveyed", from: "claimant", amount: 90_000_00 });
  record("l2", { kind: "bracket", from: "respondent", ourAmount: 30_000_00, theirAmount: 60_000_00 });
  record("l3", { kind: "conveyed", from: "respondent", amount: 20_000_00 });

  it("the drafted bracket is in the respondent's view but never in its rounds or chart", () => {
    const view = snapshot(events, "respondent");
    expect(view.ledger.map((l) => l.itemId)).toEqual(["l1", "l2", "l3"]);
    const rounds = ledgerRounds(view.ledger);
    expect(rounds).toHaveLength(1);
    expect(rounds[0]).toMatchObject({ gap: 70_000_00, midpoint: 55_000_00 });
    const csv = roundsCsv(rounds, "USD");
    expect(csv).not.toContain("30000.00");
    expect(csv).not.toContain("60000.00");
    const series = chartSeries(view.ledger);
    expect(series.offer.map((p) => p.itemId)).toEqual(["l3"]);
    // the claimant's view does not hold it at all
    const claimantView = snapshot(events, "claimant");
    expect(claimantView.ledger.map((l) => l.itemId)).toEqual(["l1", "l3"]);
  });
});

describe("CSV", () => {
  it("quotes fields holding commas, quotes, CR or LF (RFC 4180) and leaves others bare", () => {
    expect(csvField("plain")).toBe("plain");
    expect(csvField("a,b")).toBe('"a,b"');
    expect(csvField('say "yes"')).toBe('"say ""yes"""');
    expect(csvField("line 1\nline 2")).toBe('"line 1\nline 2"');
    expect(csvField("line 1\r\nline 2")).toBe('"line 1\r\nline 2"');
    expect(csvField(null)).toBe("");
    expect(csvField(12)).toBe("12");
    expect(
      toCsv([
        ["a", "b,c"],
        ['"', null],
      ]),
    ).toBe('a,"b,c"\r\n"""",\r\n');
  });

  it("writes amounts as exact plain decimals in the currency's unit", () => {
    expect(decimalAmount(1_234_567, "USD")).toBe("12345.67");
    expect(decimalAmount(5, "USD")).toBe("0.05");
    expect(decimalAmount(-1_001, "USD")).toBe("-10.01");
    expect(decimalAmount(0, "USD")).toBe("0.00");
    expect(decimalAmount(1_234, "JPY")).toBe("1234");
    expect(decimalAmount(1_234, "BHD")).toBe("1.234");
    expect(decimalAmount(MAX_AMOUNT_CENTS, "USD")).toBe("100000000000.00");
    expect(decimalAmount(MAX_AMOUNT_CENTS - 1, "USD")).toBe("99999999999.99");
  });

  it("guards notes against spreadsheet formulas, never amounts", () => {
    expect(csvText("=HYPERLINK(1)")).toBe("'=HYPERLINK(1)");
    expect(csvText("-5 if they agree")).toBe("'-5 if they agree");
    expect(csvText("fine")).toBe("fine");
    expect(csvText(null)).toBe(null);
  });

  it("the rounds as CSV: header, one record per round, ISO times, quoted notes, negative gaps as numbers", () => {
    const ledger = [
      conveyed("claimant", 10_000_00, Date.UTC(2025, 0, 6, 14, 0), {
        note: 'Claimant says "final", firm,\nbut open to terms',
      }),
      conveyed("respondent", 10_000_01, Date.UTC(2025, 0, 6, 14, 30, 5)),
      conveyed("claimant", 9_000_00, Date.UTC(2025, 0, 6, 15, 0), { note: "=cmd" }),
    ];
    const csv = roundsCsv(ledgerRounds(ledger), "USD");
    const lines = csv.split("\r\n");
    expect(lines[0]).toBe(
      "Round,Opened by,Demand,Demand conveyed at,Demand status,Demand note,Offer,Offer conveyed at,Offer status," +
        "Offer note,Gap (latest demand minus latest offer),Midpoint (signal only),Currency",
    );
    expect(csv).toBe(
      [
        lines[0],
        '1,Claimant,10000.00,2025-01-06T14:00:00.000Z,conveyed,"Claimant says ""final"", firm,\nbut open to terms",' +
          "10000.01,2025-01-06T14:30:05.000Z,conveyed,,-0.01,10000.01,USD",
        "2,Claimant,9000.00,2025-01-06T15:00:00.000Z,conveyed,'=cmd,,,,,-1000.01,9500.01,USD",
        "",
      ].join("\r\n"),
    );
  });

  it("no rounds: the header only", () => {
    expect(roundsCsv([], "USD").split("\r\n")).toHaveLength(2);
  });

  it("file names: the title made safe, then ' ledger.csv'", () => {
    expect(ledgerFileName("Smith v. Acme")).toBe("Smith v. Acme ledger.csv");
    expect(ledgerFileName('Smith, "Acme" / Widgets: 2025?')).toBe("Smith, Acme Widgets 2025 ledger.csv");
    expect(ledgerFileName("Line one\nline two\r\n\ttabbed")).toBe("Line one line two tabbed ledger.csv");
    expect(ledgerFileName("..\\..\\etc\\passwd")).toBe("etc passwd ledger.csv");
    expect(ledgerFileName("   ")).toBe("Session ledger.csv");
    expect(ledgerFileName("<>|*")).toBe("Session ledger.csv");
    const long = ledgerFileName("x".repeat(500));
    expect(long).toBe(`${"x".repeat(80)} ledger.csv`);
    // never cuts an emoji (a surrogate pair) in half
    const emoji = ledgerFileName("😀".repeat(100));
    expect(emoji).toBe(`${"😀".repeat(80)} ledger.csv`);
    expect(emoji).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
  });
});

describe("layoutChart: positions to SVG coordinates", () => {
  const box: ChartBox = { width: 400, height: 200, top: 20, right: 10, bottom: 40, left: 10 };
  const pt = (at: number, amount: number) => ({ itemId: `${at}-${amount}`, at, amount });

  it("no points: nothing to draw", () => {
    expect(layoutChart({ demand: [], offer: [] }, box)).toBeNull();
  });

  it("spans the plot: earliest at the left, latest at the right, highest at the top, lowest at the bottom", () => {
    const layout = layoutChart({ demand: [pt(0, 1_000), pt(50, 800)], offer: [pt(100, 200)] }, box)!;
    expect(layout.demand.map((p) => [p.x, p.y])).toEqual([
      [10, 20],
      [200, 20 + (200 / 800) * 140],
    ]);
    expect(layout.offer.map((p) => [p.x, p.y])).toEqual([[390, 160]]);
    expect(layout.high).toEqual({ amount: 1_000, y: 20 });
    expect(layout.low).toEqual({ amount: 200, y: 160 });
    expect(layout.start).toEqual({ at: 0, x: 10 });
    expect(layout.end).toEqual({ at: 100, x: 390 });
    expect(polylinePoints(layout.demand)).toBe("10,20 200,55");
  });

  it("a single point sits in the middle of the plot", () => {
    const layout = layoutChart({ demand: [pt(T0, 5_000)], offer: [] }, box)!;
    expect(layout.demand).toEqual([{ ...pt(T0, 5_000), x: 200, y: 90 }]);
    expect(layout.high.y).toBe(layout.low.y);
  });

  it("equal amounts at different times: a level line across the middle", () => {
    const layout = layoutChart({ demand: [pt(0, 7)], offer: [pt(60, 7)] }, box)!;
    expect([...layout.demand, ...layout.offer].map((p) => [p.x, p.y])).toEqual([
      [10, 90],
      [390, 90],
    ]);
  });

  it("equal times (two moves in the same millisecond): both at the horizontal middle", () => {
    const layout = layoutChart({ demand: [pt(5, 900)], offer: [pt(5, 100)] }, box)!;
    expect(layout.demand[0]).toMatchObject({ x: 200, y: 20 });
    expect(layout.offer[0]).toMatchObject({ x: 200, y: 160 });
  });

  it("the largest amounts and a one-cent spread still map inside the plot", () => {
    const layout = layoutChart(
      { demand: [pt(0, MAX_AMOUNT_CENTS)], offer: [pt(1, MAX_AMOUNT_CENTS - 1)] },
      box,
    )!;
    expect(layout.demand[0]).toMatchObject({ x: 10, y: 20 });
    expect(layout.offer[0]).toMatchObject({ x: 390, y: 160 });
    for (const p of [...layout.demand, ...layout.offer]) {
      expect(Number.isFinite(p.x) && Number.isFinite(p.y)).toBe(true);
    }
  });
});
