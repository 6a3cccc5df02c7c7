// Differential updates on the larger Cortex-M pair (newlib, 42 KB, eleven 4 KiB sectors): the target built byte
// for byte, checkpoints at every sector, and a power-cut sweep that resumes from them (Node: reads the fixtures).

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { equal, ok } from "../../lib/assert.js";
import { readSlotImage } from "../../../src/boot/generic-boot.js";
import { makeDeltaPackage } from "../../../tools/delta/create.js";
import { sweepDeltaUpdate } from "./delta-sweep.js";
import { NEW_VERSION, OLD_VERSION, Rig } from "./rig.js";
import type { RigOptions } from "./rig.js";

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../fixtures/delta");
const v1 = new Uint8Array(fs.readFileSync(path.join(fixtures, "firmware-libc-v1.bin")));
const v2 = new Uint8Array(fs.readFileSync(path.join(fixtures, "firmware-libc-v2.bin")));
const pkg = makeDeltaPackage(v1, v2);
const MINUTE = 60_000;

function options(more: Partial<RigOptions> = {}): RigOptions {
  return {
    imageSize: v2.length,
    factoryImage: v1,
    targetImage: v2,
    packageBytes: pkg,
    fifoSize: 128,
    component: { type: "diff", sourceVersion: OLD_VERSION },
    engine: { acceptDifferential: true, maxReadLength: 128 },
    ...more,
  };
}

describe("SOTA engine: a delta of the newlib Cortex-M pair (42,309 -> 42,373 bytes)", function () {
  this.timeout(900_000);

  it("builds the target byte for byte from a package of about 3 % of it, checkpoints at sector boundaries", async () => {
    const rig = new Rig(options());
    let checkpoints = 0;
    const set = rig.kv.set.bind(rig.kv);
    rig.kv.set = (key: string, value: string) => {
      if (key === "sota.delta") checkpoints++;
      set(key, value);
    };
    rig.bootDevice();
    ok(await rig.runUntil(() => rig.monitorHas("success") && rig.hasState("updated"), 20 * MINUTE));
    const report = rig.boots[rig.boots.length - 1]!;
    ok(report.running.version === NEW_VERSION);
    const built = readSlotImage(rig.flash, rig.layout, report.running.slot, report.running.size);
    ok(built.length === v2.length && built.every((b, i) => b === v2[i]), "byte-identical");
    ok(pkg.length < v2.length * 0.04, `package ${pkg.length} bytes`);
    // Two boundaries inside one read keep only the later checkpoint (saved once the line is quiet).
    ok(checkpoints >= 4, `${checkpoints} checkpoints`);
    ok(rig.kv.get("sota.delta") === undefined, "the checkpoint is dropped once the image is verified");
  });

  it("reads of 1 KiB: the header's read waits for the base check, the last read is applied before the finish", async () => {
    const rig = new Rig(options({ engine: { acceptDifferential: true } }));
    rig.bootDevice();
    ok(
      await rig.runUntil(() => rig.monitorHas("success") && rig.hasState("updated"), 20 * MINUTE),
      JSON.stringify(rig.states.slice(-3)),
    );
    const report = rig.boots[rig.boots.length - 1]!;
    const built = readSlotImage(rig.flash, rig.layout, report.running.slot, report.running.size);
    ok(built.length === v2.length && built.every((b, i) => b === v2[i]), "byte-identical");
    ok(rig.readStarts().length === 2, `reads at ${rig.readStarts()}`);
  });

  it("a module reboot mid-package: the next offer applies the package on from the last checkpoint (the bytes before it only re-hashed)", async () => {
    const rig = new Rig(options({ faults: ["reboot:read=7"] }));
    rig.bootDevice();
    ok(
      await rig.runUntil(() => rig.monitorHas("success") && rig.hasState("updated"), 30 * MINUTE),
      JSON.stringify(rig.states.slice(-4)),
    );
    const report = rig.boots[rig.boots.length - 1]!;
    const built = readSlotImage(rig.flash, rig.layout, report.running.slot, report.running.size);
    ok(built.length === v2.length && built.every((b, i) => b === v2[i]), "byte-identical");
    const resumed = rig.logs
      .map((l) => /delta resumes at package byte (\d+)/.exec(l))
      .find((m) => m !== null);
    ok(resumed !== undefined, rig.logs.join("\n"));
    const from = Number(resumed[1]);
    // The second offer: the package before the checkpoint is read again for the digests only, then applied from it.
    const starts = rig.readStarts();
    const again = starts.findIndex((at, i) => i > 0 && at < starts[i - 1]!);
    const after = starts.slice(again);
    const applyAt = after.indexOf(from);
    ok(from > 0 && again > 0 && after[0] === 0, `reads ${starts}, resumed at ${from}`);
    ok(applyAt > 0 && after.slice(0, applyAt).every((at) => at < from), `reads ${starts}`);
    ok(rig.logs.some((l) => l.includes(`the package's first ${from} bytes read again for its digests`)));
    ok(!rig.logs.some((l) => l.includes("package digests not compared")), "the digests were compared");
    // No target sector was erased twice: the output between the checkpoint and the journaled prefix was compared.
    const slot = rig.layout.slots[report.running.slot]!;
    const first = slot.offset / rig.layout.blockLength;
    const sectors = Math.ceil(v2.length / rig.layout.blockLength);
    const erases = Array.from(rig.flash.stats.erases.slice(first, first + sectors));
    ok(
      erases.every((n) => n === 1),
      `erases ${erases}`,
    );
  });

  it("without a checkpoint (lost) the package is read from byte 0 and the target sectors already verified are compared, not rewritten", async () => {
    const rig = new Rig(options());
    // A cut in the middle of the target's writes.
    rig.flash.armPowerCut(100, "none", 1);
    rig.bootDevice();
    ok(await rig.runUntil(() => rig.flash.cutHappened, 20 * MINUTE));
    rig.powerCut();
    rig.flash.powerOn();
    ok(rig.kv.get("sota.delta") !== undefined, "a checkpoint was saved before the cut");
    rig.kv.delete("sota.delta");
    const commandsBefore = rig.commands.length;
    const erasesBefore = Array.from(rig.flash.stats.erases);
    rig.bootDevice();
    ok(await rig.runUntil(() => rig.monitorHas("success") && rig.hasState("updated"), 30 * MINUTE));
    const report = rig.boots[rig.boots.length - 1]!;
    const built = readSlotImage(rig.flash, rig.layout, report.running.slot, report.running.size);
    ok(built.length === v2.length && built.every((b, i) => b === v2[i]), "byte-identical");
    const compared = rig.logs
      .map((l) => /delta: (\d+) bytes of 1\.1\.0 verified in the slot are compared/.exec(l))
      .find((m) => m !== null);
    ok(compared !== undefined, rig.logs.join("\n"));
    const verified = Number(compared![1]);
    ok(verified >= 4096, `${verified} bytes verified`);
    equal(rig.readStarts(commandsBefore)[0], 0);
    // The verified sectors were not erased again.
    const slot = rig.layout.slots[report.running.slot]!;
    const first = slot.offset / rig.layout.blockLength;
    for (let i = 0; i < verified / rig.layout.blockLength; i++)
      equal(rig.flash.stats.erases[first + i], erasesBefore[first + i], `sector ${i} erased again`);
  });

  it("a connection loss mid-package does not disturb the delta (the piece is in the module's flash)", async () => {
    const rig = new Rig(options({ faults: ["disconnect:read=7"] }));
    rig.bootDevice();
    ok(await rig.runUntil(() => rig.monitorHas("success") && rig.hasState("updated"), 30 * MINUTE));
    const report = rig.boots[rig.boots.length - 1]!;
    const built = readSlotImage(rig.flash, rig.layout, report.running.slot, report.running.size);
    ok(built.length === v2.length && built.every((b, i) => b === v2[i]), "byte-identical");
  });

  it("a package in three module pieces of 512 bytes: applied across the pieces, nothing lost on a 128-byte FIFO", async () => {
    const rig = new Rig(options({ settings: { freeSpace: 512 } }));
    rig.bootDevice();
    ok(
      await rig.runUntil(() => rig.monitorHas("success") && rig.hasState("updated"), 30 * MINUTE),
      JSON.stringify(rig.states.slice(-4)),
    );
    equal(rig.module.monitor.entries.filter((e) => e.event === "piece").length, 3);
    const report = rig.boots[rig.boots.length - 1]!;
    const built = readSlotImage(rig.flash, rig.layout, report.running.slot, report.running.size);
    ok(built.length === v2.length && built.every((b, i) => b === v2[i]), "byte-identical");
    equal(rig.link.a.droppedBytes, 0);
  });

  it("a plain power cut before every flash operation, the package in pieces of 512 bytes", async () => {
    // Plain cuts only: the torn ones are the single-piece sweep's (below), and the machine is shared.
    const result = await sweepDeltaUpdate(options({ settings: { freeSpace: 512 } }), ["none"]);
    console.log(
      `      ${result.operations} flash operations; ${result.covered} cut points; ${result.resumes} resumed from a checkpoint; ${result.bootedNew} restarts on the new image`,
    );
    ok(result.resumes > 0 && result.bootedNew > 0, JSON.stringify(result));
  });

  it("a power cut before every flash operation: a whole image runs, the update resumes from its checkpoint", async () => {
    const started = Date.now();
    const result = await sweepDeltaUpdate(options());
    console.log(
      `      ${result.operations} flash operations per delta update; ${result.covered} cut points; ${result.resumes} resumed from a checkpoint; ${result.bootedNew} restarts on the new image; ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    ok(result.resumes > 0 && result.bootedNew > 0, JSON.stringify(result));
  });
});
