// The bench's rows (each: metric, value, the floor or baseline it is compared with, the ratio, the target and
// whether it was met), as a console table and as Markdown for docs/benchmarks.md.

export type Unit = "ms" | "/s" | "KiB" | "MiB" | "%" | "count";
export type Status = "met" | "missed" | "info" | "skipped" | "failed";

export interface Row {
  metric: string;
  /** null: not measured (skipped or failed; see note) */
  value: number | null;
  unit: Unit;
  /** the floor or bare-Socket.IO figure of the same run it is compared with, same unit */
  reference: number | null;
  referenceLabel: string;
  /** value / reference */
  ratio: number | null;
  /** e.g. "<= 1.5x floor", "p99 <= 10 ms"; empty when there is none */
  target: string;
  status: Status;
  note?: string;
}

export interface RowInput {
  metric: string;
  value: number | null;
  unit: Unit;
  reference?: { value: number | null; label: string };
  target?: { text: string; met: (value: number, ratio: number | null) => boolean };
  note?: string;
}

export function row(r: RowInput): Row {
  const ref = r.reference?.value ?? null;
  const measured = r.value !== null && Number.isFinite(r.value);
  const ratio =
    measured && ref !== null && ref > 0 ? Math.round(((r.value as number) / ref) * 100) / 100 : null;
  let status: Status = "info";
  if (r.value === null) status = "skipped";
  else if (!measured) status = "failed";
  else if (r.target) status = r.target.met(r.value, ratio) ? "met" : "missed";
  return {
    metric: r.metric,
    value: r.value,
    unit: r.unit,
    reference: ref,
    referenceLabel: r.reference?.label ?? "",
    ratio,
    target: r.target?.text ?? "",
    status,
    ...(r.note ? { note: r.note } : {}),
  };
}

export function skipped(metric: string, unit: Unit, why: string, target?: string): Row {
  return {
    metric,
    value: null,
    unit,
    reference: null,
    referenceLabel: "",
    ratio: null,
    target: target ?? "",
    status: "skipped",
    note: why,
  };
}

export function formatValue(x: number | null, unit: Unit): string {
  if (x === null) return "-";
  if (!Number.isFinite(x)) return "n/a";
  switch (unit) {
    case "ms":
      return `${x < 10 ? x.toFixed(2) : x < 1000 ? x.toFixed(1) : x.toFixed(0)} ms`;
    case "/s":
      return `${x.toLocaleString("en-US")}/s`;
    case "KiB":
      return `${x.toFixed(1)} KiB`;
    case "MiB":
      return `${x.toFixed(0)} MiB`;
    case "%":
      return `${x.toFixed(0)} %`;
    case "count":
      return x.toLocaleString("en-US");
  }
}

function cells(r: Row): string[] {
  return [
    r.metric,
    formatValue(r.value, r.unit),
    r.reference === null ? "" : `${formatValue(r.reference, r.unit)} ${r.referenceLabel}`.trim(),
    r.ratio === null ? "" : `${Math.abs(r.ratio) >= 10 ? r.ratio.toFixed(0) : r.ratio.toFixed(2)}x`,
    r.target,
    `${r.status}${r.note ? `: ${r.note}` : ""}`,
  ];
}

const HEADER = ["metric", "value", "floor / baseline", "ratio", "target", "result"];

export interface Section {
  title: string;
  rows: Row[];
}

export function renderTable(sections: Section[]): string {
  const all = sections.flatMap((s) => s.rows.map(cells));
  const widths = HEADER.map((h, i) =>
    Math.min(i === 5 ? 60 : 200, Math.max(h.length, ...all.map((c) => (c[i] ?? "").length))),
  );
  const line = (c: string[]) =>
    c
      .map((x, i) => (i === 1 || i === 3 ? x.padStart(widths[i] ?? 0) : x.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  const out = [line(HEADER), widths.map((w) => "-".repeat(w)).join("  ")];
  for (const s of sections) {
    out.push(`[${s.title}]`);
    for (const r of s.rows) out.push(line(cells(r)));
  }
  return out.join("\n");
}

export function renderMarkdown(sections: Section[]): string {
  const esc = (x: string) => x.replace(/\|/g, "\\|");
  const out = [
    `| ${HEADER.join(" | ")} |`,
    `|${HEADER.map((_, i) => (i === 1 || i === 3 ? " ---: " : " --- ")).join("|")}|`,
  ];
  for (const s of sections) {
    out.push(`| **${esc(s.title)}** | | | | | |`);
    for (const r of s.rows) out.push(`| ${cells(r).map(esc).join(" | ")} |`);
  }
  return out.join("\n");
}
