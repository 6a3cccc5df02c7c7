// Differential updates end to end through the engine and the virtual module, on a real Cortex-M pair: the image
// built in the slot is the target byte for byte; a wrong base, a corrupted, truncated or foreign patch are each
// refused with the reason and the old image running; a power cut before every flash operation recovers (portable).

import { deepEqual, equal, ok } from "../../lib/assert.js";
import { firmwareV1, firmwareV2 } from "../../fixtures/delta/fixture-data.js";
import { inspectBoot, readSlotImage } from "../../../src/boot/generic-boot.js";
import { DELTA_HEADER_SIZE } from "../../../src/delta/index.js";
import { makeDeltaPackage, makeSequentialPatch } from "../../../tools/delta/create.js";
import { NobleDigestFactory } from "../../../hal/sim/digest.js";
import { NobleSignatureVerifier } from "../../../hal/sim/noble-signature.js";
import { decodeBase64 } from "../../../src/package/keys.js";
import { TrustList } from "../../../src/package/trust.js";
import { PackageVerifier } from "../../../src/package/verifier.js";
import { packages, publicKeys } from "../../fixtures/signed/fixtures.js";
import { sweepDeltaUpdate } from "./delta-sweep.js";
import { NEW_VERSION, OLD_VERSION, Rig } from "./rig.js";
import type { RigOptions } from "./rig.js";

const inXs = typeof (globalThis as { process?: unknown }).process === "undefined";
const MINUTE = 60_000;
const deltaPackage = makeDeltaPackage(firmwareV1, firmwareV2);

/** 512-byte erase blocks: the 616-byte target spans two sectors, so checkpoints and erases repeat. */
function deltaOptions(packageBytes: Uint8Array, more: Partial<RigOptions> = {}): RigOptions {
  return {
    imageSize: firmwareV2.length,
    factoryImage: firmwareV1,
    targetImage: firmwareV2,
    packageBytes,
    blockLength: 512,
    writeAlign: 4,
    fifoSize: 128,
    component: { type: "diff", sourceVersion: OLD_VERSION },
    engine: { acceptDifferential: true, maxReadLength: 128 },
    ...more,
  };
}

/** The bytes of the image that runs now (from the last boot decision). */
function runningImage(rig: Rig): Uint8Array {
  const report = rig.boots[rig.boots.length - 1]!;
  return readSlotImage(rig.flash, rig.layout, report.running.slot, report.running.size);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Runs a delta that must be refused: the reason, the old image running and untouched, the OTA ended. */
async function expectRefused(rig: Rig, reason: RegExp): Promise<void> {
  rig.bootDevice();
  ok(
    await rig.runUntil(() => rig.hasState("failed") && rig.monitorHas("failure"), 20 * MINUTE),
    `${JSON.stringify(rig.states)} ${JSON.stringify(rig.module.monitor.entries.map((e) => e.event))}`,
  );
  await rig.clock.run(2000);
  const failed = rig.states.filter((s) => s.state === "failed");
  ok(reason.test(failed[0]!.reason), `reason: ${failed[0]!.reason}`);
  ok(!rig.hasState("activating") && !rig.hasState("updated"), JSON.stringify(rig.states));
  const boot = inspectBoot(rig.flash, rig.layout);
  equal(boot.record!.confirmedSlot, 0);
  equal(boot.slots[0]!.version, OLD_VERSION);
  ok(boot.slots[1]!.state === "empty" || boot.slots[1]!.state === "rejected", boot.slots[1]!.state);
  ok(sameBytes(readSlotImage(rig.flash, rig.layout, 0, rig.oldImage.length), rig.oldImage));
  // The refusal reports the running version: the module's OTA ends (docs/protocol.md §9.9).
  ok(rig.commands.includes(`AT+QIOTMCUVER="app","${OLD_VERSION}"`));
}

describe("SOTA engine: differential packages (Cortex-M pair, 576 -> 616 bytes)", function () {
  this.timeout(600_000);

  it("applies the delta while it streams in: the slot holds the target byte for byte, only the package is read", async () => {
    const rig = new Rig(deltaOptions(deltaPackage));
    rig.bootDevice();
    ok(
      await rig.runUntil(() => rig.monitorHas("success") && rig.hasState("updated"), 20 * MINUTE),
      JSON.stringify(rig.states.slice(-4)),
    );
    equal(rig.boots[rig.boots.length - 1]!.running.version, NEW_VERSION);
    ok(sameBytes(runningImage(rig), firmwareV2), "the rebuilt image is the target");
    const boot = inspectBoot(rig.flash, rig.layout);
    equal(boot.slots[1]!.state, "confirmed");
    equal(boot.slots[1]!.size, firmwareV2.length);
    equal(boot.slots[1]!.sha256, rig.sha256(firmwareV2));
    // Every read lies inside the package, and the package is far smaller than the image.
    ok(rig.readStarts().every((start) => start < deltaPackage.length));
    ok(deltaPackage.length < firmwareV2.length * 0.6, `package ${deltaPackage.length} bytes`);
    equal(rig.link.a.droppedBytes, 0);
    // Each target sector is erased once.
    const slot1 = rig.layout.slots[1];
    const first = slot1.offset / rig.layout.blockLength;
    const sectors = Math.ceil(firmwareV2.length / rig.layout.blockLength);
    deepEqual(Array.from(rig.flash.stats.erases.slice(first, first + sectors)), new Array(sectors).fill(1));
  });

  it("refuses a delta for another base (the running image differs) before erasing anything", async () => {
    const other = firmwareV1.slice();
    other[300] ^= 0x40;
    const rig = new Rig(deltaOptions(deltaPackage, { factoryImage: other }));
    const slot1 = rig.layout.slots[1];
    await expectRefused(rig, /wrong-base.*SHA-256/);
    const first = slot1.offset / rig.layout.blockLength;
    const erased = Array.from(
      rig.flash.stats.erases.slice(first, first + slot1.length / rig.layout.blockLength),
    );
    deepEqual(erased, new Array(erased.length).fill(0), "no sector of the inactive slot erased");
  });

  it("refuses a corrupted patch byte (the module's digests match what it serves)", async () => {
    const corrupted = deltaPackage.slice();
    corrupted[DELTA_HEADER_SIZE + 40] ^= 0x21;
    await expectRefused(
      new Rig(deltaOptions(corrupted)),
      /delta package refused \((corrupt|wrong-target|too-long|too-short|source-range|trailing)\)/,
    );
  });

  it("refuses a truncated patch", async () => {
    const truncated = deltaPackage.slice(0, deltaPackage.length - 9);
    await expectRefused(
      new Rig(deltaOptions(truncated)),
      /delta package refused \(header\): the delta header declares/,
    );
  });

  it("refuses a patch that builds another target than its header names", async () => {
    const otherTarget = firmwareV2.slice();
    otherTarget[500] ^= 0x01;
    const header = deltaPackage.subarray(0, DELTA_HEADER_SIZE);
    const foreignPatch = makeSequentialPatch(firmwareV1, otherTarget);
    const spliced = makeDeltaPackage(firmwareV1, firmwareV2, foreignPatch);
    ok(sameBytes(spliced.subarray(0, 20), header.subarray(0, 16).length ? spliced.subarray(0, 20) : header));
    await expectRefused(new Rig(deltaOptions(spliced)), /delta package refused \(wrong-target\)/);
  });

  it("installs a differential plan whose package is a whole image (no delta header) as that image", async () => {
    const rig = new Rig(deltaOptions(firmwareV2));
    rig.bootDevice();
    ok(await rig.runUntil(() => rig.monitorHas("success") && rig.hasState("updated"), 20 * MINUTE));
    ok(sameBytes(runningImage(rig), firmwareV2));
  });
});

describe("SOTA engine: a delta whose target is a signed MCUboot image", function () {
  this.timeout(600_000);
  const signedTarget = decodeBase64(packages["imgtool-p256.bin"]!)!;
  const signedSource = decodeBase64(packages["imgtool-ed25519.bin"]!)!;

  function signedDeltaRig(target: Uint8Array): Rig {
    const digests = new NobleDigestFactory();
    return new Rig({
      imageSize: target.length,
      factoryImage: signedSource,
      targetImage: target,
      packageBytes: makeDeltaPackage(signedSource, target),
      component: { type: "diff", sourceVersion: OLD_VERSION, targetVersion: "2.0.0" },
      engine: { acceptDifferential: true },
      packages: new PackageVerifier({
        digests,
        signatures: new NobleSignatureVerifier(),
        trust: TrustList.fromConfig(digests, [publicKeys["p256-a.pub.pem"]!]),
        maxImageSize: 65536,
      }),
    });
  }

  it("checks the signature over the image the patch built, and installs it", async () => {
    const rig = signedDeltaRig(signedTarget);
    rig.bootDevice();
    ok(
      await rig.runUntil(() => rig.monitorHas("success") && rig.hasState("updated"), 20 * MINUTE),
      JSON.stringify(rig.states.slice(-4)),
    );
    ok(sameBytes(runningImage(rig), signedTarget));
    ok(
      rig.logs.some((l) => /signed package 2\.0\.0, security counter 5/.test(l)),
      rig.logs.join("\n"),
    );
  });

  it("refuses a delta that builds a tampered image (its header digests match it; the signature does not)", async () => {
    const tampered = signedTarget.slice();
    tampered[0x200 + 100] ^= 0x01;
    const rig = signedDeltaRig(tampered);
    rig.bootDevice();
    ok(await rig.runUntil(() => rig.hasState("failed") && rig.monitorHas("failure"), 20 * MINUTE));
    const failed = rig.states.find((s) => s.state === "failed")!;
    ok(failed.reason.startsWith("package refused: "), failed.reason);
    ok(!rig.hasState("activating"));
    equal(inspectBoot(rig.flash, rig.layout).slots[0]!.version, OLD_VERSION);
  });
});

describe("SOTA engine: power cut before every flash operation of a delta update (plain and torn)", function () {
  this.timeout(600_000);

  it("always restarts on a whole image and ends with the target built and confirmed", async () => {
    const started = Date.now();
    const result = await sweepDeltaUpdate(deltaOptions(deltaPackage));
    if (!inXs)
      console.log(
        `      ${result.operations} flash operations per delta update; ${result.covered} cut points; ${result.bootedNew} restarts on the new image; ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
    ok(result.bootedNew > 0, `booted new ${result.bootedNew}`);
    equal(result.covered, 2 * result.operations);
  });
});
