// The latency distributions of a run as one SVG: an empirical CDF per scenario (x: milliseconds on a log scale,
// y: the share of samples at or below it), hand-written, no dependency.

export interface Series {
  label: string;
  samples: number[];
}

const COLORS = [
  "#1f77b4",
  "#d62728",
  "#2ca02c",
  "#ff7f0e",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#7f7f7f",
  "#bcbd22",
  "#17becf",
  "#000000",
  "#aec7e8",
  "#98df8a",
  "#ff9896",
];

const xml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

export function cdfSvg(title: string, all: Series[]): string {
  const series = all.filter((s) => s.samples.some((x) => Number.isFinite(x) && x > 0));
  const W = 1100;
  const H = 560;
  const left = 60;
  const top = 40;
  const plotW = 640;
  const plotH = 460;
  const values = series.flatMap((s) => s.samples.filter((x) => Number.isFinite(x) && x > 0));
  const lo = 10 ** Math.floor(Math.log10(Math.max(0.01, Math.min(...values, 1))));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...values, 10)));
  const x = (ms: number) =>
    left + ((Math.log10(Math.max(ms, lo)) - Math.log10(lo)) / Math.log10(hi / lo)) * plotW;
  const y = (q: number) => top + (1 - q) * plotH;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${left}" y="22" font-size="15">${xml(title)}</text>`,
  ];
  for (let d = lo; d <= hi * 1.0001; d *= 10) {
    out.push(
      `<line x1="${x(d)}" y1="${top}" x2="${x(d)}" y2="${top + plotH}" stroke="#ddd"/>`,
      `<text x="${x(d)}" y="${top + plotH + 16}" text-anchor="middle">${d >= 1 ? d.toLocaleString("en-US") : d} ms</text>`,
    );
  }
  for (const q of [0, 0.25, 0.5, 0.75, 0.9, 0.99]) {
    out.push(
      `<line x1="${left}" y1="${y(q)}" x2="${left + plotW}" y2="${y(q)}" stroke="${q === 0.5 || q === 0.99 ? "#bbb" : "#eee"}"/>`,
      `<text x="${left - 6}" y="${y(q) + 4}" text-anchor="end">${q === 0.99 ? "p99" : q === 0.5 ? "p50" : q}</text>`,
    );
  }
  out.push(`<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`);
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const sorted = s.samples.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
    const n = sorted.length;
    const step = Math.max(1, Math.floor(n / 400));
    const points: string[] = [];
    for (let k = 0; k < n; k += step)
      points.push(`${x(sorted[k] as number).toFixed(1)},${y((k + 1) / n).toFixed(1)}`);
    points.push(`${x(sorted[n - 1] as number).toFixed(1)},${y(1).toFixed(1)}`);
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="1.6" points="${points.join(" ")}"/>`);
    const ly = top + 6 + i * 18;
    out.push(
      `<line x1="${left + plotW + 20}" y1="${ly}" x2="${left + plotW + 44}" y2="${ly}" stroke="${color}" stroke-width="3"/>`,
      `<text x="${left + plotW + 50}" y="${ly + 4}">${xml(s.label)} (n=${n})</text>`,
    );
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
