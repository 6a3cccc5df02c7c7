// Clock over Moddable `timer` and `time` (Time.ticks: milliseconds since boot, made monotonic across its 32-bit wrap).

import Timer from "timer";
import Time from "time";
import type { Clock, TimerHandle } from "../clock.js";

type NativeTimer = Parameters<typeof Timer.clear>[0];

export class ModdableClock implements Clock {
  #last = Time.ticks;
  #elapsed = 0;

  now(): number {
    const ticks = Time.ticks;
    // Ticks are a 32-bit millisecond counter on devices: the unsigned difference survives one wrap between calls.
    this.#elapsed += (ticks - this.#last) >>> 0;
    this.#last = ticks;
    return this.#elapsed;
  }

  setTimer(callback: () => void, ms: number): TimerHandle {
    return Timer.set(() => callback(), Math.max(0, ms));
  }

  clearTimer(handle: TimerHandle): void {
    if (handle !== undefined && handle !== null) Timer.clear(handle as NativeTimer);
  }
}
