// Side-by-side rows (baseline vs Backchannel, same run) and their plain-text table.
import { type Summary, summarize } from "./stats";

export type Stat = "p50" | "p95" | "p99" | "max";

export interface Row {
  metric: string;
  stat: Stat;
  /** milliseconds */
  baseline: number;
  /** milliseconds */
  backchannel: number;
  /** backchannel / baseline; null for "max", which compares runs of different lengths (one outlier each) */
  ratio: number | null;
}

export interface Comparison {
  metric: string;
  baseline: Summary;
  backchannel: Summary;
}

export function compare(metric: string, baseline: number[], backchannel: number[]): Comparison {
  return { metric, baseline: summarize(baseline), backchannel: summarize(backchannel) };
}

export function rowsOf(c: Comparison, stats: Stat[]): Row[] {
  return stats.map((stat) => {
    const baseline = c.baseline[stat];
    const backchannel = c.backchannel[stat];
    const ratio = stat === "max" ? null : Math.round((backchannel / baseline) * 10) / 10;
    return { metric: c.metric, stat, baseline, backchannel, ratio };
  });
}

const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "n/a");

export function renderTable(rows: Row[]): string {
  const header = ["metric", "stat", "baseline ms", "backchannel ms", "ratio"];
  const body = rows.map((r) => [
    r.metric,
    r.stat,
    ms(r.baseline),
    ms(r.backchannel),
    r.ratio === null ? "-" : Number.isFinite(r.ratio) ? `${r.ratio.toFixed(1)}x` : "n/a",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((cells) => (cells[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < 2 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ");
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  const out = [line(header), rule];
  let previous = "";
  for (const [i, cells] of body.entries()) {
    const metric = rows[i]?.metric ?? "";
    out.push(line(metric === previous ? ["", ...cells.slice(1)] : cells));
    previous = metric;
  }
  return out.join("\n");
}
