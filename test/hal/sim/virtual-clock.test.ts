// Tests VirtualClock: timer order, late timers after busy(), run/runUntil with async code, handles.
import fc from "fast-check";
import { deepEqual, equal, ok } from "../../lib/assert.js";
import { VirtualClock } from "../../../hal/sim/virtual-clock.js";
import { sleep } from "../../../hal/clock.js";
import { assertProperty } from "../../lib/property.js";

describe("VirtualClock", () => {
  it("fires timers in due order, ties in creation order, with now() at the due time", () => {
    const clock = new VirtualClock();
    const log: string[] = [];
    const at = (name: string) => () => log.push(`${name}@${clock.now()}`);
    clock.setTimer(at("c"), 30);
    clock.setTimer(at("a1"), 10);
    clock.setTimer(at("b"), 20.5);
    clock.setTimer(at("a2"), 10);
    clock.advance(25);
    deepEqual(log, ["a1@10", "a2@10", "b@20.5"]);
    equal(clock.now(), 25);
    clock.advance(5);
    deepEqual(log, ["a1@10", "a2@10", "b@20.5", "c@30"]);
    equal(clock.pendingTimers, 0);
  });

  it("a 0 ms timer set inside a callback fires after the current one, in the same advance", () => {
    const clock = new VirtualClock();
    const log: string[] = [];
    clock.setTimer(() => {
      log.push("first");
      clock.setTimer(() => log.push(`nested@${clock.now()}`), 0);
    }, 5);
    clock.setTimer(() => log.push("same-time"), 5);
    clock.advance(5);
    deepEqual(log, ["first", "same-time", "nested@5"]);
  });

  it("clearTimer cancels, is harmless twice and ignores foreign handles; nextDueAt/pendingTimers track", () => {
    const clock = new VirtualClock(100);
    const other = new VirtualClock();
    let fired = 0;
    const h1 = clock.setTimer(() => fired++, 10);
    const h2 = clock.setTimer(() => (fired += 10), 20);
    const foreign = other.setTimer(() => {}, 1);
    equal(clock.pendingTimers, 2);
    equal(clock.nextDueAt(), 110);
    clock.clearTimer(h1);
    clock.clearTimer(h1);
    clock.clearTimer(foreign);
    clock.clearTimer(undefined);
    equal(clock.pendingTimers, 2 - 1);
    equal(other.pendingTimers, 1);
    equal(clock.nextDueAt(), 120);
    clock.advance(50);
    equal(fired, 10);
    clock.clearTimer(h2);
    equal(clock.pendingTimers, 0);
    equal(clock.nextDueAt(), undefined);
  });

  it("many set-and-clear cycles (heap compaction) keep counts and firings right", () => {
    const clock = new VirtualClock();
    let fired = 0;
    for (let i = 0; i < 20000; i++) {
      const h = clock.setTimer(() => fired++, 1000);
      clock.setTimer(() => fired++, 0.001 * i);
      clock.clearTimer(h);
    }
    equal(clock.pendingTimers, 20000);
    clock.advance(20);
    equal(fired, 20000);
    equal(clock.pendingTimers, 0);
  });

  it("busy() delays timers: they fire late, in order, at the time busy ended", () => {
    const clock = new VirtualClock();
    const log: string[] = [];
    clock.setTimer(() => {
      log.push(`eraser@${clock.now()}`);
      clock.busy(50);
      log.push(`erased@${clock.now()}`);
    }, 10);
    clock.setTimer(() => log.push(`t20@${clock.now()}`), 20);
    clock.setTimer(() => log.push(`t15@${clock.now()}`), 15);
    clock.setTimer(() => log.push(`t70@${clock.now()}`), 70);
    clock.advance(12);
    // Time passed the advance target inside busy(); overdue timers still ran before advance returned.
    deepEqual(log, ["eraser@10", "erased@60", "t15@60", "t20@60"]);
    equal(clock.now(), 60);
    clock.advance(10);
    deepEqual(log.slice(4), ["t70@70"]);
  });

  it("busy() outside a timer: overdue timers wait for the next advance", () => {
    const clock = new VirtualClock();
    const log: number[] = [];
    clock.setTimer(() => log.push(clock.now()), 5);
    clock.busy(8);
    equal(clock.now(), 8);
    deepEqual(log, []);
    clock.advance(0);
    deepEqual(log, [8]);
  });

  it("run() lets async continuations act at the timer's virtual time before the next timer", async () => {
    const clock = new VirtualClock();
    const log: string[] = [];
    const worker = async () => {
      await sleep(clock, 10);
      await Promise.resolve();
      log.push(`worker@${clock.now()}`);
      await sleep(clock, 5);
      log.push(`worker2@${clock.now()}`);
    };
    void worker();
    clock.setTimer(() => log.push(`t12@${clock.now()}`), 12);
    await clock.run(20);
    deepEqual(log, ["worker@10", "t12@12", "worker2@15"]);
    equal(clock.now(), 20);
  });

  it("advance() alone does not run promise continuations between timers", async () => {
    const clock = new VirtualClock();
    const log: string[] = [];
    void (async () => {
      await sleep(clock, 10);
      log.push(`after@${clock.now()}`);
    })();
    clock.advance(20);
    deepEqual(log, []);
    await clock.settle();
    deepEqual(log, ["after@20"]);
  });

  it("runUntil stops as soon as the predicate holds", async () => {
    const clock = new VirtualClock();
    let count = 0;
    const tick = () => {
      count++;
      clock.setTimer(tick, 7);
    };
    clock.setTimer(tick, 7);
    const reached = await clock.runUntil(() => count === 3, 1000);
    equal(reached, true);
    equal(clock.now(), 21);
  });

  it("runUntil returns false at the limit, and jumps to it when no timer is left (no spin)", async () => {
    const clock = new VirtualClock(5);
    equal(await clock.runUntil(() => false, 100), false);
    equal(clock.now(), 105);
    let fired = false;
    clock.setTimer(() => (fired = true), 300);
    equal(await clock.runUntil(() => fired, 100), false);
    equal(clock.now(), 205);
    equal(fired, false);
    equal(clock.pendingTimers, 1);
  });

  it("runUntil sees async work that completes with no timer at all", async () => {
    const clock = new VirtualClock();
    let done = false;
    void Promise.resolve().then(() => (done = true));
    equal(await clock.runUntil(() => done, 50), true);
    equal(clock.now(), 0);
  });

  it("property: any schedule fires in (due, creation) order, each at max(due, busy end)", () => {
    assertProperty(
      fc.property(
        fc.array(
          fc.record({ delay: fc.integer({ min: 0, max: 100 }), busy: fc.integer({ min: 0, max: 30 }) }),
          {
            minLength: 1,
            maxLength: 30,
          },
        ),
        (specs) => {
          const clock = new VirtualClock();
          const fired: { index: number; at: number }[] = [];
          specs.forEach((spec, index) =>
            clock.setTimer(() => {
              fired.push({ index, at: clock.now() });
              clock.busy(spec.busy);
            }, spec.delay),
          );
          clock.advance(100);
          const order = specs.map((s, i) => ({ i, due: s.delay })).sort((x, y) => x.due - y.due || x.i - y.i);
          deepEqual(
            fired.map((f) => f.index),
            order.map((o) => o.i),
          );
          // Model of a blocked event loop: each timer starts at max(its due time, end of the previous callback).
          let free = 0;
          for (const f of fired) {
            const expected = Math.max(specs[f.index]!.delay, free);
            equal(f.at, expected);
            free = expected + specs[f.index]!.busy;
          }
          ok(clock.now() >= 100);
        },
      ),
      { numRuns: 100 },
    );
  });
});
