// DeltaReceiver on its own (portable): the engine's calling pattern (erase steps, then a write per read) builds the
// target in the slot; flash work happens only in erase steps; no view per block; refusals are typed and sticky.

import { equal, ok } from "../../lib/assert.js";
import { firmwareV1, firmwareV2 } from "../../fixtures/delta/fixture-data.js";
import { openBoot, readSlotImage } from "../../../src/boot/generic-boot.js";
import { DeltaReceiver, DeltaRefused } from "../../../src/image/delta-receiver.js";
import type { DeltaReceiverPorts } from "../../../src/image/delta-receiver.js";
import type { ImageDescriptor } from "../../../src/image/types.js";
import type { Digest } from "../../../hal/digest.js";
import { toHex } from "../../../hal/digest.js";
import { makeDeltaPackage } from "../../../tools/delta/create.js";
import { createSimDevice } from "../../../tools/sim/device.js";

const pkg = makeDeltaPackage(firmwareV1, firmwareV2);

function setUp(factory: Uint8Array) {
  const sim = createSimDevice({
    baud: 115200,
    slotSize: 4096,
    blockLength: 512,
    factory: { component: "app", version: "1.0.0", bytes: factory },
  });
  const boot = openBoot(sim.flash, sim.layout, sim.digests);
  const seen: Uint8Array[] = [];
  const md5 = sim.digests.create("MD5");
  const spy: Digest = {
    write: (chunk) => {
      seen.push(chunk);
      md5.write(chunk);
    },
    close: () => md5.close(),
    reset: () => md5.reset(),
  };
  const digest = (bytes: Uint8Array, algorithm: "MD5" | "SHA256") => {
    const d = sim.digests.create(algorithm);
    d.write(bytes);
    return toHex(d.close());
  };
  const descriptor: ImageDescriptor = {
    component: "app",
    version: "1.1.0",
    size: pkg.length,
    md5: digest(pkg, "MD5"),
    sha256: digest(pkg, "SHA256"),
    crc: 0,
  };
  const checkpoints: number[] = [];
  const ports: DeltaReceiverPorts = {
    readRunning: (offset, into) => boot.readRunning!(offset, into),
    runningSlotLength: boot.runningSlotLength!,
    runningSize: boot.report.running.size,
    startTarget: (d) => boot.startReceive(d),
    partial: undefined,
    md5: spy,
    sha256: sim.digests.create("SHA256"),
    work: sim.digests.create("SHA256"),
    blockLength: sim.layout.blockLength,
    maxWrite: 64,
    saveCheckpoint: (record) => void checkpoints.push(record.length),
  };
  return { sim, boot, ports, descriptor, seen, checkpoints };
}

/** The engine's pattern: erase steps (line quiet) until none is needed, then one read's write. */
function feed(receiver: DeltaReceiver, bytes: Uint8Array, block: number, flashOps: () => number): number[] {
  const buffer = new Uint8Array(block);
  const opsInWrites: number[] = [];
  for (let at = 0; at < bytes.length; at += block) {
    const n = Math.min(block, bytes.length - at);
    while (receiver.eraseStep(at + n));
    buffer.set(bytes.subarray(at, at + n));
    const before = flashOps();
    receiver.write(buffer, n);
    opsInWrites.push(flashOps() - before);
  }
  while (receiver.needsErase(bytes.length) && receiver.eraseStep(bytes.length));
  return opsInWrites;
}

describe("src/image/delta-receiver", () => {
  it("builds the target in the slot from 48-byte reads; the package digests see one view per buffer", () => {
    const { sim, boot, ports, descriptor, seen, checkpoints } = setUp(firmwareV1);
    const receiver = new DeltaReceiver(ports, descriptor);
    const erasesBefore = sim.flash.stats.eraseCount;
    const erasesInWrites = feed(receiver, pkg, 48, () => sim.flash.stats.eraseCount);
    ok(
      erasesInWrites.every((n) => n === 0),
      `a write erased: ${erasesInWrites}`,
    );
    equal(receiver.incomplete(), "");
    const verdict = receiver.finish();
    ok(verdict.ok, verdict.reason);
    equal(receiver.imageSize, firmwareV2.length);
    const slot = boot.record().slots[1]!;
    equal(slot.state, "verified");
    equal(slot.size, firmwareV2.length);
    const built = readSlotImage(sim.flash, sim.layout, 1, firmwareV2.length);
    ok(built.every((b, i) => b === firmwareV2[i]));
    ok(sim.flash.stats.eraseCount > erasesBefore);
    // Full 48-byte reads are handed over as the buffer itself; the short last one as one view.
    const distinct = new Set(seen);
    ok(distinct.size <= 2, `${distinct.size} distinct chunks for ${seen.length} writes`);
    ok(checkpoints.every((n) => n === 392));
  });

  it("refuses a delta for another base in an erase step, before anything is erased, and stays refused", () => {
    const other = firmwareV1.slice();
    other[10] ^= 1;
    const { sim, ports, descriptor } = setUp(other);
    const receiver = new DeltaReceiver(ports, descriptor);
    const before = sim.flash.stats.eraseCount;
    const buffer = pkg.slice(0, 128);
    receiver.write(buffer, 128);
    let refusal: unknown;
    try {
      while (receiver.eraseStep(pkg.length));
    } catch (error) {
      refusal = error;
    }
    ok(refusal instanceof DeltaRefused && refusal.code === "wrong-base", String(refusal));
    equal(sim.flash.stats.eraseCount, before);
    let again: unknown;
    try {
      receiver.write(buffer, 1);
    } catch (error) {
      again = error;
    }
    equal(again, refusal);
    ok(receiver.incomplete().startsWith("delta package refused (wrong-base)"));
  });

  it("refuses a header whose declared length is not the download's, at the write that completes it", () => {
    const { ports, descriptor } = setUp(firmwareV1);
    const receiver = new DeltaReceiver(ports, { ...descriptor, size: pkg.length + 1 });
    let refusal: unknown;
    try {
      receiver.write(pkg.slice(0, 100), 100);
    } catch (error) {
      refusal = error;
    }
    ok(refusal instanceof DeltaRefused && refusal.code === "header", String(refusal));
    ok(
      String((refusal as Error).message).includes(
        `declares ${pkg.length} bytes, the download has ${pkg.length + 1}`,
      ),
    );
  });
});
