// A Clock that runs N times faster than another (CLI --speed): module timers such as the 20-min UPDATING wait shrink.

import type { Clock, TimerHandle } from "../../hal/clock.js";

export class ScaledClock implements Clock {
  constructor(
    private readonly base: Clock,
    private readonly speed: number,
  ) {
    if (!(speed > 0)) throw new RangeError(`bad speed ${speed}`);
  }

  now(): number {
    return this.base.now() * this.speed;
  }

  setTimer(callback: () => void, ms: number): TimerHandle {
    return this.base.setTimer(callback, ms / this.speed);
  }

  clearTimer(handle: TimerHandle): void {
    this.base.clearTimer(handle);
  }
}
