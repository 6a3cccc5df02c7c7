// The device's output (portable): exact JSON lines with throttled progress, the text bar, plain lines without a TTY.
import fc from "fast-check";
import type { SotaProgress } from "../../../src/sota/engine.js";
import {
  JsonReporter,
  ProgressThrottle,
  TextReporter,
  progressLine,
  resultLine,
} from "../../../tools/device/report.js";
import type { DeviceResult } from "../../../tools/device/session.js";
import { deepEqual, equal, ok } from "../../lib/assert.js";
import { assertProperty } from "../../lib/property.js";

function progress(changes: Partial<SotaProgress>): SotaProgress {
  return {
    state: "reading",
    component: "mcu",
    runningVersion: "1.0.0",
    targetVersion: "1.1.0",
    bytes: 0,
    total: 10_000,
    percent: 0,
    rateBytesPerSecond: 0,
    reason: "",
    ...changes,
  };
}

const updated: DeviceResult = {
  status: "updated",
  exitCode: 0,
  reason: "running 1.1.0",
  runningVersion: "1.1.0",
  targetVersion: "1.1.0",
  bytes: 10_000,
  seconds: 2.5,
  restarts: 1,
};

function capture(isTTY = false): {
  sink: { write: (t: string) => void; isTTY: boolean; columns: number };
  text: () => string;
} {
  let text = "";
  return { sink: { write: (t) => void (text += t), isTTY, columns: 80 }, text: () => text };
}

describe("tools/device report", () => {
  it("JSON: one object per line; reading progress at most every 250 ms or 5 %, state changes always, the result last", () => {
    const out = capture();
    let now = 0;
    const reporter = new JsonReporter(out.sink, { elapsedMs: () => now });
    reporter.progress(progress({ state: "confirmed", reason: "update 1.0.0 -> 1.1.0", bytes: 0 }));
    // 100 reads of 100 bytes, 10 ms apart: 1 % and 10 ms per read.
    for (let i = 1; i <= 100; i++) {
      now = i * 10;
      reporter.progress(progress({ bytes: i * 100, percent: i, rateBytesPerSecond: 10_000 }));
    }
    reporter.result(updated);
    const lines = out
      .text()
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    deepEqual(lines[0], {
      event: "progress",
      t: 0,
      state: "confirmed",
      runningVersion: "1.0.0",
      targetVersion: "1.1.0",
      bytes: 0,
      total: 10_000,
      percent: 0,
      rate: 0,
      reason: "update 1.0.0 -> 1.1.0",
    });
    // The first reading line at once (a new phase), then every 5 %, and the last one (100 %) whatever the throttle says.
    deepEqual(
      lines.filter((l) => l["state"] === "reading").map((l) => l["percent"]),
      [1, 6, 11, 16, 21, 26, 31, 36, 41, 46, 51, 56, 61, 66, 71, 76, 81, 86, 91, 96, 100],
    );
    deepEqual(lines[lines.length - 1], { event: "result", ...updated });
  });

  it("JSON: slow reading progress is let through every 250 ms even below 5 %", () => {
    const out = capture();
    let now = 0;
    const reporter = new JsonReporter(out.sink, { elapsedMs: () => now });
    for (let i = 0; i < 10; i++) {
      now = i * 100;
      reporter.progress(progress({ bytes: i, percent: 0 }));
    }
    const times = out
      .text()
      .trimEnd()
      .split("\n")
      .map((line) => (JSON.parse(line) as { t: number }).t);
    deepEqual(times, [0, 0.3, 0.6, 0.9]);
  });

  it("throttle property: a passed line is never within both the interval and the step of the previous one", () => {
    assertProperty(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 400 }), fc.integer({ min: 0, max: 8 })), {
          maxLength: 60,
        }),
        (steps) => {
          const throttle = new ProgressThrottle(250, 5);
          let now = 0;
          let percent = 0;
          let last: [number, number] | undefined;
          for (const [dt, dp] of steps) {
            now += dt;
            percent = Math.min(100, percent + dp);
            const passed = throttle.pass(now, percent, false);
            if (last === undefined) ok(passed, "the first line must pass");
            else equal(passed, now - last[0] >= 250 || percent - last[1] >= 5);
            if (passed) last = [now, percent];
          }
        },
      ),
      { numRuns: 50 },
    );
  });

  it("text without a TTY: state lines once each, a plain progress line per 10 %, the result line", () => {
    const out = capture(false);
    let now = 0;
    const reporter = new TextReporter(out.sink, { elapsedMs: () => now });
    reporter.progress(progress({ state: "offered", reason: "mcu (full) -> 1.1.0, 10000 bytes" }));
    reporter.progress(progress({ state: "offered", reason: "mcu (full) -> 1.1.0, 10000 bytes" }));
    for (let i = 1; i <= 20; i++) {
      now = i * 50;
      reporter.progress(progress({ bytes: i * 500, percent: i * 5, rateBytesPerSecond: 10_000 }));
    }
    reporter.result(updated);
    const lines = out.text().trimEnd().split("\n");
    equal(lines[0], "[   0.000s] offered: mcu (full) -> 1.1.0, 10000 bytes");
    // 5 % (the first of the phase), then each 10 % step from there, and 100 % (the end) whatever the step.
    deepEqual(
      lines.slice(1, -1).map((l) => Number(/(\d+)%/.exec(l)![1])),
      [5, 15, 25, 35, 45, 55, 65, 75, 85, 95, 100],
    );
    ok(lines[1]!.startsWith("[   0.050s] [#"), lines[1]);
    ok(lines[1]!.endsWith("  5%  500 B/9.8 KiB  9.8 KiB/s  ETA 1s  reading"), lines[1]);
    ok(lines[11]!.includes("100%  9.8 KiB/9.8 KiB"), lines[11]);
    equal(lines[12], "[   1.000s] updated (running 1.1.0, 10000 bytes received, 2.5 s, exit 0)");
  });

  it("text on a TTY: the bar redraws in place (\\r, clear line) and the next state line starts below it", () => {
    const out = capture(true);
    let now = 0;
    const reporter = new TextReporter(out.sink, { elapsedMs: () => now });
    now = 200;
    reporter.progress(progress({ bytes: 5000, percent: 50, rateBytesPerSecond: 5000 }));
    now = 400;
    reporter.progress(progress({ bytes: 10_000, percent: 100, rateBytesPerSecond: 5000 }));
    reporter.progress(progress({ state: "verifying", reason: "MD5 and SHA-256" }));
    const text = out.text();
    equal(text.split("\r\x1b[K").length, 3);
    const bar = /^\r\x1b\[K\[(#+)(\.+)\]  50%  4\.9 KiB\/9\.8 KiB  4\.9 KiB\/s  ETA 1s  reading\r/.exec(text);
    ok(bar, JSON.stringify(text));
    equal(bar[1]!.length, bar[2]!.length);
    ok(text.endsWith("reading\n[   0.400s] verifying: MD5 and SHA-256\n"), JSON.stringify(text));
  });

  it("the bar fits the width, and the result line says why", () => {
    for (const width of [40, 80, 120]) {
      const line = progressLine(progress({ bytes: 2500, percent: 25, rateBytesPerSecond: 1000 }), width);
      ok(line.length <= Math.max(width, 70), `${line.length} > ${width}: ${line}`);
    }
    equal(
      resultLine({
        ...updated,
        status: "refused",
        exitCode: 11,
        reason: "battery 10% below the plan's minimum 50%",
        runningVersion: "1.0.0",
        bytes: 0,
      }),
      "plan refused: battery 10% below the plan's minimum 50% (running 1.0.0, 2.5 s, exit 11)",
    );
    // A reason that begins with the result's words is not preceded by them again.
    equal(
      resultLine({
        ...updated,
        status: "no-plan",
        exitCode: 10,
        reason: "no plan offered within 15 s: the device reported ...",
        runningVersion: "1.0.0",
        bytes: 0,
      }),
      "no plan offered within 15 s: the device reported ... (running 1.0.0, 2.5 s, exit 10)",
    );
  });
});
