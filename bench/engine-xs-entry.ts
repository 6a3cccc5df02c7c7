// Entry bundled for the engine benchmark in XS: one whole update on the simulated device against the virtual
// module (the same HostDevice as `sota-device`), driven in steps.

import { patternImage } from "../tools/device/flash-setup.js";
import { HostDevice } from "../tools/device/session.js";
import { parsePlan } from "../tools/module/plan.js";
import { VirtualModule } from "../tools/module/virtual-module.js";
import { createSimDevice } from "../tools/sim/device.js";
import type { SimDevice } from "../tools/sim/device.js";

const COMPONENT = "app";
const g = globalThis as Record<string, unknown>;
let device: SimDevice | undefined;
let received = 0;
let updated = false;

g.benchStart = (size: number): void => {
  const blockLength = 4096;
  const slotSize = Math.ceil((size + 1) / blockLength) * blockLength;
  const sim = createSimDevice({
    baud: 115200,
    slotSize,
    partitionSize: (2 * (slotSize / blockLength) + 4) * blockLength,
    flashTime: "always",
    factory: { component: COMPONENT, version: "1.0.0", bytes: patternImage(COMPONENT, "1.0.0", 3000) },
  });
  device = sim;
  const image = patternImage(COMPONENT, "1.1.0", size);
  // One piece: the measurement is the device's per-block path, not the module's piece logic.
  const plan = parsePlan({
    product: "pBench",
    components: [
      {
        id: COMPONENT,
        type: "full",
        targetVersion: "1.1.0",
        package: "pkg.bin",
        minBattery: 10,
        minSignal: -110,
      },
    ],
    settings: {
      productKey: "pBench",
      productSecret: "secret",
      downloadBytesPerSecond: 1_000_000,
      freeSpace: size,
    },
    faults: [],
  });
  const module = new VirtualModule({
    serial: sim.link.b,
    clock: sim.clock,
    digests: sim.digests,
    plan,
    packages: () => image,
  });
  module.powerOn();
  const host = new HostDevice({
    serial: sim.link.a,
    clock: sim.clock,
    flash: sim.flash,
    layout: sim.layout,
    digests: sim.digests,
    kv: sim.kv,
    component: COMPONENT,
    baud: 115200,
    once: true,
    onProgress: (p) => {
      received = p.bytes;
      if (p.state === "updated") updated = true;
    },
  });
  void host.run();
};

g.benchRunTo = (bytes: number): void => {
  void device!.clock
    .runUntil(() => received >= bytes, 3_600_000)
    .then((reached) => {
      // The virtual module clears a timer per read: drop the cleared ones, so the heap shows what is live.
      device!.clock.compact();
      g.benchReached = reached ? received : -1;
    });
};

g.benchFinish = (): void => {
  void device!.clock
    .runUntil(() => updated, 3_600_000)
    .then((done) => {
      g.benchReached = done ? -2 : -1;
    });
};
