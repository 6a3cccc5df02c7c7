// Deterministic virtual time (Clock port) for tests and the demo: ordered timers, promise settling, and CPU-busy
// stalls that block the device's code while the world (the module, the line: timers made through `world`) runs on.
import type { Clock, TimerHandle } from "../clock.js";

/** One pending timer; the object itself is the opaque TimerHandle. */
class VirtualTimer {
  live = true;
  constructor(
    readonly owner: VirtualClock,
    readonly due: number,
    readonly seq: number,
    readonly callback: () => void,
    /** A world timer (module, line) fires during busy(); a device timer waits for the CPU. */
    readonly world: boolean,
  ) {}
}

/** The same time seen from outside the MCU: its timers keep firing while the device is busy(). */
class WorldClock implements Clock {
  constructor(readonly owner: VirtualClock) {}
  now(): number {
    return this.owner.now();
  }
  setTimer(callback: () => void, ms: number): TimerHandle {
    return this.owner.setWorldTimerAt(callback, this.owner.now() + (ms > 0 ? ms : 0));
  }
  setTimerAt(callback: () => void, atMs: number): TimerHandle {
    return this.owner.setWorldTimerAt(callback, atMs);
  }
  clearTimer(handle: TimerHandle): void {
    this.owner.clearTimer(handle);
  }
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
 * Two kinds of timers: the device's (this object's setTimer) and the world's (`world.setTimer`): busy() stalls
 * only the device's, the world's fire inside it at their time.
 */
export class VirtualClock implements Clock {
  #now: number;
  #seq = 0;
  /** Binary min-heaps, device and world; cleared timers stay in them (lazy deletion) until popped or compacted. */
  #heap: VirtualTimer[] = [];
  #worldHeap: VirtualTimer[] = [];
  #live = 0;
  /** End of the busy() period running now, or -1. */
  #busyUntil = -1;
  /** The clock of the module and the line: its timers run on while the device is busy. */
  readonly world: Clock & { setTimerAt(callback: () => void, atMs: number): TimerHandle };

  constructor(startMs = 0) {
    this.#now = startMs;
    this.world = new WorldClock(this);
  }

  /** True inside busy(): the device's code is stalled (world timers are firing for the time it takes). */
  get deviceBusy(): boolean {
    return this.#busyUntil >= 0;
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
    return this.#add(callback, atMs, false);
  }

  /** A world timer at an absolute time (see `world`). */
  setWorldTimerAt(callback: () => void, atMs: number): TimerHandle {
    return this.#add(callback, atMs, true);
  }

  #add(callback: () => void, atMs: number, world: boolean): VirtualTimer {
    const timer = new VirtualTimer(this, atMs > this.#now ? atMs : this.#now, this.#seq++, callback, world);
    push(world ? this.#worldHeap : this.#heap, timer);
    this.#live++;
    return timer;
  }

  clearTimer(handle: TimerHandle): void {
    if (!(handle instanceof VirtualTimer) || handle.owner !== this || !handle.live) return;
    handle.live = false;
    this.#live--;
    // Transports arm and clear a timeout per command: compact so dead entries cannot pile up.
    if (
      this.#heap.length + this.#worldHeap.length > 64 &&
      this.#heap.length + this.#worldHeap.length > 2 * this.#live
    ) {
      this.#heap = compact(this.#heap);
      this.#worldHeap = compact(this.#worldHeap);
    }
  }

  /**
   * Drops cleared timers from the heaps now (they otherwise wait for a pop or the next automatic compaction): a
   * memory benchmark calls it before counting, so the count does not saw with the simulation's lazy deletion.
   */
  compact(): void {
    this.#heap = compact(this.#heap);
    this.#worldHeap = compact(this.#worldHeap);
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
   * A synchronous CPU-bound stretch of the device (flash erase, digest of a big block): time moves on by `ms`.
   * World timers due meanwhile fire inside it, at their time (the module answers, bytes reach the receive FIFO);
   * no device timer fires: the ones that fell due fire late, in order, at the next advance/run turn (or right
   * after the current callback when called from a timer), as on a blocked event loop.
   */
  busy(ms: number): void {
    if (!(ms > 0)) return;
    const end = this.#now + ms;
    if (this.#busyUntil >= 0) {
      // Called from a world timer inside a busy period: the period only gets longer.
      if (end > this.#busyUntil) this.#busyUntil = end;
      return;
    }
    this.#busyUntil = end;
    try {
      for (;;) {
        const timer = peekLive(this.#worldHeap);
        if (!timer || timer.due > this.#busyUntil) break;
        pop(this.#worldHeap);
        this.#fire(timer);
      }
      if (this.#now < this.#busyUntil) this.#now = this.#busyUntil;
    } finally {
      this.#busyUntil = -1;
    }
  }

  #fire(timer: VirtualTimer): void {
    timer.live = false;
    this.#live--;
    if (timer.due > this.#now) this.#now = timer.due;
    timer.callback();
  }

  /** Pops the next live timer (device or world) due by `limit`, or by now when busy() carried time past the limit. */
  #takeDue(limit: number): VirtualTimer | undefined {
    const top = this.#peekLive();
    if (!top || top.due > (limit > this.#now ? limit : this.#now)) return undefined;
    pop(top.world ? this.#worldHeap : this.#heap);
    return top;
  }

  #peekLive(): VirtualTimer | undefined {
    const device = peekLive(this.#heap);
    const world = peekLive(this.#worldHeap);
    if (!device) return world;
    if (!world) return device;
    return before(world, device) ? world : device;
  }
}

function peekLive(heap: VirtualTimer[]): VirtualTimer | undefined {
  while (heap.length > 0 && !heap[0]!.live) pop(heap);
  return heap[0];
}

function push(heap: VirtualTimer[], timer: VirtualTimer): void {
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

function pop(heap: VirtualTimer[]): void {
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

function compact(heap: VirtualTimer[]): VirtualTimer[] {
  const out: VirtualTimer[] = [];
  for (const timer of heap) if (timer.live) push(out, timer);
  return out;
}
