// The timeline as SVG text: a pure function of the run's events (no DOM), readable for a 20 KiB and a 1 MiB update:
// time on the x-axis, one lane per phase, the bytes read over time above them, and markers through both.

import type { TimelineEvent } from "./events.js";
import { LANES, LANE_TITLES, buildTimeline, formatSize } from "./model.js";
import type { Lane, Marker, MarkerKind, Span, TimelineModel } from "./model.js";

export interface SvgOptions {
  /** Width in pixels (default 1200). */
  width?: number;
}

const LEFT = 132;
const RIGHT = 24;
const TITLE_H = 30;
const MARKER_ROW = 13;
const MARKER_ROWS = 3;
const MARKER_H = MARKER_ROW * MARKER_ROWS + 4;
const CHART_H = 110;
const LANE_H = 24;
const AXIS_H = 30;
const LEGEND_H = 26;

const LANE_COLOURS: Readonly<Record<Lane, string>> = {
  "start-up": "#7f8c8d",
  offer: "#8e44ad",
  confirm: "#9b59b6",
  download: "#2980b9",
  reads: "#27ae60",
  erases: "#d35400",
  verify: "#16a085",
  activate: "#c0392b",
  trial: "#f39c12",
  report: "#2c3e50",
};

const MARKER_COLOURS: Readonly<Record<MarkerKind, string>> = {
  error: "#e74c3c",
  retry: "#e67e22",
  reset: "#8e44ad",
  fault: "#6c3483",
  final: "#27ae60",
};

function esc(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function num(n: number): string {
  return String(Math.round(n * 100) / 100);
}

function ms(n: number): string {
  return String(Math.round(n * 1000) / 1000);
}

/** Tick step (ms) giving about `count` ticks over `range` ms: 1, 2 or 5 times a power of ten. */
export function tickStep(range: number, count = 10): number {
  const raw = Math.max(range / count, 1);
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * power >= raw) return m * power;
  return 10 * power;
}

function tickLabel(msValue: number, step: number): string {
  const s = msValue / 1000;
  if (step >= 60_000 && s >= 60)
    return `${Math.floor(s / 60)}:${String(Math.round(s % 60)).padStart(2, "0")}`;
  const decimals = step >= 1000 ? 0 : step >= 100 ? 1 : 2;
  return `${s.toFixed(decimals)} s`;
}

/** Spans closer than a pixel are one rectangle (with their summed count): 256 erases stay readable. */
function mergeForPixels(spans: Span[], pxPerMs: number): Span[] {
  const out: Span[] = [];
  for (const s of spans) {
    const prev = out[out.length - 1];
    if (
      prev &&
      prev.lane === s.lane &&
      prev.status === s.status &&
      (s.start - prev.end) * pxPerMs < 1 &&
      prev.lane !== "download"
    ) {
      prev.end = Math.max(prev.end, s.end);
      prev.count += s.count;
      if (prev.label !== s.label) prev.label = prev.lane === "reads" ? "" : prev.label;
      continue;
    }
    out.push({ ...s });
  }
  return out;
}

function markerShape(kind: MarkerKind, x: number, y: number, ok: boolean | undefined): string {
  const c = kind === "final" && ok === false ? "#c0392b" : MARKER_COLOURS[kind];
  switch (kind) {
    case "error":
      return `<path d="M${num(x - 5)},${num(y - 5)} L${num(x + 5)},${num(y + 5)} M${num(x + 5)},${num(y - 5)} L${num(x - 5)},${num(y + 5)}" stroke="${c}" stroke-width="2.5"/>`;
    case "retry":
      return `<path d="M${num(x)},${num(y - 6)} L${num(x + 6)},${num(y + 5)} L${num(x - 6)},${num(y + 5)} Z" fill="${c}"/>`;
    case "reset":
      return `<path d="M${num(x)},${num(y - 7)} L${num(x + 6)},${num(y)} L${num(x)},${num(y + 7)} L${num(x - 6)},${num(y)} Z" fill="${c}"/>`;
    case "fault":
      return `<path d="M${num(x + 2)},${num(y - 7)} L${num(x - 4)},${num(y + 1)} L${num(x)},${num(y + 1)} L${num(x - 2)},${num(y + 7)} L${num(x + 4)},${num(y - 1)} L${num(x)},${num(y - 1)} Z" fill="${c}"/>`;
    case "final":
      return `<path d="M${num(x)},${num(y + 7)} L${num(x)},${num(y - 7)} L${num(x + 10)},${num(y - 3.5)} L${num(x)},${num(y)}" fill="${c}" stroke="${c}" stroke-width="1.5"/>`;
  }
}

/** The SVG of a model (see `timelineSvg` for events). */
export function renderTimeline(model: TimelineModel, options: SvgOptions = {}): string {
  const width = options.width ?? 1200;
  const plotW = width - LEFT - RIGHT;
  const range = Math.max(1, model.end - model.start);
  const pxPerMs = plotW / range;
  const x = (t: number) => LEFT + (t - model.start) * pxPerMs;
  const markersTop = TITLE_H;
  const chartTop = markersTop + MARKER_H;
  const lanesTop = chartTop + CHART_H + 8;
  const lanesBottom = lanesTop + LANES.length * LANE_H;
  const height = lanesBottom + AXIS_H + LEGEND_H;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
      `font-family="DejaVu Sans, Arial, sans-serif" font-size="11" data-start="${ms(model.start)}" data-end="${ms(model.end)}">`,
  );
  out.push(`<title>${esc(model.title)}</title>`);
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(
    `<text class="title" x="${LEFT}" y="20" font-size="14" font-weight="bold">${esc(model.title)}</text>`,
  );

  // Time axis: grid lines through the chart and the lanes, labels below.
  const step = tickStep(range);
  out.push(`<g class="axis" data-step="${step}">`);
  for (let t = 0; t <= range + 1e-6; t += step) {
    const gx = num(x(model.start + t));
    out.push(
      `<line x1="${gx}" y1="${chartTop}" x2="${gx}" y2="${lanesBottom}" stroke="#e5e5e5"/>` +
        `<text class="tick" x="${gx}" y="${lanesBottom + 16}" text-anchor="middle" fill="#555">${tickLabel(t, step)}</text>`,
    );
  }
  out.push(
    `<text x="${LEFT + plotW}" y="${lanesBottom + 28}" text-anchor="end" fill="#555">time since the first event</text>`,
  );
  out.push(`</g>`);

  // Bytes read over time: one point per pixel column at most (the last in the column), drops kept.
  const total = Math.max(model.total, ...model.bytes.map((b) => b.bytes), 1);
  const y = (b: number) => chartTop + CHART_H - (b / total) * (CHART_H - 6);
  out.push(`<g class="bytes" data-total="${model.total}" data-points="${model.bytes.length}">`);
  out.push(
    `<rect x="${LEFT}" y="${chartTop}" width="${plotW}" height="${CHART_H}" fill="none" stroke="#ccc"/>`,
  );
  out.push(
    `<text x="${LEFT - 6}" y="${chartTop + 10}" text-anchor="end" fill="#555">${esc(formatSize(total))}</text>` +
      `<text x="${LEFT - 6}" y="${chartTop + CHART_H}" text-anchor="end" fill="#555">0</text>` +
      `<text x="8" y="${chartTop + CHART_H / 2}" fill="#333" font-weight="bold">bytes read</text>`,
  );
  if (model.bytes.length > 0) {
    const points: string[] = [];
    let column = Number.NaN;
    for (const p of model.bytes) {
      const px = Math.round(x(p.t));
      const point = `${px},${num(y(p.bytes))}`;
      if (px === column) points[points.length - 1] = point;
      else points.push(point);
      column = px;
    }
    out.push(
      `<polyline class="bytes-line" fill="none" stroke="#27ae60" stroke-width="1.8" points="${points.join(" ")}"/>`,
    );
  }
  out.push(`</g>`);

  // Lanes.
  const merged = mergeForPixels(model.spans, pxPerMs);
  LANES.forEach((lane, i) => {
    const top = lanesTop + i * LANE_H;
    const spans = merged.filter((s) => s.lane === lane);
    const count = model.spans.filter((s) => s.lane === lane).reduce((n, s) => n + s.count, 0);
    out.push(`<g class="lane" data-lane="${lane}" data-count="${count}">`);
    out.push(
      `<rect class="lane-bg" x="${LEFT}" y="${top}" width="${plotW}" height="${LANE_H}" fill="${i % 2 ? "#fafafa" : "#f2f2f2"}"/>` +
        `<text class="lane-title" x="${LEFT - 6}" y="${top + LANE_H / 2 + 4}" text-anchor="end" fill="#333">${esc(LANE_TITLES[lane])}</text>`,
    );
    for (const s of spans) {
      const sx = x(s.start);
      const w = Math.max(1, (s.end - s.start) * pxPerMs);
      const colour = s.status === "failed" ? "#e74c3c" : LANE_COLOURS[lane];
      const duration = ((s.end - s.start) / 1000).toFixed(3);
      const what =
        lane === "erases"
          ? `${s.count} block${s.count === 1 ? "" : "s"} erased`
          : s.label || LANE_TITLES[lane];
      out.push(
        `<rect class="span ${s.status}" x="${num(sx)}" y="${top + 4}" width="${num(w)}" height="${LANE_H - 8}" rx="2" fill="${colour}" ` +
          `data-start="${ms(s.start)}" data-end="${ms(s.end)}" data-count="${s.count}"><title>${esc(`${what}: ${duration} s`)}</title></rect>`,
      );
      const label = lane === "erases" ? "" : s.label;
      if (label && w > label.length * 6.2 + 6)
        out.push(
          `<text class="span-label" x="${num(sx + 3)}" y="${top + LANE_H / 2 + 4}" fill="#fff" font-size="10">${esc(label)}</text>`,
        );
    }
    out.push(`</g>`);
  });

  // Markers: a symbol in the band above the chart and a line down through the lanes.
  out.push(`<g class="markers" data-count="${model.markers.length}">`);
  // Markers that would overlap go to the next row of the band.
  const rowEnds: number[] = new Array<number>(MARKER_ROWS).fill(Number.NEGATIVE_INFINITY);
  for (const m of model.markers) {
    const mx = x(m.t);
    const text = shortLabel(m);
    const widthPx = 14 + (text ? text.length * 6.2 + 4 : 0);
    let row = rowEnds.findIndex((end) => end < mx - 7);
    if (row < 0) row = MARKER_ROWS - 1;
    const leftward = mx + widthPx > width - 4;
    rowEnds[row] = leftward ? mx + 7 : mx + widthPx;
    out.push(markerSvg(m, mx, markersTop + 8 + row * MARKER_ROW, lanesBottom, text, leftward));
  }
  out.push(`</g>`);

  // Legend.
  const ly = height - 9;
  const legend: Array<[MarkerKind, string, boolean | undefined]> = [
    ["final", "final event (10705 / device outcome)", true],
    ["final", "failed", false],
    ["error", "error", undefined],
    ["retry", "retry", undefined],
    ["reset", "reset / reboot", undefined],
    ["fault", "injected fault", undefined],
  ];
  out.push(`<g class="legend">`);
  let lx = LEFT;
  for (const [kind, text, ok] of legend) {
    out.push(
      markerShape(kind, lx + 6, ly - 4, ok),
      `<text x="${lx + 20}" y="${ly}" fill="#333">${esc(text)}</text>`,
    );
    lx += 30 + text.length * 6.2;
  }
  out.push(`</g>`);
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}

/** The words printed beside a marker: the final event and resets; other kinds keep theirs in the tooltip. */
function shortLabel(m: Marker): string {
  if (m.kind === "final")
    return m.label.startsWith("10705")
      ? "10705"
      : m.label.startsWith("10706")
        ? "10706"
        : m.ok
          ? "updated"
          : "failed";
  if (m.kind === "reset") return m.label.startsWith("module reboot") ? "module reboot" : "device restart";
  return "";
}

function markerSvg(
  m: Marker,
  mx: number,
  my: number,
  bottom: number,
  text: string,
  leftward: boolean,
): string {
  const colour = m.kind === "final" && m.ok === false ? "#c0392b" : MARKER_COLOURS[m.kind];
  const label = text
    ? `<text class="marker-label" x="${num(leftward ? mx - 9 : mx + 12)}" y="${num(my + 4)}" text-anchor="${leftward ? "end" : "start"}" fill="${colour}" font-size="10">${esc(text)}</text>`
    : "";
  return (
    `<g class="marker" data-kind="${m.kind}" data-t="${ms(m.t)}"${m.ok !== undefined ? ` data-ok="${m.ok}"` : ""}>` +
    `<title>${esc(`${(m.t / 1000).toFixed(3)} s: ${m.label}`)}</title>` +
    `<line x1="${num(mx)}" y1="${num(my + 7)}" x2="${num(mx)}" y2="${bottom}" stroke="${colour}" stroke-width="1" stroke-dasharray="3,3" opacity="0.7"/>` +
    markerShape(m.kind, mx, my, m.ok) +
    label +
    `</g>`
  );
}

/** The timeline of a run's events as SVG text. */
export function timelineSvg(events: readonly TimelineEvent[], options: SvgOptions = {}): string {
  return renderTimeline(buildTimeline(events), options);
}
