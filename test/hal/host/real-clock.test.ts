// Node-only tests of the wall-clock Clock: monotonic time, timers that fire late never early, clearTimer.
import assert from "node:assert/strict";
import { sleep } from "../../../hal/clock.js";
import { RealClock } from "../../../hal/host/real-clock.js";

describe("hal/host RealClock", () => {
  it("fires a timer no earlier than asked, and sleep() waits on it", async () => {
    const clock = new RealClock();
    const start = clock.now();
    let firedAt = -1;
    clock.setTimer(() => (firedAt = clock.now()), 30);
    await sleep(clock, 60);
    assert.ok(firedAt - start >= 29, `fired after ${firedAt - start} ms`);
    assert.ok(clock.now() - start >= 59);
  });

  it("clearTimer cancels, and is harmless for fired, cleared and foreign handles", async () => {
    const clock = new RealClock();
    let fired = 0;
    const handle = clock.setTimer(() => fired++, 5);
    clock.clearTimer(handle);
    clock.clearTimer(handle);
    clock.clearTimer(undefined);
    clock.clearTimer({});
    const fires = clock.setTimer(() => (fired += 10), 1);
    await sleep(clock, 30);
    clock.clearTimer(fires);
    assert.equal(fired, 10);
  });

  it("never goes backwards", () => {
    const clock = new RealClock();
    let last = clock.now();
    for (let i = 0; i < 10_000; i++) {
      const now = clock.now();
      assert.ok(now >= last);
      last = now;
    }
  });
});
