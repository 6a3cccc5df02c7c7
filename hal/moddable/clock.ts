// Clock over Moddable `timer` and `time` (Time.ticks); the wrap and long-delay logic is in tick-clock.ts.

import Timer from "timer";
import Time from "time";
import { TickClock } from "./tick-clock.js";

type NativeTimer = Parameters<typeof Timer.clear>[0];

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
