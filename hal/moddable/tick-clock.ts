// Clock over a millisecond tick counter and one-shot timers, whatever the counter's range (portable: tested on Node).

import type { Clock, TimerHandle } from "../clock.js";

/** What clock.ts takes from Moddable: `Time.ticks` and `Timer.set`/`Timer.clear`. */
export interface TickSource {
  ticks(): number;
  set(callback: () => void, ms: number): unknown;
  clear(timer: unknown): void;
}

/** Longest single native timer: Timer.set converts its delay to a C int, and tick comparisons wrap at 2^31. */
export const MAX_NATIVE_DELAY_MS = 0x3fffffff;

function isInt32(n: number): boolean {
  return (n | 0) === n;
}

/**
 * Milliseconds between two tick readings. ESP32 `Time.ticks` is a uint32 millisecond counter stored in an XS
 * int32 (negative after 24.8 days, wraps after 49.7): the unsigned difference survives the wrap. The Linux
 * simulator's `Time.ticks` is wall-clock time (gettimeofday) as a double: a step backwards counts as 0.
 */
export function tickDelta(last: number, now: number): number {
  if (isInt32(last) && isInt32(now)) return (now - last) >>> 0;
  return now >= last ? now - last : 0;
}

interface ChainedTimer {
  native: unknown;
}

export class TickClock implements Clock {
  readonly #source: TickSource;
  #last: number;
  #elapsed = 0;

  constructor(source: TickSource) {
    this.#source = source;
    this.#last = source.ticks();
  }

  now(): number {
    const ticks = this.#source.ticks();
    this.#elapsed += tickDelta(this.#last, ticks);
    this.#last = ticks;
    return this.#elapsed;
  }

  setTimer(callback: () => void, ms: number): TimerHandle {
    const timer: ChainedTimer = { native: undefined };
    const arm = (remaining: number): void => {
      const step = Math.min(remaining, MAX_NATIVE_DELAY_MS);
      // A delay beyond one native timer is served by a chain of them (never early).
      timer.native = this.#source.set(() => (remaining > step ? arm(remaining - step) : callback()), step);
    };
    arm(Number.isFinite(ms) ? Math.max(0, Math.ceil(ms)) : Number.MAX_SAFE_INTEGER);
    return timer;
  }

  clearTimer(handle: TimerHandle): void {
    const timer = handle as ChainedTimer | undefined;
    if (timer && timer.native !== undefined) this.#source.clear(timer.native);
  }
}
