/**
 * Small SVG charts written directly (no browser, no canvas): attention heatmaps and training curves.
 * Every number is rounded, so the same data gives the same bytes.
 */

const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const r2 = (v: number): string => String(Math.round(v * 100) / 100);

/** White (the smallest value shown) -> deep blue (the largest). */
function color(v: number, min: number, max: number): string {
  const t = max > min ? Math.max(0, Math.min(1, (v - min) / (max - min))) : 0.5;
  const c = (a: number, b: number) => Math.round(a + (b - a) * t);
  return `rgb(${c(255, 8)},${c(255, 48)},${c(255, 107)})`;
}

export interface Heatmap {
  title: string;
  /** rows x cols */
  values: number[][];
  rowLabels: string[];
  colLabels: string[];
  rowAxis: string;
  colAxis: string;
}

export function heatmapSvg(h: Heatmap): string {
  const rows = h.values.length;
  const cols = h.values[0]?.length ?? 0;
  const cell = Math.max(10, Math.min(28, Math.floor(720 / Math.max(cols, 1))));
  const rowLabelW = Math.min(160, 8 + 7 * Math.max(4, ...h.rowLabels.map((l) => l.length)));
  const colLabelH = Math.min(120, 10 + 6 * Math.max(2, ...h.colLabels.map((l) => l.length)));
  const left = rowLabelW + 30;
  const top = 40 + colLabelH;
  const width = Math.max(left + cols * cell + 90, left + 10 * h.title.length);
  const height = Math.max(top + rows * cell + 40, top + 190);
  const flat = h.values.flat();
  const max = Math.max(...flat);
  const min = Math.min(...flat);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="22" font-size="15" font-weight="bold">${esc(h.title)}</text>`,
  ];
  h.values.forEach((row, i) =>
    row.forEach((v, j) => {
      parts.push(
        `<rect x="${left + j * cell}" y="${top + i * cell}" width="${cell}" height="${cell}" fill="${color(v, min, max)}"><title>${esc(h.rowLabels[i] ?? "")} / ${esc(h.colLabels[j] ?? "")}: ${v.toFixed(4)}</title></rect>`,
      );
    }),
  );
  const fs = Math.min(12, cell - 1);
  h.rowLabels.forEach((l, i) =>
    parts.push(`<text x="${left - 6}" y="${r2(top + i * cell + cell * 0.7)}" font-size="${fs}" text-anchor="end">${esc(l)}</text>`),
  );
  h.colLabels.forEach((l, j) => {
    const x = r2(left + j * cell + cell * 0.7);
    parts.push(`<text transform="translate(${x},${top - 6}) rotate(-60)" font-size="${fs}">${esc(l)}</text>`);
  });
  parts.push(`<text x="${left + (cols * cell) / 2}" y="${height - 12}" font-size="12" text-anchor="middle">${esc(h.colAxis)}</text>`);
  parts.push(`<text transform="translate(14,${top + (rows * cell) / 2}) rotate(-90)" font-size="12" text-anchor="middle">${esc(h.rowAxis)}</text>`);
  // Colour scale, from the smallest to the largest value shown.
  const sx = left + cols * cell + 24;
  for (let k = 0; k < 10; k++)
    parts.push(`<rect x="${sx}" y="${top + k * 14}" width="14" height="14" fill="${color(max - ((max - min) * k) / 9, min, max)}"/>`);
  parts.push(
    `<text x="${sx + 18}" y="${top + 10}" font-size="10">${max.toFixed(3)}</text>`,
    `<text x="${sx + 18}" y="${top + 136}" font-size="10">${min.toFixed(3)}</text>`,
  );
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}

export interface Curve {
  name: string;
  values: number[];
}

const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"];

/** Line chart of per-epoch values (one panel per group of curves). */
export function curvesSvg(title: string, panels: { title: string; curves: Curve[] }[]): string {
  const pw = 420;
  const ph = 260;
  const width = panels.length * (pw + 30) + 30;
  const height = ph + 90;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="30" y="22" font-size="15" font-weight="bold">${esc(title)}</text>`,
  ];
  panels.forEach((p, k) => {
    const x0 = 30 + k * (pw + 30) + 40;
    const y0 = 50;
    const w = pw - 50;
    const h = ph - 40;
    const all = p.curves.flatMap((c) => c.values).filter(Number.isFinite);
    const lo = Math.min(...all);
    const hi = Math.max(...all);
    const span = hi - lo || 1;
    const n = Math.max(...p.curves.map((c) => c.values.length), 2);
    const X = (i: number) => x0 + (w * i) / (n - 1);
    const Y = (v: number) => y0 + h - (h * (v - lo)) / span;
    parts.push(`<text x="${x0}" y="${y0 - 12}" font-size="13">${esc(p.title)}</text>`);
    parts.push(`<rect x="${x0}" y="${y0}" width="${w}" height="${h}" fill="none" stroke="#999"/>`);
    for (let t = 0; t <= 4; t++) {
      const v = lo + (span * t) / 4;
      parts.push(`<text x="${x0 - 4}" y="${r2(Y(v) + 4)}" font-size="10" text-anchor="end">${v.toPrecision(3)}</text>`);
    }
    for (let i = 0; i < n; i++)
      if (n <= 20 || i % Math.ceil(n / 10) === 0) parts.push(`<text x="${r2(X(i))}" y="${y0 + h + 14}" font-size="10" text-anchor="middle">${i + 1}</text>`);
    parts.push(`<text x="${x0 + w / 2}" y="${y0 + h + 30}" font-size="11" text-anchor="middle">epoch</text>`);
    p.curves.forEach((c, ci) => {
      const pts = c.values.map((v, i) => `${r2(X(i))},${r2(Y(v))}`).join(" ");
      const col = PALETTE[ci % PALETTE.length]!;
      parts.push(`<polyline points="${pts}" fill="none" stroke="${col}" stroke-width="2"/>`);
      c.values.forEach((v, i) => parts.push(`<circle cx="${r2(X(i))}" cy="${r2(Y(v))}" r="2.5" fill="${col}"/>`));
      parts.push(`<text x="${x0 + w - 4}" y="${y0 + 14 + 14 * ci}" font-size="11" text-anchor="end" fill="${col}">${esc(c.name)}</text>`);
    });
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}

/** Loss and metric curves from a training history. */
export function historySvg(model: string, history: Record<string, number>[]): string {
  const keys = Object.keys(history[0] ?? {}).filter((k) => k !== "epoch");
  const base = [...new Set(keys.map((k) => k.replace(/^val_/, "")))];
  return curvesSvg(
    `${model}: training history`,
    base.map((b) => ({ title: b, curves: keys.filter((k) => k.replace(/^val_/, "") === b).map((k) => ({ name: k, values: history.map((r) => r[k]!) })) })),
  );
}
