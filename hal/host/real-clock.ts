// Clock port over the wall clock: performance.now() and Node timers (host-mode device and tools).
import type { Clock, TimerHandle } from "../clock.js";

export class RealClock implements Clock {
  /** `unref`: timers do not keep the process alive (for tools that should exit when their work is done). */
  constructor(private readonly options: { unref?: boolean } = {}) {}

  now(): number {
    return performance.now();
  }

  setTimer(callback: () => void, ms: number): TimerHandle {
    const timer = setTimeout(callback, Math.max(0, ms));
    if (this.options.unref) timer.unref();
    return timer;
  }

  clearTimer(handle: TimerHandle): void {
    // clearTimeout ignores anything that is not a live timer, as the port requires.
    clearTimeout(handle as NodeJS.Timeout);
  }
}
