// Entry bundled for the engine benchmark in XS: one whole update on the simulated board, driven in steps.

import { Rig } from "../test/src/sota/rig.js";

const g = globalThis as Record<string, unknown>;
let rig: Rig | undefined;
let received = 0;

g.benchStart = (size: number): void => {
  // One piece and a roomy FIFO: the measurement is the device's per-block path, not the module's piece logic.
  rig = new Rig({ imageSize: size, settings: { freeSpace: size }, recordCommands: false });
  rig.bootDevice();
  const engine = rig.engine!;
  const report = engine.onProgress!;
  engine.onProgress = (p) => {
    received = p.bytes;
    report(p);
  };
};

g.benchRunTo = (bytes: number): void => {
  void rig!
    .runUntil(() => received >= bytes, 3_600_000)
    .then((reached) => {
      g.benchReached = reached ? received : -1;
    });
};

g.benchFinish = (): void => {
  void rig!
    .runUntil(() => rig!.monitorHas("success") && rig!.hasState("updated"), 3_600_000)
    .then((done) => {
      g.benchReached = done ? -2 : -1;
    });
};
