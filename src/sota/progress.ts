// What the engine tells the app: its state with a reason, and the bytes, rate and percentage while reading.

import type { Clock } from "../../hal/clock.js";
import type { SystemPort } from "../../hal/system.js";

export type SotaState =
  | "starting"
  | "connecting"
  | "online"
  | "requesting"
  | "no-plan"
  | "offered"
  | "refused"
  | "confirmed"
  | "downloading"
  | "reading"
  | "verifying"
  | "updating"
  | "activating"
  | "restarting"
  | "trial"
  | "reporting"
  | "updated"
  | "current"
  | "failed"
  | "stopped";

/** One progress report. The engine reuses the object: copy what you keep. */
export interface SotaProgress {
  state: SotaState;
  component: string;
  /** The version running now. */
  runningVersion: string;
  /** The version being installed, or "" outside an update. */
  targetVersion: string;
  bytes: number;
  total: number;
  percent: number;
  rateBytesPerSecond: number;
  /** Why the engine is in this state (refusal, failure, or what it is doing). */
  reason: string;
}

/** Emits progress to the app and log lines to the system port; one object, reused for every report. */
export class ProgressReporter {
  onProgress: ((progress: SotaProgress) => void) | undefined;
  readonly progress: SotaProgress;
  readonly #clock: Clock;
  readonly #system: SystemPort;
  readonly #runningVersion: () => string;
  #rateStart = 0;
  #rateBytes = 0;

  constructor(component: string, clock: Clock, system: SystemPort, runningVersion: () => string) {
    this.#clock = clock;
    this.#system = system;
    this.#runningVersion = runningVersion;
    this.progress = {
      state: "starting",
      component,
      runningVersion: runningVersion(),
      targetVersion: "",
      bytes: 0,
      total: 0,
      percent: 0,
      rateBytesPerSecond: 0,
      reason: "",
    };
  }

  emit(state: SotaState, reason: string): void {
    const p = this.progress;
    p.state = state;
    p.reason = reason;
    p.runningVersion = this.#runningVersion();
    if (state !== "reading") this.log(`${state}${reason ? ": " + reason : ""}`);
    this.onProgress?.(p);
  }

  /** A new piece starts: the rate is measured from here. */
  startRate(): void {
    this.#rateStart = this.#clock.now();
    this.#rateBytes = 0;
  }

  /** `added` bytes were written; `bytes` are received in all. Allocates nothing (called per block). */
  emitBytes(bytes: number, added: number): void {
    const p = this.progress;
    this.#rateBytes += added;
    p.bytes = bytes;
    p.percent = p.total > 0 ? Math.floor((bytes * 100) / p.total) : 0;
    const elapsed = this.#clock.now() - this.#rateStart;
    p.rateBytesPerSecond = elapsed > 0 ? Math.round((this.#rateBytes * 1000) / elapsed) : 0;
    p.state = "reading";
    this.onProgress?.(p);
  }

  log(message: string): void {
    this.#system.log(`sota: ${message}`);
  }
}
