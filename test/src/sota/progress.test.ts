// ProgressReporter: the one reused progress object (state, reason, bytes, percent, rate) and the log lines it writes.

import type { SystemPort } from "../../../hal/system.js";
import { VirtualClock } from "../../../hal/sim/virtual-clock.js";
import { resolveConfig } from "../../../src/sota/config.js";
import { ProgressReporter } from "../../../src/sota/progress.js";
import type { SotaProgress } from "../../../src/sota/progress.js";
import { deepEqual, equal } from "../../lib/assert.js";

function setup() {
  const clock = new VirtualClock();
  const logs: string[] = [];
  const system: SystemPort = {
    restart: () => undefined,
    batteryPercent: () => 100,
    deviceId: () => "d",
    log: (line) => logs.push(line),
  };
  let running = "1.0.0";
  const reporter = new ProgressReporter("app", clock, system, () => running);
  const seen: SotaProgress[] = [];
  reporter.onProgress = (p) => seen.push({ ...p });
  return { clock, logs, reporter, seen, setRunning: (v: string) => (running = v) };
}

describe("src/sota progress", () => {
  it("starts empty for the component, with the running version", () => {
    const { reporter } = setup();
    deepEqual(reporter.progress, {
      state: "starting",
      component: "app",
      runningVersion: "1.0.0",
      targetVersion: "",
      bytes: 0,
      total: 0,
      percent: 0,
      rateBytesPerSecond: 0,
      reason: "",
    });
  });

  it("emit sets state, reason and the running version, logs one line (none while reading), and reuses one object", () => {
    const { reporter, logs, seen, setRunning } = setup();
    setRunning("1.1.0");
    reporter.emit("offered", "app -> 1.1.0");
    reporter.emit("online", "");
    reporter.emit("reading", "piece 0+1024");
    deepEqual(logs, ["sota: offered: app -> 1.1.0", "sota: online"]);
    deepEqual(
      seen.map((p) => [p.state, p.reason, p.runningVersion]),
      [
        ["offered", "app -> 1.1.0", "1.1.0"],
        ["online", "", "1.1.0"],
        ["reading", "piece 0+1024", "1.1.0"],
      ],
    );
    equal(reporter.progress.state, "reading");
  });

  it("emitBytes: bytes, whole percent of the total, and the rate since startRate", async () => {
    const { reporter, clock, logs } = setup();
    reporter.progress.total = 3000;
    await clock.run(5000);
    reporter.startRate();
    await clock.run(500);
    reporter.emitBytes(1024, 1024);
    await clock.run(500);
    reporter.emitBytes(2048, 1024);
    const p = reporter.progress;
    deepEqual([p.state, p.bytes, p.percent, p.rateBytesPerSecond], ["reading", 2048, 68, 2048]);
    equal(logs.length, 0, "reading is never logged");
    reporter.progress.total = 0;
    reporter.startRate();
    reporter.emitBytes(10, 10);
    deepEqual([reporter.progress.percent, reporter.progress.rateBytesPerSecond], [0, 0]);
  });

  it("resolveConfig: the defaults, an explicit setting wins, undefined keeps the default", () => {
    const config = resolveConfig({ component: "app", slotSize: 4096, maxFailures: undefined, nbIot: true });
    equal(resolveConfig({ component: "app", slotSize: 4096 }).nbIot, false);
    equal(config.allowDowngrade, false);
    equal(config.maxFailures, 3);
    equal(config.nbIot, true);
    equal(config.acceptDifferential, false);
    equal(config.flowControl, false);
    equal(config.healthCheckTimeoutMs, 20_000);
    equal(config.planIntervalMs, 3_600_000);
    equal(config.maxReadLength, 1024);
  });
});
