// How the host device shows its work: JSON lines (throttled progress + the result) or text (a live bar on a TTY,
// plain lines otherwise). Pure formatting over a write function, so tests can read exactly what is printed.

import type { SotaProgress } from "../../src/sota/engine.js";
import type { DeviceResult } from "./session.js";

export interface ReportSink {
  write(text: string): void;
  /** A live terminal: the progress bar redraws one line in place. */
  isTTY?: boolean;
  columns?: number;
}

export interface Reporter {
  progress(progress: Readonly<SotaProgress>): void;
  result(result: DeviceResult): void;
  /** An engine diagnostic (only printed when verbose). */
  log(message: string): void;
  /** Something the user must see (e.g. "flash created"). */
  note(message: string): void;
}

export interface ReporterOptions {
  /** Milliseconds since the session started (the device's clock). */
  elapsedMs: () => number;
  verbose?: boolean;
  /** Minimum time between two progress lines while reading (default 250 ms). */
  intervalMs?: number;
  /** Minimum percent step between two progress lines while reading (default 5). */
  stepPercent?: number;
}

/** A reading-progress filter: true when enough time or percent passed since the last line it let through. */
export class ProgressThrottle {
  #lastAt = Number.NEGATIVE_INFINITY;
  #lastPercent = Number.NEGATIVE_INFINITY;
  constructor(
    readonly intervalMs: number,
    readonly stepPercent: number,
  ) {}
  reset(): void {
    this.#lastAt = Number.NEGATIVE_INFINITY;
    this.#lastPercent = Number.NEGATIVE_INFINITY;
  }
  pass(now: number, percent: number, finished: boolean): boolean {
    if (!finished && now - this.#lastAt < this.intervalMs && percent - this.#lastPercent < this.stepPercent)
      return false;
    this.#lastAt = now;
    this.#lastPercent = percent;
    return true;
  }
}

function seconds(ms: number): number {
  return Math.round(ms) / 1000;
}

/** One JSON object per line on `sink` (stdout): progress, notes, and the final result. */
export class JsonReporter implements Reporter {
  readonly #sink: ReportSink;
  readonly #options: ReporterOptions;
  readonly #throttle: ProgressThrottle;
  readonly #logSink: ReportSink | undefined;

  constructor(sink: ReportSink, options: ReporterOptions, logSink?: ReportSink) {
    this.#sink = sink;
    this.#options = options;
    this.#throttle = new ProgressThrottle(options.intervalMs ?? 250, options.stepPercent ?? 5);
    this.#logSink = logSink;
  }

  progress(p: Readonly<SotaProgress>): void {
    const now = this.#options.elapsedMs();
    if (p.state === "reading") {
      if (!this.#throttle.pass(now, p.percent, p.total > 0 && p.bytes >= p.total)) return;
    } else {
      // A new phase: the next reading line shows at once.
      this.#throttle.reset();
    }
    this.#line({
      event: "progress",
      t: seconds(now),
      state: p.state,
      runningVersion: p.runningVersion,
      targetVersion: p.targetVersion,
      bytes: p.bytes,
      total: p.total,
      percent: p.percent,
      rate: p.rateBytesPerSecond,
      reason: p.reason,
    });
  }

  result(r: DeviceResult): void {
    this.#line({
      event: "result",
      status: r.status,
      exitCode: r.exitCode,
      reason: r.reason,
      runningVersion: r.runningVersion,
      targetVersion: r.targetVersion,
      bytes: r.bytes,
      seconds: r.seconds,
      restarts: r.restarts,
    });
  }

  log(message: string): void {
    // Diagnostics go to stderr so stdout stays one JSON object per line.
    if (this.#options.verbose) this.#logSink?.write(`${message}\n`);
  }

  note(message: string): void {
    this.#line({ event: "note", t: seconds(this.#options.elapsedMs()), message });
  }

  #line(object: Record<string, unknown>): void {
    this.#sink.write(`${JSON.stringify(object)}\n`);
  }
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(2)} MiB`;
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "--";
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
}

/** The bar line: `[#####.....]  45%  12.0/27.0 KiB  10.9 KiB/s  ETA 1s  reading`. */
export function progressLine(p: Readonly<SotaProgress>, width: number): string {
  const total = p.total > 0 ? p.total : 0;
  const fraction = total > 0 ? Math.min(1, p.bytes / total) : 0;
  const rate = p.rateBytesPerSecond;
  const eta = rate > 0 && total > 0 ? ((total - p.bytes) * 1000) / rate : Number.NaN;
  const tail = `${String(Math.floor(fraction * 100)).padStart(3)}%  ${formatBytes(p.bytes)}/${formatBytes(total)}  ${formatBytes(rate)}/s  ETA ${formatDuration(eta)}  ${p.state}`;
  // From the width alone, so the bar does not jump as the numbers change length.
  const barWidth = Math.max(10, Math.min(30, width - 60));
  const filled = Math.round(fraction * barWidth);
  return `[${"#".repeat(filled)}${".".repeat(barWidth - filled)}] ${tail}`;
}

const RESULT_WORDS: Record<DeviceResult["status"], string> = {
  updated: "updated",
  current: "already current",
  "no-plan": "no plan offered",
  refused: "plan refused",
  failed: "update failed, old image kept",
  error: "error",
  stopped: "stopped",
};

export function resultLine(r: DeviceResult): string {
  const running = r.runningVersion || "?";
  const words = RESULT_WORDS[r.status];
  const shown = r.reason && r.reason !== `running ${running}` ? r.reason : "";
  // A reason that starts with the words already ("no plan offered within 15 s: ...") is not said twice.
  const text = !shown ? words : shown.startsWith(words) ? shown : `${words}: ${shown}`;
  const transfer = r.bytes > 0 ? `, ${r.bytes} bytes received` : "";
  return `${text} (running ${running}${transfer}, ${r.seconds.toFixed(1)} s, exit ${r.exitCode})`;
}

/** Readable output: one line per state change, a live bar while reading (TTY) or a line per 10 % (no TTY). */
export class TextReporter implements Reporter {
  readonly #sink: ReportSink;
  readonly #options: ReporterOptions;
  readonly #throttle: ProgressThrottle;
  #barShown = false;
  #lastState = "";

  constructor(sink: ReportSink, options: ReporterOptions) {
    this.#sink = sink;
    this.#options = options;
    this.#throttle = sink.isTTY
      ? new ProgressThrottle(options.intervalMs ?? 100, 1)
      : new ProgressThrottle(Number.POSITIVE_INFINITY, 10);
  }

  progress(p: Readonly<SotaProgress>): void {
    const now = this.#options.elapsedMs();
    if (p.state === "reading") {
      if (!this.#throttle.pass(now, p.percent, p.total > 0 && p.bytes >= p.total)) return;
      if (this.#sink.isTTY) {
        this.#sink.write(`\r\x1b[K${progressLine(p, this.#sink.columns ?? 80)}`);
        this.#barShown = true;
      } else {
        this.#sink.write(`${stamp(now)} ${progressLine(p, 60)}\n`);
      }
      return;
    }
    // Repeats of one state with the same words add nothing.
    const key = `${p.state}|${p.reason}`;
    if (key === this.#lastState) return;
    this.#lastState = key;
    this.#throttle.reset();
    this.#print(`${stamp(now)} ${p.state}${p.reason ? ": " + p.reason : ""}`);
  }

  result(r: DeviceResult): void {
    this.#print(`${stamp(this.#options.elapsedMs())} ${resultLine(r)}`);
  }

  log(message: string): void {
    // The engine logs each state change too; the progress line that follows already says it.
    if (this.#options.verbose && !STATE_LOG.test(message))
      this.#print(`${stamp(this.#options.elapsedMs())}   ${message}`);
  }

  note(message: string): void {
    this.#print(message);
  }

  /** Ends a live bar's line so that other output can follow (the bar is redrawn below at its next update). */
  breakLine(): void {
    if (this.#barShown) {
      this.#sink.write("\n");
      this.#barShown = false;
    }
  }

  #print(line: string): void {
    if (this.#barShown) {
      // Keep the finished bar on screen and start the next line under it.
      this.#sink.write("\n");
      this.#barShown = false;
    }
    this.#sink.write(`${line}\n`);
  }
}

const STATE_LOG =
  /^sota: (starting|connecting|online|requesting|no-plan|offered|refused|confirmed|downloading|reading|verifying|updating|activating|restarting|trial|reporting|updated|current|failed|stopped)(: |$)/;

function stamp(ms: number): string {
  return `[${(ms / 1000).toFixed(3).padStart(8)}s]`;
}
