// Differential updates on the larger Cortex-M pair (newlib, 42 KB, eleven 4 KiB sectors): the target built byte
// for byte, checkpoints at every sector, and a power-cut sweep that resumes from them (Node: reads the fixtures).

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ok } from "../../lib/assert.js";
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

  it("a power cut before every flash operation: a whole image runs, the update resumes from its checkpoint", async () => {
    const started = Date.now();
    const result = await sweepDeltaUpdate(options());
    console.log(
      `      ${result.operations} flash operations per delta update; ${result.covered} cut points; ${result.resumes} resumed from a checkpoint; ${result.bootedNew} restarts on the new image; ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    ok(result.resumes > 0 && result.bootedNew > 0, JSON.stringify(result));
  });
});
