// Deterministic virtual time (Clock port) for tests and the demo: ordered timers, promise settling, CPU-busy stalls.
import type { Clock, TimerHandle } from "../clock.js";

/** One pending timer; the object itself is the opaque TimerHandle. */
class VirtualTimer {
  live = true;
  constructor(
    readonly owner: VirtualClock,
    readonly due: number,
    readonly seq: number,
    readonly callback: () => void,
  ) {}
}

/** True when `a` must fire before `b`: earlier due time, ties in creation order. */
function before(a: VirtualTimer, b: VirtualTimer): boolean {
  return a.due < b.due || (a.due === b.due && a.seq < b.seq);
}

type ImmediateFn = (callback: () => void) => unknown;

/**
 * Virtual milliseconds (fractional allowed). Timers fire only while `advance`, `run` or `runUntil` runs,
 * in order of due time (ties: creation order), with `now()` equal to the due time, or later when a
 * `busy()` period made them late. Exceptions thrown by a callback propagate out of advance/run.
 */
export class VirtualClock implements Clock {
  #now: number;
  #seq = 0;
  /** Binary min-heap; cleared timers stay in it (lazy deletion) until popped or compacted. */
  #heap: VirtualTimer[] = [];
  #live = 0;

  constructor(startMs = 0) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  setTimer(callback: () => void, ms: number): TimerHandle {
    // NaN and negative delays mean "as soon as possible", like the host timers.
    return this.setTimerAt(callback, this.#now + (ms > 0 ? ms : 0));
  }

  /** Timer at an absolute virtual time (exact: no now + (t - now) rounding); a past time fires at the next turn. */
  setTimerAt(callback: () => void, atMs: number): TimerHandle {
    const timer = new VirtualTimer(this, atMs > this.#now ? atMs : this.#now, this.#seq++, callback);
    this.#push(timer);
    this.#live++;
    return timer;
  }

  clearTimer(handle: TimerHandle): void {
    if (!(handle instanceof VirtualTimer) || handle.owner !== this || !handle.live) return;
    handle.live = false;
    this.#live--;
    // Transports arm and clear a timeout per command: compact so dead entries cannot pile up.
    if (this.#heap.length > 64 && this.#heap.length > 2 * this.#live) this.#compact();
  }

  /** Number of timers that have neither fired nor been cleared. */
  get pendingTimers(): number {
    return this.#live;
  }

  /** Due time of the next timer to fire, or undefined when none is pending. */
  nextDueAt(): number | undefined {
    return this.#peekLive()?.due;
  }

  /**
   * Moves time forward by `ms`, synchronously firing every timer due meanwhile (and any made late by
   * busy()). Promise continuations do NOT run in between: use run() for async code.
   */
  advance(ms: number): void {
    const target = this.#now + (ms > 0 ? ms : 0);
    for (let timer = this.#takeDue(target); timer; timer = this.#takeDue(target)) this.#fire(timer);
    if (this.#now < target) this.#now = target;
  }

  /** Like advance(), but settles promise jobs before the first timer and after each one. */
  async run(ms: number): Promise<void> {
    const target = this.#now + (ms > 0 ? ms : 0);
    await this.settle();
    for (let timer = this.#takeDue(target); timer; timer = this.#takeDue(target)) {
      this.#fire(timer);
      await this.settle();
    }
    if (this.#now < target) this.#now = target;
  }

  /**
   * Runs timer by timer, settling after each, until `predicate()` holds or `maxMs` of virtual time has
   * passed. Returns whether the predicate became true. With no timer left before the limit, time jumps
   * to the limit (it never spins).
   */
  async runUntil(predicate: () => boolean, maxMs: number): Promise<boolean> {
    const limit = this.#now + (maxMs > 0 ? maxMs : 0);
    await this.settle();
    if (predicate()) return true;
    for (let timer = this.#takeDue(limit); timer; timer = this.#takeDue(limit)) {
      this.#fire(timer);
      await this.settle();
      if (predicate()) return true;
    }
    if (this.#now < limit) {
      this.#now = limit;
      await this.settle();
    }
    return predicate();
  }

  /** Lets pending promise jobs (and what they chain) run; time does not move. */
  async settle(): Promise<void> {
    const immediate = (globalThis as { setImmediate?: ImmediateFn }).setImmediate;
    if (typeof immediate === "function") {
      // One macrotask turn drains every microtask; the second catches work queued via setImmediate itself.
      await new Promise<void>((resolve) => immediate(resolve));
      await new Promise<void>((resolve) => immediate(resolve));
    } else {
      for (let i = 0; i < 50; i++) await Promise.resolve();
    }
  }

  /**
   * A synchronous CPU-bound stretch (flash erase, digest of a big block): time moves on by `ms`, but no
   * timer fires during it; the ones that fell due fire late, in order, at the next advance/run turn
   * (or right after the current callback when called from a timer), as on a blocked event loop.
   */
  busy(ms: number): void {
    if (ms > 0) this.#now += ms;
  }

  #fire(timer: VirtualTimer): void {
    timer.live = false;
    this.#live--;
    if (timer.due > this.#now) this.#now = timer.due;
    timer.callback();
  }

  /** Pops the next live timer due by `limit`, or by now when busy() already carried time past the limit. */
  #takeDue(limit: number): VirtualTimer | undefined {
    const top = this.#peekLive();
    if (!top || top.due > (limit > this.#now ? limit : this.#now)) return undefined;
    this.#pop();
    return top;
  }

  #peekLive(): VirtualTimer | undefined {
    const heap = this.#heap;
    while (heap.length > 0 && !heap[0]!.live) this.#pop();
    return heap[0];
  }

  #push(timer: VirtualTimer): void {
    const heap = this.#heap;
    let i = heap.length;
    heap.push(timer);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(timer, heap[parent]!)) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = timer;
  }

  #pop(): void {
    const heap = this.#heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    let i = 0;
    const n = heap.length;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && before(heap[right]!, heap[left]!) ? right : left;
      if (!before(heap[child]!, last)) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
  }

  #compact(): void {
    const live = this.#heap.filter((t) => t.live);
    this.#heap = [];
    for (const timer of live) this.#push(timer);
  }
}
