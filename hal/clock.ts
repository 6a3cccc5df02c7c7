// Clock port: monotonic milliseconds and one-shot timers (Moddable `timer`, Node timers, or virtual time).

export type TimerHandle = unknown;

export interface Clock {
  /** Milliseconds since an arbitrary origin; never goes backwards. */
  now(): number;
  /** Calls `callback` once after `ms` milliseconds. */
  setTimer(callback: () => void, ms: number): TimerHandle;
  /** Cancels a timer; harmless for one that fired or was cleared already. */
  clearTimer(handle: TimerHandle): void;
}

/** Resolves after `ms` on the given clock (virtual or real). */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => {
    clock.setTimer(resolve, ms);
  });
}
