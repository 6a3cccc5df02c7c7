// Clock over Moddable `timer` and `time` (Time.ticks); the wrap and long-delay logic is in tick-clock.ts.

import Timer from "timer";
import Time from "time";
import { TickClock } from "./tick-clock.js";

type NativeTimer = Parameters<typeof Timer.clear>[0];

/**
 * Milliseconds since the MCU's reset, at most: on ESP32 `Time.ticks` counts FreeRTOS ticks from the scheduler's start,
 * on Zephyr `k_uptime_get()` from the kernel's; both begin after the reset. Not for the Linux simulator (wall clock).
 */
export function msSinceReset(): number {
  return Time.ticks >>> 0;
}

export class ModdableClock extends TickClock {
  constructor() {
    super({
      ticks: () => Time.ticks,
      set: (callback, ms) => Timer.set(callback, ms),
      // Clearing a one-shot timer that fired already is a no-op in modTimer.c (its host data is gone).
      clear: (timer) => Timer.clear(timer as NativeTimer),
    });
  }
}
