// TickClock: ESP32's int32-stored uint32 tick wrap, the simulator's wall-clock ticks, delays longer than one native timer.

import { deepEqual, equal } from "../../lib/assert.js";
import { MAX_NATIVE_DELAY_MS, TickClock, tickDelta } from "../../../hal/moddable/tick-clock.js";

/** Ticks and timers under test control; `fired` lists [delay, at] of every native timer that ran. */
class FakeTicks {
  ticks = 0;
  readonly timers: { id: number; due: number; callback: () => void }[] = [];
  readonly requested: number[] = [];
  #next = 1;
  set(callback: () => void, ms: number): unknown {
    this.requested.push(ms);
    const id = this.#next++;
    this.timers.push({ id, due: this.ticks + ms, callback });
    return id;
  }
  clear(id: unknown): void {
    const i = this.timers.findIndex((t) => t.id === id);
    if (i >= 0) this.timers.splice(i, 1);
  }
  /** Advances `ms`, firing due timers in order. */
  advance(ms: number): void {
    const end = this.ticks + ms;
    for (;;) {
      this.timers.sort((a, b) => a.due - b.due);
      const t = this.timers[0];
      if (!t || t.due > end) break;
      this.timers.shift();
      this.ticks = t.due;
      t.callback();
    }
    this.ticks = end;
  }
}

describe("hal/moddable tick-clock", () => {
  it("ESP32 ticks: uint32 milliseconds in an XS int32 go negative and wrap, time still moves forward", () => {
    equal(tickDelta(100, 250), 150);
    equal(tickDelta(0x7fffffff, -0x80000000), 1);
    equal(tickDelta(0x7ffffff0, (0x7ffffff0 + 0x20) | 0), 0x20);
    equal(tickDelta(-1, 0), 1);
    equal(tickDelta(-10, 5), 15);
  });

  it("simulator ticks: wall-clock doubles; a clock stepped back counts as no time", () => {
    equal(tickDelta(1_700_000_000_000, 1_700_000_000_250), 250);
    equal(tickDelta(1_700_000_000_000, 1_699_999_000_000), 0);
  });

  it("now() accumulates across the int32 wrap", () => {
    let ticks = 0x7fffff00;
    const clock = new TickClock({ ticks: () => ticks, set: () => 0, clear: () => undefined });
    equal(clock.now(), 0);
    ticks = 0x7fffffff;
    equal(clock.now(), 0xff);
    ticks = (0x7fffffff + 0x101) | 0;
    equal(clock.now(), 0x200);
    ticks = 5;
    equal(clock.now(), 0x200 + 0x7fffff05);
  });

  it("a delay beyond one native timer is chained, fires once at the right time, and can be cleared mid-chain", () => {
    const fake = new FakeTicks();
    const clock = new TickClock({
      ticks: () => fake.ticks,
      set: (cb, ms) => fake.set(cb, ms),
      clear: (id) => fake.clear(id),
    });
    const long = 2 * MAX_NATIVE_DELAY_MS + 7;
    let firedAt = -1;
    clock.setTimer(() => (firedAt = fake.ticks), long);
    fake.advance(long - 1);
    equal(firedAt, -1);
    fake.advance(1);
    equal(firedAt, long);
    deepEqual(fake.requested, [MAX_NATIVE_DELAY_MS, MAX_NATIVE_DELAY_MS, 7]);

    let fired = false;
    const handle = clock.setTimer(() => (fired = true), long);
    fake.advance(MAX_NATIVE_DELAY_MS + 1);
    clock.clearTimer(handle);
    fake.advance(long);
    equal(fired, false);
    equal(fake.timers.length, 0);
  });

  it("short delays: one native timer of the rounded-up delay; negative means now; clearing twice is harmless", () => {
    const fake = new FakeTicks();
    const clock = new TickClock({
      ticks: () => fake.ticks,
      set: (cb, ms) => fake.set(cb, ms),
      clear: (id) => fake.clear(id),
    });
    let count = 0;
    const h = clock.setTimer(() => count++, 10.2);
    clock.setTimer(() => count++, -5);
    deepEqual(fake.requested, [11, 0]);
    fake.advance(11);
    equal(count, 2);
    clock.clearTimer(h);
    clock.clearTimer(h);
    clock.clearTimer(undefined);
    equal(count, 2);
  });
});
