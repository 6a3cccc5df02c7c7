// HostDevice on simulated hardware (portable): the engine restarted on the same flash and port after activation,
// and each way a plan ends mapped to the CLI's exit code, with the flash contents checked byte for byte.
import { NobleDigestFactory } from "../../../hal/sim/digest.js";
import type { SimNorFlash } from "../../../hal/sim/nor-flash.js";
import type { VirtualClock } from "../../../hal/sim/virtual-clock.js";
import { slotSha256 } from "../../../src/boot/generic-boot.js";
import type { FlashLayout } from "../../../src/flash-format/layout.js";
import type { SotaState } from "../../../src/sota/engine.js";
import { factoryImage, patternImage } from "../../../tools/device/flash-setup.js";
import { EXIT_CODES, HostDevice, noPlanReason } from "../../../tools/device/session.js";
import type { DeviceResult, HostDeviceOptions } from "../../../tools/device/session.js";
import { parsePlan } from "../../../tools/module/plan.js";
import { VirtualModule } from "../../../tools/module/virtual-module.js";
import { createSimDevice } from "../../../tools/sim/device.js";
import { bytesEqual, deepEqual, equal, ok } from "../../lib/assert.js";

const COMPONENT = "mcu";
const BAUD = 921600;
const SLOT = 32 * 1024;
const IMAGE_SIZE = 6000;
const digests = new NobleDigestFactory();

interface Rig {
  clock: VirtualClock;
  flash: SimNorFlash;
  layout: FlashLayout;
  module: VirtualModule;
  device: HostDevice;
  states: SotaState[];
  outcomes: DeviceResult[];
  boots: Array<{ version: string; trial: boolean }>;
  portClosed: () => boolean;
}

function plan(target: string, minBattery = 20, faults: string[] = []) {
  return parsePlan({
    product: "pT",
    components: [
      {
        id: COMPONENT,
        type: "full",
        targetVersion: target,
        package: "image.bin",
        minBattery,
        minSignal: -110,
      },
    ],
    settings: {
      productKey: "pT",
      productSecret: "s",
      bootDelayMs: 10,
      connectStepMs: 10,
      planDelayMs: 20,
      downloadInfoDelayMs: 20,
      downloadBytesPerSecond: 1_000_000,
      freeSpace: 4096,
      maxReadLength: 512,
    },
    faults,
  });
}

function rig(options: {
  target?: string;
  minBattery?: number;
  faults?: string[];
  battery?: number;
  once?: boolean;
  powerOn?: boolean;
  engine?: HostDeviceOptions["engine"];
}): Rig {
  const { clock, link, flash, layout, kv } = createSimDevice({
    baud: BAUD,
    slotSize: SLOT,
    flashTime: "never",
    factory: { component: COMPONENT, version: "1.0.0", bytes: factoryImage(COMPONENT, "1.0.0") },
  });
  let closed = false;
  const close = link.a.close.bind(link.a);
  link.a.close = () => {
    closed = true;
    close();
  };
  const target = options.target ?? "1.1.0";
  const module = new VirtualModule({
    serial: link.b,
    clock,
    digests,
    plan: plan(target, options.minBattery, options.faults),
    packages: new Map([["image.bin", patternImage(COMPONENT, target, IMAGE_SIZE)]]),
  });
  const states: SotaState[] = [];
  const outcomes: DeviceResult[] = [];
  const boots: Array<{ version: string; trial: boolean }> = [];
  const device = new HostDevice({
    serial: link.a,
    clock,
    flash,
    layout,
    digests,
    kv,
    component: COMPONENT,
    baud: BAUD,
    batteryPercent: options.battery ?? 90,
    once: options.once ?? true,
    engine: { planWaitMs: 500, ...options.engine },
    onProgress: (p) => {
      if (states[states.length - 1] !== p.state) states.push(p.state);
    },
    onOutcome: (r) => outcomes.push(r),
    onBoot: (report) => boots.push({ version: report.running.version, trial: report.trial }),
  });
  if (options.powerOn ?? true) module.powerOn();
  return { clock, flash, layout, module, device, states, outcomes, boots, portClosed: () => closed };
}

async function runToEnd(r: Rig, maxMs = 120_000): Promise<DeviceResult> {
  let result: DeviceResult | undefined;
  void r.device.run().then((value) => (result = value));
  const done = await r.clock.runUntil(() => result !== undefined, maxMs);
  ok(done, `no result within ${maxMs} ms of virtual time; states ${r.states.join(" ")}`);
  return result!;
}

function runningImage(r: Rig, size: number): Uint8Array {
  const slot = r.device.bootReport!.running.slot;
  const bytes = new Uint8Array(size);
  r.flash.read(bytes, r.layout.slots[slot]!.offset);
  return bytes;
}

describe("tools/device HostDevice (simulated link, module and flash)", () => {
  it("--once update: activation restarts the engine on the same flash and port, trial boot confirmed, exit 0", async () => {
    const r = rig({});
    const result = await runToEnd(r);
    equal(result.status, "updated");
    equal(result.exitCode, 0);
    equal(result.runningVersion, "1.1.0");
    equal(result.targetVersion, "1.1.0");
    equal(result.bytes, IMAGE_SIZE);
    equal(result.restarts, 1);
    deepEqual(r.boots, [
      { version: "1.0.0", trial: false },
      { version: "1.1.0", trial: true },
    ]);
    bytesEqual(runningImage(r, IMAGE_SIZE), patternImage(COMPONENT, "1.1.0", IMAGE_SIZE));
    equal(r.device.bootReport!.running.slot, 1);
    // The engines closed their transports, but the session's port stayed open for the restarted engine.
    equal(r.portClosed(), false);
    deepEqual(
      r.outcomes.map((o) => o.status),
      ["updated"],
    );
    await r.clock.run(100);
    deepEqual(r.module.monitor.eventsOf(COMPONENT), [
      "offered",
      "confirmed",
      "downloading",
      "piece",
      "piece",
      "updating",
      "success",
    ]);
  });

  it("--once refusal (battery below the plan's minimum): exit 11 with the policy's reason, factory image untouched", async () => {
    const r = rig({ minBattery: 50, battery: 10 });
    const before = slotSha256(r.flash, r.layout, digests, 0, 8192);
    const result = await runToEnd(r);
    equal(result.status, "refused");
    equal(result.exitCode, EXIT_CODES.refused);
    equal(result.exitCode, 11);
    equal(result.reason, "battery 10% below the plan's minimum 50%");
    equal(result.runningVersion, "1.0.0");
    equal(result.bytes, 0);
    equal(result.restarts, 0);
    equal(slotSha256(r.flash, r.layout, digests, 0, 8192), before);
    await r.clock.run(100);
    deepEqual(r.module.monitor.eventsOf(COMPONENT), ["offered", "refused"]);
  });

  it("--once corrupted payload: verification fails, exit 12, the old image keeps running", async () => {
    const r = rig({ faults: ["corrupt:read=2,at=7,len=1"] });
    const result = await runToEnd(r);
    equal(result.status, "failed");
    equal(result.exitCode, 12);
    equal(result.reason, "image rejected: md5 mismatch; keeping 1.0.0");
    equal(result.runningVersion, "1.0.0");
    equal(result.bytes, IMAGE_SIZE);
    equal(result.restarts, 0);
    bytesEqual(runningImage(r, 8192), factoryImage(COMPONENT, "1.0.0"));
  });

  // The reason is not pinned: after reject() the next start-up reports no rollbackReason, so today the engine ends
  // this with "download stalled" instead of "rolled back" (reported to the lead).
  it("--once trial boot failing its health check: rolled back to the old image, exit 12", async () => {
    const r = rig({ engine: { healthCheck: () => false } });
    const result = await runToEnd(r);
    equal(result.status, "failed", `states ${r.states.join(" ")}; reason ${result.reason}`);
    equal(result.exitCode, 12);
    equal(result.runningVersion, "1.0.0");
    equal(result.restarts, 2);
    deepEqual(r.boots, [
      { version: "1.0.0", trial: false },
      { version: "1.1.0", trial: true },
      { version: "1.0.0", trial: false },
    ]);
    bytesEqual(runningImage(r, 8192), factoryImage(COMPONENT, "1.0.0"));
  });

  it("--once with nothing to offer (the plan's target is already running): exit 10 after the plan wait, saying what was reported, asked and what to check", async () => {
    const r = rig({ target: "1.0.0" });
    const result = await runToEnd(r);
    equal(result.status, "no-plan");
    equal(result.exitCode, 10);
    equal(result.runningVersion, "1.0.0");
    equal(result.targetVersion, "");
    ok(!r.states.includes("offered"), `states ${r.states.join(" ")}`);
    equal(
      result.reason,
      'no plan offered within 0.5 s: the device reported component "mcu" version "1.0.0" ' +
        '(AT+QIOTMCUVER="mcu","1.0.0") and asked for a plan (AT+QIOTOTAREQ=1). Check in the plan: its component id ' +
        'is exactly "mcu" (case counts); this device is on its whitelist (when it has one) and not on its blacklist; ' +
        'its target version is not "1.0.0"; the plan is started and belongs to the product key the module holds ' +
        "(the module's log says which)",
    );
    equal(result.reason, noPlanReason("mcu", "1.0.0", 0.5));
    await r.clock.run(100);
    deepEqual(
      r.module.monitor.entries.map((e) => `${e.event}: ${e.reason}`),
      ["not-offered: version equal: the device already runs the target 1.0.0"],
    );
  });

  it("--once with no module answering: exit 1 (error) at the engine's first give-up, not an endless retry", async () => {
    const r = rig({ powerOn: false });
    const result = await runToEnd(r, 60_000);
    equal(result.status, "error");
    equal(result.exitCode, 1);
    ok(result.reason.startsWith("engine error: ATE0"), result.reason);
  });

  it("serving (not --once): the outcome is reported and the device keeps going until stop()", async () => {
    const r = rig({ once: false, engine: { planIntervalMs: 5000 } });
    let result: DeviceResult | undefined;
    void r.device.run().then((value) => (result = value));
    ok(await r.clock.runUntil(() => r.outcomes.length >= 1, 60_000), "no outcome");
    deepEqual(
      r.outcomes.map((o) => o.status),
      ["updated"],
    );
    // The next scheduled request finds nothing newer (1.1.0 runs, the target of the plan installed): "already
    // current" (exit 0), the device goes on serving.
    ok(await r.clock.runUntil(() => r.outcomes.length >= 2, 60_000), "no second outcome");
    deepEqual(
      r.outcomes.map((o) => o.status),
      ["updated", "current"],
    );
    equal(r.outcomes[1]!.exitCode, 0);
    equal(result, undefined);
    r.device.stop();
    ok(await r.clock.runUntil(() => result !== undefined, 10_000), "stop() did not end run()");
    equal(result!.status, "current");
    equal(result!.runningVersion, "1.1.0");
  });
});
