// The timeline's input: one flat list of timestamped, JSON-able events gathered from the virtual module (AT exchange,
// monitoring log), the device (engine progress, boots, flash erases, result), and the recorder that collects them.

import type { BootReport } from "../../src/boot/types.js";
import type { FlashPartition } from "../../hal/flash.js";
import type { SotaProgress, SotaState } from "../../src/sota/engine.js";
import type { MonitorEntry, MonitorEvent } from "../module/monitor.js";
import type { TraceEntry, TraceKind } from "../module/virtual-module.js";

/** A line of the module's AT exchange (its `onTrace`): commands received, replies, URCs, reads, notes, faults. */
export interface ModuleTraceEvent {
  t: number;
  source: "module";
  kind: TraceKind;
  text: string;
}

/** An entry of the module's upgrade monitoring log (the Developer Center side). */
export interface MonitorTimelineEvent {
  t: number;
  source: "monitor";
  event: MonitorEvent;
  device: string;
  component: string;
  targetVersion?: string;
  reason?: string;
  detail?: string;
}

/** An engine progress report of the device. */
export interface DeviceStateEvent {
  t: number;
  source: "device";
  state: SotaState;
  bytes: number;
  total: number;
  reason: string;
}

/** A boot decision of the device (restart 0 is the first start). */
export interface BootEvent {
  t: number;
  source: "boot";
  restart: number;
  trial: boolean;
  version: string;
  rollback: string;
}

/** Sector erases on the device's flash (from `observeFlash`), from start to end. */
export interface EraseEvent {
  t: number;
  source: "erase";
  end: number;
  blocks: number;
}

/** How the device's session ended (`sota-device` result). */
export interface ResultEvent {
  t: number;
  source: "result";
  status: string;
  reason: string;
}

/** An engine diagnostic line (`onLog`): read retries and module restarts as the device saw them. */
export interface DeviceLogEvent {
  t: number;
  source: "log";
  text: string;
}

export type TimelineEvent =
  | DeviceLogEvent
  | ModuleTraceEvent
  | MonitorTimelineEvent
  | DeviceStateEvent
  | BootEvent
  | EraseEvent
  | ResultEvent;

export const DEVICE_LOG_MARKS = /^sota: (read at \d+ failed|module restarted)/;

/** Collects events from the module's and the device's hooks; `events` is what `timelineSvg` draws. */
export class TimelineRecorder {
  readonly events: TimelineEvent[] = [];
  #lastReading: DeviceStateEvent | undefined;
  readonly #now: () => number;

  /** `now` stamps events whose source carries no time (progress, boots, erases, results). */
  constructor(now: () => number) {
    this.#now = now;
  }

  trace(entry: TraceEntry): void {
    this.events.push({ t: entry.time, source: "module", kind: entry.kind, text: entry.text });
  }

  monitor(entry: MonitorEntry): void {
    const e: MonitorTimelineEvent = {
      t: entry.time,
      source: "monitor",
      event: entry.event,
      device: entry.device,
      component: entry.component,
    };
    if (entry.targetVersion !== undefined) e.targetVersion = entry.targetVersion;
    if (entry.reason !== undefined) e.reason = entry.reason;
    if (entry.detail !== undefined) e.detail = entry.detail;
    this.events.push(e);
  }

  progress(p: Readonly<SotaProgress>): void {
    const t = this.#now();
    // Reads report every block; at the same instant only the last one matters.
    if (p.state === "reading" && this.#lastReading && this.#lastReading.t === t) {
      this.#lastReading.bytes = p.bytes;
      this.#lastReading.total = p.total;
      return;
    }
    const e: DeviceStateEvent = {
      t,
      source: "device",
      state: p.state,
      bytes: p.bytes,
      total: p.total,
      reason: p.reason,
    };
    this.#lastReading = p.state === "reading" ? e : undefined;
    this.events.push(e);
  }

  boot(report: BootReport, restart: number): void {
    this.events.push({
      t: this.#now(),
      source: "boot",
      restart,
      trial: report.trial,
      version: report.running.version,
      rollback: report.rollbackReason ?? "",
    });
  }

  erase(start: number, end: number, blocks: number): void {
    this.events.push({ t: start, source: "erase", end, blocks });
  }

  /** Keeps only the diagnostics the timeline marks (read retries, module restarts). */
  log(text: string): void {
    if (DEVICE_LOG_MARKS.test(text)) this.events.push({ t: this.#now(), source: "log", text });
  }

  result(status: string, reason: string): void {
    this.events.push({ t: this.#now(), source: "result", status, reason });
  }
}

/** A FlashPartition that tells `recorder` about each erase (with its time span: a simulated erase costs clock time). */
export function observeFlash(
  flash: FlashPartition,
  now: () => number,
  recorder: TimelineRecorder,
): FlashPartition {
  return {
    status: () => flash.status(),
    eraseBlock: (start, end = start + 1) => {
      const t = now();
      flash.eraseBlock(start, end);
      recorder.erase(t, now(), end - start);
    },
    read: (into, offset) => flash.read(into, offset),
    write: (bytes, offset) => flash.write(bytes, offset),
  };
}
