// The ledger as a mediator's offer tracker: the conveyed demands and offers grouped into rounds, and the same
// positions laid out for the convergence chart. Pure functions of the view's ledger items, so they are tested
// without a browser.
//
// What enters: items of kind "conveyed" only, in whatever state they are now (a withdrawn or countered offer was
// still said aloud at its time). Brackets never enter, drafted or conveyed: they are conditional positions
// ("we go to X if you go to Y"), shown with their midpoint in the ledger list, not points on the tracker.
// A side only ever holds its own drafted brackets in its view, and those are brackets too, so nothing a side
// may not see can reach the table, the chart or the CSV.
//
// THE ROUND RULE. Conveyed items are taken in the order they were recorded (recordedAt, then ledger order).
//   - A round opens with a conveyed item from one side (the round's opener).
//   - The next conveyed item from the OTHER side answers it and closes the round.
//   - A second item from the opener's side before any answer does not revise the round: the first round closes
//     unanswered and the new item opens the next round. So every conveyed position is in exactly one round.
//   - The last round may be open (waiting for the answer).
// The claimant's conveyed amount is the round's demand, the respondent's its offer. Gap and midpoint are measured
// between the positions standing at the end of the round (each side's latest conveyed amount so far, from this
// round or an earlier one), so a round where only one side moved still shows how far apart the sides are.
import type { Cents, LedgerItemState, LedgerItemView, Side } from "@backchannel/common";

export interface RoundMove {
  itemId: string;
  amount: Cents;
  at: number;
  note: string | null;
  state: LedgerItemState;
}

export interface LedgerRound {
  /** 1, 2, 3… */
  number: number;
  openedBy: Side;
  /** the claimant's conveyed amount in this round, if the claimant moved in it */
  demand: RoundMove | null;
  /** the respondent's conveyed amount in this round, if the respondent moved in it */
  offer: RoundMove | null;
  /** each side's latest conveyed amount as the round ends (from this round or an earlier one) */
  standingDemand: Cents | null;
  standingOffer: Cents | null;
  /** standingDemand − standingOffer; zero or less when the positions meet or cross. Null until both sides moved. */
  gap: Cents | null;
  /** halfway between the standing positions, rounded half up to a whole minor unit: a signal only */
  midpoint: Cents | null;
  openedAt: number;
  /** when the answer came; null while the round waits for one, or when it closed unanswered (a later round exists) */
  answeredAt: number | null;
}

/** Halfway between two amounts in whole minor units (half a cent rounds up), as bracket midpoints are. */
export function midpointOf(a: Cents, b: Cents): Cents {
  return Math.round((a + b) / 2);
}

type Conveyed = LedgerItemView & { item: Extract<LedgerItemView["item"], { kind: "conveyed" }> };

/** The conveyed items, recording order. */
export function conveyedItems(ledger: readonly LedgerItemView[]): Conveyed[] {
  return ledger
    .map((l, index) => ({ l, index }))
    .filter((x): x is { l: Conveyed; index: number } => x.l.item.kind === "conveyed")
    .sort((a, b) => a.l.recordedAt - b.l.recordedAt || a.index - b.index)
    .map((x) => x.l);
}

/** The rounds of the tracker, by THE ROUND RULE above. */
export function ledgerRounds(ledger: readonly LedgerItemView[]): LedgerRound[] {
  const rounds: LedgerRound[] = [];
  const standing: Record<Side, Cents | null> = { claimant: null, respondent: null };
  for (const l of conveyedItems(ledger)) {
    const side = l.item.from;
    const move: RoundMove = {
      itemId: l.itemId,
      amount: l.item.amount,
      at: l.recordedAt,
      note: l.note,
      state: l.state,
    };
    standing[side] = move.amount;
    const last = rounds.at(-1);
    // Only the latest round can be waiting: an earlier one was answered, or closed when its side moved again.
    const answers = last !== undefined && last.openedBy !== side && last.answeredAt === null;
    const round: LedgerRound = answers
      ? { ...last, answeredAt: move.at }
      : {
          number: rounds.length + 1,
          openedBy: side,
          demand: null,
          offer: null,
          standingDemand: null,
          standingOffer: null,
          gap: null,
          midpoint: null,
          openedAt: move.at,
          answeredAt: null,
        };
    if (side === "claimant") round.demand = move;
    else round.offer = move;
    round.standingDemand = standing.claimant;
    round.standingOffer = standing.respondent;
    if (standing.claimant !== null && standing.respondent !== null) {
      round.gap = standing.claimant - standing.respondent;
      round.midpoint = midpointOf(standing.claimant, standing.respondent);
    }
    if (answers) rounds[rounds.length - 1] = round;
    else rounds.push(round);
  }
  return rounds;
}

// ---------------------------------------------------------------- the convergence chart

export interface ChartPoint {
  itemId: string;
  at: number;
  amount: Cents;
}

export interface ChartSeries {
  demand: ChartPoint[];
  offer: ChartPoint[];
}

/** Each side's conveyed positions over time (the claimant's are demands, the respondent's offers). */
export function chartSeries(ledger: readonly LedgerItemView[]): ChartSeries {
  const items = conveyedItems(ledger);
  const points = (side: Side) =>
    items
      .filter((l) => l.item.from === side)
      .map((l) => ({ itemId: l.itemId, at: l.recordedAt, amount: l.item.amount }));
  return { demand: points("claimant"), offer: points("respondent") };
}

export interface ChartBox {
  width: number;
  height: number;
  /** space kept free on each edge: labels go there */
  top: number;
  right: number;
  bottom: number;
  left: number;
}

export interface PlotPoint extends ChartPoint {
  x: number;
  y: number;
}

export interface ChartLayout {
  demand: PlotPoint[];
  offer: PlotPoint[];
  /** the amounts at the top and bottom of the plot, and where they are drawn */
  high: { amount: Cents; y: number };
  low: { amount: Cents; y: number };
  /** the first and last times, and where they are drawn */
  start: { at: number; x: number };
  end: { at: number; x: number };
}

/**
 * Maps the positions into SVG coordinates inside `box` (y grows downwards: higher amounts are higher up).
 * One moment only, or one amount only: the points sit in the middle of that axis. No points: null.
 * The top and bottom of the plot are the highest and lowest amounts conveyed, so the lines use the whole height.
 */
export function layoutChart(series: ChartSeries, box: ChartBox): ChartLayout | null {
  const all = [...series.demand, ...series.offer];
  if (all.length === 0) return null;
  const times = all.map((p) => p.at);
  const amounts = all.map((p) => p.amount);
  const t0 = Math.min(...times);
  const t1 = Math.max(...times);
  const a0 = Math.min(...amounts);
  const a1 = Math.max(...amounts);
  const left = box.left;
  const right = box.width - box.right;
  const top = box.top;
  const bottom = box.height - box.bottom;
  const x = (at: number) =>
    t1 === t0 ? (left + right) / 2 : left + ((at - t0) / (t1 - t0)) * (right - left);
  const y = (amount: Cents) =>
    a1 === a0 ? (top + bottom) / 2 : bottom - ((amount - a0) / (a1 - a0)) * (bottom - top);
  const place = (p: ChartPoint): PlotPoint => ({ ...p, x: x(p.at), y: y(p.amount) });
  return {
    demand: series.demand.map(place),
    offer: series.offer.map(place),
    high: { amount: a1, y: y(a1) },
    low: { amount: a0, y: y(a0) },
    start: { at: t0, x: x(t0) },
    end: { at: t1, x: x(t1) },
  };
}

/** "x,y x,y …" for a <polyline>, two decimals (enough at any screen size, and stable in tests). */
export function polylinePoints(points: readonly PlotPoint[]): string {
  return points.map((p) => `${round2(p.x)},${round2(p.y)}`).join(" ");
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
