// The convergence chart: each side's conveyed positions over the day, demand and offer as two lines. Plain SVG.
// The viewBox is the drawn width in pixels (measured), so text is 12–13 px on a phone and on a desktop alike,
// and the picture scales with its box. Screen readers get a title and summary here, and the rounds table
// (aria-describedby) for the figures.
import { useId, useLayoutEffect, useRef, useState } from "react";
import {
  type ChartBox,
  type ChartSeries,
  layoutChart,
  type PlotPoint,
  polylinePoints,
} from "../../lib/ledgerRounds";

const HEIGHT = 220;
const DEFAULT_WIDTH = 600;

export interface LedgerChartProps {
  series: ChartSeries;
  money(cents: number): string;
  clock(at: number): string;
  /** id of the table holding the same figures */
  tableId: string;
}

/** In words: where each line starts and ends, and the gap now. */
export function chartSummary(series: ChartSeries, money: (c: number) => string): string {
  const line = (name: string, points: ChartSeries["demand"]) => {
    if (points.length === 0) return `${name}: none conveyed yet.`;
    const first = points[0]!;
    const last = points.at(-1)!;
    const moves = `${points.length} position${points.length === 1 ? "" : "s"}`;
    return points.length === 1
      ? `${name}: ${money(first.amount)} (${moves}).`
      : `${name}: from ${money(first.amount)} to ${money(last.amount)} (${moves}).`;
  };
  const d = series.demand.at(-1);
  const o = series.offer.at(-1);
  const gap =
    d && o
      ? d.amount - o.amount > 0
        ? ` Gap now ${money(d.amount - o.amount)}.`
        : d.amount === o.amount
          ? " The latest positions meet."
          : ` The latest positions cross by ${money(o.amount - d.amount)}.`
      : "";
  return `${line("Claimant's demand", series.demand)} ${line("Respondent's offer", series.offer)}${gap}`;
}

export function LedgerChart({ series, money, clock, tableId }: LedgerChartProps) {
  const wrap = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(DEFAULT_WIDTH);
  const titleId = useId();
  const descId = useId();

  useLayoutEffect(() => {
    const el = wrap.current;
    if (!el) return;
    const measure = () => {
      const w = Math.round(el.getBoundingClientRect().width);
      if (w > 0) setWidth(w);
    };
    measure();
    if (typeof ResizeObserver === "undefined") return;
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  const box: ChartBox = { width, height: HEIGHT, top: 26, right: 12, bottom: 48, left: 12 };
  const layout = layoutChart(series, box);
  if (!layout) return null;
  const plotBottom = HEIGHT - box.bottom;
  const sameMoment = layout.start.at === layout.end.at;

  return (
    <figure className="ledger-chart">
      <div ref={wrap} className="ledger-chart-box">
        <svg
          role="img"
          aria-labelledby={`${titleId} ${descId}`}
          aria-describedby={tableId}
          viewBox={`0 0 ${width} ${HEIGHT}`}
          preserveAspectRatio="xMidYMid meet"
        >
          <title id={titleId}>Convergence of conveyed positions over the day</title>
          <desc id={descId}>{chartSummary(series, money)}</desc>
          <line className="grid" x1={box.left} x2={width - box.right} y1={layout.high.y} y2={layout.high.y} />
          {layout.low.y !== layout.high.y && (
            <line className="grid" x1={box.left} x2={width - box.right} y1={layout.low.y} y2={layout.low.y} />
          )}
          <text className="label" x={box.left} y={layout.high.y - 8}>
            {money(layout.high.amount)}
          </text>
          {layout.low.y !== layout.high.y && (
            <text className="label" x={box.left} y={layout.low.y + 18}>
              {money(layout.low.amount)}
            </text>
          )}
          <Line className="demand" points={layout.demand} />
          <Line className="offer" points={layout.offer} />
          {sameMoment ? (
            <text className="label" x={layout.start.x} y={plotBottom + 40} textAnchor="middle">
              {clock(layout.start.at)}
            </text>
          ) : (
            <>
              <text className="label" x={layout.start.x} y={plotBottom + 40}>
                {clock(layout.start.at)}
              </text>
              <text className="label" x={layout.end.x} y={plotBottom + 40} textAnchor="end">
                {clock(layout.end.at)}
              </text>
            </>
          )}
        </svg>
      </div>
      <figcaption className="ledger-legend">
        <span className="key demand">
          <Swatch kind="demand" /> Claimant's demand
        </span>
        <span className="key offer">
          <Swatch kind="offer" /> Respondent's offer
        </span>
      </figcaption>
    </figure>
  );
}

function Line({ className, points }: { className: "demand" | "offer"; points: PlotPoint[] }) {
  if (points.length === 0) return null;
  return (
    <g className={`series ${className}`}>
      {points.length > 1 && <polyline points={polylinePoints(points)} />}
      {points.map((p) =>
        className === "demand" ? (
          <circle key={p.itemId} cx={p.x} cy={p.y} r={4.5} />
        ) : (
          <rect key={p.itemId} x={p.x - 4} y={p.y - 4} width={8} height={8} />
        ),
      )}
    </g>
  );
}

function Swatch({ kind }: { kind: "demand" | "offer" }) {
  return (
    <svg className={`swatch series ${kind}`} width="34" height="12" viewBox="0 0 34 12" aria-hidden="true">
      <line x1="1" x2="33" y1="6" y2="6" />
      {kind === "demand" ? <circle cx="17" cy="6" r="4" /> : <rect x="13" y="2" width="8" height="8" />}
    </svg>
  );
}
