// From a run's events to what the timeline draws: spans per phase lane, the bytes read over time, and markers
// (errors, retries, resets, faults, the final event). Pure: the SVG renderer and the tests both read this model.

import type { SotaState } from "../../src/sota/engine.js";
import type { TimelineEvent } from "./events.js";

export const LANES = [
  "start-up",
  "offer",
  "confirm",
  "download",
  "reads",
  "erases",
  "verify",
  "activate",
  "trial",
  "report",
] as const;
export type Lane = (typeof LANES)[number];

export const LANE_TITLES: Readonly<Record<Lane, string>> = {
  "start-up": "start-up",
  offer: "offer",
  confirm: "confirm",
  download: "module download",
  reads: "reads",
  erases: "erases",
  verify: "verify",
  activate: "activate",
  trial: "trial",
  report: "report",
};

export interface Span {
  lane: Lane;
  start: number;
  end: number;
  label: string;
  status: "ok" | "failed";
  /** Operations in the span (erased blocks, or 1). */
  count: number;
}

export type MarkerKind = "error" | "retry" | "reset" | "fault" | "final";
export interface Marker {
  t: number;
  kind: MarkerKind;
  label: string;
  /** For a final marker: the update succeeded. */
  ok?: boolean;
}

export interface TimelineModel {
  start: number;
  end: number;
  spans: Span[];
  /** (time, image bytes held) while reading: the device's count, or the file position the module served. */
  bytes: Array<{ t: number; bytes: number }>;
  total: number;
  markers: Marker[];
  title: string;
}

const READ_LINE = /^read (\d+)\+(\d+) → (\d+) bytes/;
const READ_ERROR = /^read (\d+)\+(\d+) → (?!\d+ bytes)/;
const URC_10701 = /^\+QIOTEVT: 7,10701,"[^"]*",(\d+)/;
const TERMINAL: ReadonlySet<SotaState> = new Set([
  "updated",
  "current",
  "failed",
  "refused",
  "no-plan",
  "stopped",
]);

class SpanBuilder {
  readonly spans: Span[] = [];
  readonly #open = new Map<Lane, Span>();

  open(lane: Lane, t: number, label: string): void {
    if (this.#open.has(lane)) return;
    // A phase that resumes the instant it ended (online -> requesting) stays one span.
    const last = this.spans[this.spans.length - 1];
    if (last && last.lane === lane && last.end === t && last.label === label && last.status === "ok") {
      this.spans.pop();
      this.#open.set(lane, last);
      return;
    }
    this.#open.set(lane, { lane, start: t, end: t, label, status: "ok", count: 1 });
  }
  isOpen(lane: Lane): boolean {
    return this.#open.has(lane);
  }
  extend(lane: Lane, t: number): void {
    const span = this.#open.get(lane);
    if (span) span.end = Math.max(span.end, t);
  }
  close(lane: Lane, t: number, status: "ok" | "failed" = "ok", label?: string): void {
    const span = this.#open.get(lane);
    if (!span) return;
    this.#open.delete(lane);
    span.end = Math.max(span.start, t);
    span.status = status;
    if (label !== undefined) span.label = label;
    this.spans.push(span);
  }
  closeAll(t: number): void {
    for (const lane of [...this.#open.keys()]) this.close(lane, t);
  }
  add(span: Span): void {
    this.spans.push(span);
  }
}

/** Which lane a device state belongs to; `trial` is true between a trial boot and the update's end. */
function deviceLane(state: SotaState, trial: boolean, moduleSeen: boolean): Lane | undefined {
  switch (state) {
    case "starting":
    case "connecting":
    case "requesting":
      return trial ? "trial" : "start-up";
    case "reporting":
      return trial ? "report" : "start-up";
    case "offered":
      return "offer";
    case "confirmed":
      return "confirm";
    case "downloading":
      // The module's own download lane shows this wait when the module is seen.
      return moduleSeen ? undefined : "download";
    case "reading":
      return "reads";
    case "verifying":
      return "verify";
    case "updating":
    case "activating":
    case "restarting":
      return "activate";
    case "trial":
      return "trial";
    default:
      return undefined;
  }
}

function ordinal(n: number): string {
  return `piece ${n}`;
}

export function buildTimeline(input: readonly TimelineEvent[]): TimelineModel {
  // Sources stamp with slightly different rounding: a stable sort keeps each source's own order.
  const events = input
    .map((e, i) => ({ e, i }))
    .sort((a, b) => a.e.t - b.e.t || a.i - b.i)
    .map((x) => x.e);
  const spans = new SpanBuilder();
  const markers: Marker[] = [];
  const bytes: Array<{ t: number; bytes: number }> = [];
  let total = 0;
  const hasDevice = events.some((e) => e.source === "device");
  const hasModule = events.some((e) => e.source === "module" || e.source === "monitor");
  const hasMonitorFinal = events.some(
    (e) =>
      e.source === "monitor" && (e.event === "success" || e.event === "failure" || e.event === "refused"),
  );
  let component = "";
  let target = "";
  let from = "";

  // Device-derived lanes.
  let deviceLaneOpen: Lane | undefined;
  let trial = false;
  // Module-derived lanes (used for the device's phases only when no device events were recorded).
  let pieceNumber = 0;
  let lastRead: { start: number } | undefined;
  let lastReadAt = Number.NEGATIVE_INFINITY;
  let lastRx = "";
  let moduleAfterUpdating: "activate" | "trial" | undefined;
  let subscribed = false;

  const closeDeviceLane = (t: number, status: "ok" | "failed" = "ok") => {
    if (deviceLaneOpen) spans.close(deviceLaneOpen, t, status);
    deviceLaneOpen = undefined;
  };

  for (const e of events) {
    switch (e.source) {
      case "device": {
        if (e.total > 0) total = Math.max(total, e.total);
        if (e.state === "offered") {
          const m = /^(\S+) \((\w+)\) -> (\S+),/.exec(e.reason);
          if (m) [component, target] = [m[1]!, m[3]!];
        }
        const lane = deviceLane(e.state, trial, hasModule);
        if (lane !== deviceLaneOpen) {
          // Reads end well only in the next piece's wait or in the verification; anything else cut them short.
          const cut = deviceLaneOpen === "reads" && e.state !== "downloading" && e.state !== "verifying";
          closeDeviceLane(e.t, e.state === "failed" || cut ? "failed" : "ok");
          if (lane) {
            spans.open(
              lane,
              e.t,
              lane === "reads" ? e.reason : lane === "download" ? "waiting for the piece" : "",
            );
            deviceLaneOpen = lane;
          }
        } else if (lane) spans.extend(lane, e.t);
        if (e.state === "reading") bytes.push({ t: e.t, bytes: e.bytes });
        if (TERMINAL.has(e.state)) {
          if (e.state !== "stopped" && e.state !== "no-plan" && trial) trial = false;
          if (e.state === "failed")
            markers.push({
              t: e.t,
              kind: hasMonitorFinal ? "error" : "final",
              label: `device: ${e.reason}`,
              ...(hasMonitorFinal ? {} : { ok: false }),
            });
          else if (
            !hasMonitorFinal &&
            (e.state === "updated" || e.state === "refused" || e.state === "current")
          )
            markers.push({
              t: e.t,
              kind: "final",
              label: `device: ${e.state} (${e.reason})`,
              ok: e.state !== "refused",
            });
        }
        break;
      }
      case "boot":
        if (!from) from = e.version;
        if (e.restart > 0) {
          closeDeviceLane(e.t);
          trial = e.trial;
          markers.push({
            t: e.t,
            kind: "reset",
            label: `device restart: ${e.trial ? `trial boot of ${e.version}` : `running ${e.version}`}${e.rollback ? ` (rolled back: ${e.rollback})` : ""}`,
          });
        }
        break;
      case "erase":
        spans.add({ lane: "erases", start: e.t, end: e.end, label: "", status: "ok", count: e.blocks });
        break;
      case "log":
        // The module's own trace says the same more precisely when it was recorded.
        if (!hasModule) {
          const retry = /^sota: read at (\d+) failed \((.*)\)/.exec(e.text);
          if (retry)
            markers.push({ t: e.t, kind: "retry", label: `read at ${retry[1]} again (${retry[2]})` });
          else if (e.text.startsWith("sota: module restarted"))
            markers.push({ t: e.t, kind: "reset", label: "module reboot (seen by the device)" });
        }
        break;
      case "result":
        closeDeviceLane(e.t, e.status === "failed" || e.status === "error" ? "failed" : "ok");
        break;
      case "monitor":
        if (!component) component = e.component;
        if (e.targetVersion) target = e.targetVersion;
        switch (e.event) {
          case "offered":
            if (!hasDevice) spans.open("offer", e.t, e.detail ?? "");
            break;
          case "confirmed":
          case "refused":
            if (!hasDevice) {
              spans.close("offer", e.t, "ok", e.event);
              if (e.event === "confirmed") spans.open("confirm", e.t, "");
            }
            if (e.event === "refused") markers.push({ t: e.t, kind: "final", label: "refused", ok: false });
            break;
          case "downloading":
            if (!hasDevice) spans.close("confirm", e.t);
            if (!spans.isOpen("download")) spans.open("download", e.t, ordinal(++pieceNumber));
            break;
          case "piece":
            spans.close(
              "download",
              e.t,
              "ok",
              `${ordinal(Math.max(1, pieceNumber))} ${e.detail ?? ""}`.trim(),
            );
            break;
          case "download-failed":
            spans.close("download", e.t, "failed");
            if (!hasDevice) spans.close("confirm", e.t, "failed");
            markers.push({ t: e.t, kind: "error", label: `download failed: ${e.reason ?? ""}` });
            pieceNumber = 0;
            break;
          case "updating":
            if (!hasDevice) {
              spans.close("verify", e.t);
              spans.close("reads", e.t);
              spans.open("activate", e.t, "");
              moduleAfterUpdating = "activate";
            }
            break;
          case "success":
          case "failure":
            spans.close("download", e.t, "failed");
            if (!hasDevice) {
              spans.close("report", e.t, e.event === "success" ? "ok" : "failed");
              spans.close("confirm", e.t, "failed");
              moduleAfterUpdating = undefined;
            }
            pieceNumber = 0;
            markers.push({
              t: e.t,
              kind: "final",
              label:
                e.event === "success"
                  ? "10705 update complete"
                  : `10706 update failed${e.reason ? ": " + e.reason : ""}`,
              ok: e.event === "success",
            });
            break;
        }
        break;
      case "module": {
        const text = e.text;
        if (e.kind === "fault") markers.push({ t: e.t, kind: "fault", label: text });
        else if (e.kind === "note" && text.startsWith("module reboot")) {
          markers.push({ t: e.t, kind: "reset", label: text });
          spans.close("download", e.t, "failed");
          if (!hasDevice) spans.closeAll(e.t);
        } else if (e.kind === "tx" && /(^| \| )ERROR$/.test(text))
          markers.push({ t: e.t, kind: "error", label: `ERROR for ${lastRx}` });
        const m10701 = e.kind === "urc" ? URC_10701.exec(text) : null;
        if (m10701) total = Math.max(total, Number(m10701[1]));
        if (e.kind === "urc" && text === "+QIOTEVT: 7,10702" && !spans.isOpen("download"))
          spans.open("download", e.t, ordinal(++pieceNumber));
        if (e.kind === "read") {
          const ok = READ_LINE.exec(text);
          const failed = READ_ERROR.exec(text);
          const start = Number((ok ?? failed)?.[1] ?? -1);
          // An ERROR reply is marked by its final line; other empty answers only show here.
          if (failed && !text.includes("→ ERROR")) markers.push({ t: e.t, kind: "error", label: text });
          if (ok) {
            const end = start + Number(ok[3]);
            if (!hasDevice) {
              bytes.push({ t: e.t, bytes: end });
              if (!spans.isOpen("reads")) spans.open("reads", e.t, `from ${start}`);
              spans.extend("reads", e.t);
              if (total > 0 && end >= total) spans.open("verify", e.t, "");
            }
          }
        }
        if (e.kind === "rx") {
          lastRx = text;
          // The same offset asked again (after an ERROR, a timeout or a framing error) is a retry.
          const read = /^AT\+QIOTOTARD=(\d+),/i.exec(text);
          if (read) {
            const start = Number(read[1]);
            if (lastRead && lastRead.start === start && e.t - lastReadAt < 120_000)
              markers.push({ t: e.t, kind: "retry", label: `read at ${start} again` });
            lastRead = { start };
            lastReadAt = e.t;
          }
          if (!/^AT\+QIOTOTARD=\d/i.test(text) && !hasDevice) {
            spans.close("reads", e.t);
            if (/^AT\+QIOTUPDATE=3/i.test(text)) spans.close("verify", e.t);
            if (moduleAfterUpdating === "activate" && !/^AT\+QIOTUPDATE=3/i.test(text)) {
              spans.close("activate", e.t);
              spans.open("trial", e.t, "");
              moduleAfterUpdating = "trial";
            }
            if (moduleAfterUpdating === "trial" && /^AT\+QIOTMCUVER/i.test(text)) {
              spans.close("trial", e.t);
              spans.open("report", e.t, "");
            }
          }
        }
        if (!hasDevice) {
          // Start-up: from the device's first command after a module boot to the subscription.
          if (e.kind === "urc" && text === "RDY") subscribed = false;
          if (e.kind === "rx" && !subscribed) spans.open("start-up", e.t, "");
          if (e.kind === "urc" && text === "+QIOTEVT: 3,10200") {
            subscribed = true;
            spans.close("start-up", e.t);
          }
        }
        break;
      }
    }
  }
  const start = events.length ? events[0]!.t : 0;
  const end = events.length ? Math.max(start + 1, events[events.length - 1]!.t) : 1;
  closeDeviceLane(end);
  spans.closeAll(end);
  for (const s of spans.spans) s.end = Math.max(s.end, s.start);
  spans.spans.sort((a, b) => LANES.indexOf(a.lane) - LANES.indexOf(b.lane) || a.start - b.start);
  markers.sort((a, b) => a.t - b.t);
  const finals = markers.filter((m) => m.kind === "final");
  const last = finals[finals.length - 1];
  const size = total > 0 ? `, ${formatSize(total)}` : "";
  const what = component ? `${component} ${from ? from + " → " : "→ "}${target}` : "run";
  const outcome = last
    ? `: ${last.ok ? "updated" : "not updated"} after ${((last.t - start) / 1000).toFixed(1)} s`
    : "";
  return { start, end, spans: spans.spans, bytes, total, markers, title: `${what}${size}${outcome}` };
}

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(bytes % 1024 === 0 ? 0 : 1)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(bytes % (1024 * 1024) === 0 ? 0 : 2)} MiB`;
}
