// One update on simulated hardware (the demo's set-up: virtual module + host-mode device on a paced UART, simulated
// NOR flash on a virtual clock), with every hook exposed: the tests, the page's browser test and the README images
// use it to produce real runs of any size, with faults, at any speed.

import type { VirtualClock } from "../../hal/sim/virtual-clock.js";
import type { BootReport } from "../../src/boot/types.js";
import type { SotaProgress } from "../../src/sota/engine.js";
import { factoryImage, patternImage } from "../device/flash-setup.js";
import { HostDevice } from "../device/session.js";
import type { DeviceResult } from "../device/session.js";
import type { Fault } from "../module/faults.js";
import { MonitorLog } from "../module/monitor.js";
import { parsePlan } from "../module/plan.js";
import type { Plan } from "../module/plan.js";
import type { ModuleSettings } from "../module/settings.js";
import { VirtualModule } from "../module/virtual-module.js";
import type { TraceEntry } from "../module/virtual-module.js";
import { createSimDevice } from "../sim/device.js";
import { TimelineRecorder, observeFlash } from "./events.js";

export const SIM_COMPONENT = "app";
export const SIM_FROM_VERSION = "1.0.0";
export const SIM_TO_VERSION = "1.1.0";

export interface SimRunOptions {
  imageSize: number;
  baud?: number;
  faults?: Fault[];
  settings?: Partial<ModuleSettings>;
  /** Virtual milliseconds per real millisecond; Infinity (default) runs as fast as the CPU allows. */
  speed?: number;
  /** Keep serving plans after a failure (the module re-pushes) until the device is updated; default: one plan. */
  untilUpdated?: boolean;
  /** Gives up (device stopped) after this much virtual time. */
  limitMs?: number;
  /** The AT exchange, the monitoring log, progress and boots, besides the run's own recorder. */
  onTrace?: (entry: TraceEntry) => void;
  onProgress?: (progress: Readonly<SotaProgress>) => void;
  onBoot?: (report: BootReport, restart: number) => void;
  /** Called once the module exists (before power-on): e.g. to subscribe to its monitor. */
  onModule?: (module: VirtualModule, plan: Plan, clock: VirtualClock) => void;
  /** Called after each pacing step (real time has passed): lets a caller look at a live run. */
  onTick?: () => void | Promise<void>;
}

export interface SimRunResult {
  result: DeviceResult;
  recorder: TimelineRecorder;
  module: VirtualModule;
  plan: Plan;
  virtualMs: number;
}

/** A one-component plan for `imageSize` bytes with the demo's short timers. */
export function simPlan(imageSize: number): { plan: Plan; packages: Map<string, Uint8Array> } {
  const plan = parsePlan(
    JSON.stringify({
      product: "pSim01",
      productSecret: "simSecret",
      components: [
        {
          id: SIM_COMPONENT,
          type: "full",
          targetVersion: SIM_TO_VERSION,
          package: `app-${SIM_TO_VERSION}.bin`,
          minBattery: 20,
          minSignal: -100,
        },
      ],
      settings: {
        deviceId: "sim-device-1",
        productKey: "pSim01",
        productSecret: "simSecret",
        bootDelayMs: 200,
        connectStepMs: 300,
        planDelayMs: 300,
        downloadInfoDelayMs: 500,
        downloadBytesPerSecond: 262144,
        freeSpace: 65536,
        maxReadLength: 1024,
      },
    }),
  );
  const packages = new Map([
    [plan.components[0]!.package, patternImage(SIM_COMPONENT, SIM_TO_VERSION, imageSize)],
  ]);
  return { plan, packages };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function runSimulatedUpdate(options: SimRunOptions): Promise<SimRunResult> {
  const baud = options.baud ?? 115200;
  const slotSize = Math.max(64 * 1024, 2 ** Math.ceil(Math.log2(options.imageSize + 4096)));
  const sim = createSimDevice({
    baud,
    slotSize,
    flashTime: "after-factory",
    factory: {
      component: SIM_COMPONENT,
      version: SIM_FROM_VERSION,
      bytes: factoryImage(SIM_COMPONENT, SIM_FROM_VERSION),
    },
  });
  const { clock, digests, link, layout, kv } = sim;
  const { plan, packages } = simPlan(options.imageSize);
  const recorder = new TimelineRecorder(() => clock.now());
  const monitor = new MonitorLog();
  // Monitoring entries count from the module's power-on, which is this clock's 0.
  monitor.subscribe((entry) => recorder.monitor(entry));
  const module = new VirtualModule({
    serial: link.b,
    clock,
    digests,
    plan,
    packages,
    monitor,
    faults: options.faults ?? [],
    settings: options.settings ?? {},
    onTrace: (entry) => {
      recorder.trace(entry);
      options.onTrace?.(entry);
    },
  });
  options.onModule?.(module, plan, clock);

  const flash = observeFlash(sim.flash, () => clock.now(), recorder);

  module.powerOn();
  await clock.run(module.settings.bootDelayMs + 10);
  const discard = new Uint8Array(64);
  while (link.a.read(discard) > 0);

  const device = new HostDevice({
    serial: link.a,
    clock,
    flash,
    layout,
    digests,
    kv,
    component: SIM_COMPONENT,
    baud,
    batteryPercent: 90,
    deviceId: module.settings.deviceId,
    once: options.untilUpdated !== true,
    onOutcome: (outcome) => {
      if (options.untilUpdated && (outcome.status === "updated" || outcome.status === "current"))
        device.stop();
    },
    onProgress: (p) => {
      recorder.progress(p);
      options.onProgress?.(p);
    },
    onLog: (message) => recorder.log(message),
    onBoot: (report, restart) => {
      recorder.boot(report, restart);
      options.onBoot?.(report, restart);
    },
  });
  let finished = false;
  const outcome = device.run().finally(() => {
    finished = true;
  });
  const start = clock.now();
  const limit = options.limitMs ?? 30 * 60_000;
  const speed = options.speed ?? Number.POSITIVE_INFINITY;
  const realStart = performance.now();
  while (!finished && clock.now() - start < limit) {
    if (!Number.isFinite(speed)) await clock.runUntil(() => finished, 10_000);
    else {
      await sleep(10);
      const due = start + (performance.now() - realStart) * speed - clock.now();
      if (due > 0) await clock.runUntil(() => finished, due);
    }
    await options.onTick?.();
  }
  if (!finished) {
    device.stop();
    await clock.runUntil(() => finished, 60_000);
  }
  const result = await outcome;
  recorder.result(result.status, result.reason);
  // The module's side ends with 10705/10706 a little after the device's result.
  await clock.runUntil(
    () => module.monitor.entries.some((e) => e.event === "success" || e.event === "failure"),
    2000,
  );
  await options.onTick?.();
  module.powerOff();
  return { result, recorder, module, plan, virtualMs: clock.now() - start };
}
