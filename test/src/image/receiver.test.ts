// Image writer and resume journal: exact flash bytes, explicit erases, every rejection, verdicts and resume (portable).
import { bytesEqual, deepEqual, equal, ok, throws } from "../../lib/assert.js";
import { FlashError, type FlashPartition } from "../../../hal/flash.js";
import type { DigestFactory } from "../../../hal/digest.js";
import { PowerLoss } from "../../../hal/sim/nor-flash.js";
import { formatFactory, openBoot } from "../../../src/boot/generic-boot.js";
import { descriptorTag } from "../../../src/image/receiver.js";
import {
  describeImage,
  digests,
  download,
  makeFlash,
  makeImage,
  md5Hex,
  sha256Hex,
  type Geometry,
} from "../boot/fixtures.js";

const G4: Geometry = { name: "4K/16", blockLength: 4096, writeAlign: 16, blocks: 12 };

function factory(g = G4) {
  const { flash, layout } = makeFlash(g);
  const old = makeImage(5000, 1);
  formatFactory(flash, layout, digests, { component: "app", version: "1.0", bytes: old });
  return { flash, layout, old };
}

describe("src/image/receiver", () => {
  it("writes exactly the image, padding the last write unit with the erase value", () => {
    const { flash, layout } = factory();
    const boot = openBoot(flash, layout, digests);
    const image = makeImage(2 * 4096 + 37, 2);
    const rx = boot.startReceive(describeImage(image, "2.0"));
    download(rx, image, 1000);
    equal(rx.received, image.length);
    const slot = layout.slots[1];
    bytesEqual(flash.inspect(slot.offset, image.length), image);
    // 37 bytes end the image inside a 16-byte unit: the rest of that unit stays 0xFF.
    bytesEqual(flash.inspect(slot.offset + image.length, 11), new Uint8Array(11).fill(0xff));
    const verdict = rx.finish();
    deepEqual(verdict, { ok: true, reason: "", md5: md5Hex(image), sha256: sha256Hex(image) });
    equal(boot.report.slots[1]!.state, "verified");
  });

  it("buffers writes shorter than the alignment and never writes misaligned", () => {
    const { flash, layout } = factory();
    const boot = openBoot(flash, layout, digests);
    const image = makeImage(100, 3);
    const rx = boot.startReceive(describeImage(image, "2.0"));
    while (rx.needsErase(100)) rx.eraseStep(100);
    const writesBefore = flash.stats.writeCount;
    rx.write(image.subarray(0, 5), 5);
    equal(flash.stats.writeCount, writesBefore, "5 bytes < 16 stay in RAM");
    rx.write(image.subarray(5, 40), 35);
    equal(flash.stats.bytesWrittenTotal % 16, 0);
    download(rx, image, 7);
    bytesEqual(flash.inspect(layout.slots[1].offset, 100), image);
    ok(rx.finish().ok);
  });

  it("rebindReceive: an untouched receive takes the real descriptor and keeps its erases; a reset after it erases again", () => {
    const { flash, layout } = factory();
    const boot = openBoot(flash, layout, digests);
    const image = makeImage(2 * 4096 + 37, 5);
    const real = describeImage(image, "2.0");
    const provisional = { ...real, md5: "0".repeat(32), sha256: "", crc: 0 };
    const rx = boot.startReceive(provisional);
    while (rx.needsErase(image.length)) rx.eraseStep(image.length);
    const erased = flash.stats.eraseCount;
    const bound = boot.rebindReceive!(rx, real);
    equal(bound.needsErase(image.length), false, "the erased blocks stay erased");
    equal(boot.report.slots[1]!.md5, real.md5, "the boot record names the real image");
    download(bound, image, 1000);
    deepEqual(bound.finish(), { ok: true, reason: "", md5: md5Hex(image), sha256: sha256Hex(image) });
    equal(flash.stats.eraseCount, erased, "no block erased twice");
    throws(() => boot.rebindReceive!(bound, real), /no untouched receive/);

    // A receive something was written through is never rebound; after a reset the journal is empty: erase again.
    const again = openBoot(flash, layout, digests);
    const second = again.startReceive(provisional);
    while (second.needsErase(4096)) second.eraseStep(4096);
    second.write(image, 16);
    throws(() => again.rebindReceive!(second, real), /no untouched receive/);
    const third = openBoot(flash, layout, digests).startReceive(provisional);
    while (third.needsErase(4096)) third.eraseStep(4096);
    const afterReset = openBoot(flash, layout, digests);
    const resumed = afterReset.resumeReceive()!;
    const rebound = afterReset.rebindReceive!(resumed, real);
    equal(rebound.received, 0);
    ok(rebound.needsErase(4096), "nothing erased is known after a reset");
  });

  it("erases only in eraseStep, one block at a time, journal first", () => {
    const { flash, layout } = factory();
    const boot = openBoot(flash, layout, digests);
    const image = makeImage(3 * 4096, 4);
    const erasesBefore = flash.stats.eraseCount;
    const rx = boot.startReceive(describeImage(image, "2.0"));
    equal(flash.stats.eraseCount, erasesBefore, "startReceive erases nothing");
    ok(rx.needsErase(10));
    ok(rx.eraseStep(10));
    equal(flash.stats.erases[layout.journal.offset / 4096], 2, "journal block (format + now)");
    ok(rx.eraseStep(10));
    equal(flash.stats.erases[layout.slots[1].offset / 4096], 2);
    equal(rx.needsErase(4096), false);
    equal(rx.eraseStep(4096), false);
    ok(rx.needsErase(4097 + 15));
  });

  it("rejects a write past the image, one before its erase, and over unerased flash", () => {
    const { flash, layout } = factory();
    const boot = openBoot(flash, layout, digests);
    const image = makeImage(4096 + 100, 5);
    const rx = boot.startReceive(describeImage(image, "2.0"));
    const before = flash.snapshot();
    throws(
      () => rx.write(image, 32),
      (e) => e instanceof FlashError && e.code === "unerased",
      "journal not erased",
    );
    rx.eraseStep(32);
    throws(
      () => rx.write(image, 32),
      (e) => e instanceof FlashError && e.code === "unerased",
      "slot block not erased",
    );
    bytesEqual(
      flash.snapshot().subarray(layout.slots[1].offset),
      before.subarray(layout.slots[1].offset),
      "nothing written",
    );
    while (rx.needsErase(4096)) rx.eraseStep(4096);
    rx.write(image.subarray(0, 4096), 4096);
    throws(() => rx.write(image.subarray(4096), 100), /need an erase first/);
    throws(() => rx.write(new Uint8Array(300), 300), RangeError, "beyond the image size");
    throws(() => rx.write(new Uint8Array(3), 4), RangeError, "length beyond the buffer");
    // Flash dirtied behind the receiver's back: the NOR rule refuses it and the receiver stops.
    rx.eraseStep(4196);
    flash.write(new Uint8Array(16), layout.slots[1].offset + 4096);
    throws(
      () => rx.write(new Uint8Array(100).fill(0xaa), 100),
      (e) => e instanceof FlashError && e.code === "unerased",
    );
    throws(() => rx.write(new Uint8Array(1), 1), /unusable after a flash error/);
  });

  it("refuses an image with a bad MD5, a bad SHA-256 or a short size, and records why", () => {
    for (const [bad, reason] of [
      ["md5", "md5"],
      ["sha256", "sha256"],
      ["size", "size"],
    ] as const) {
      const { flash, layout } = factory();
      const boot = openBoot(flash, layout, digests);
      const image = makeImage(6000, 6);
      const d = describeImage(image, "2.0");
      if (bad === "md5") d.md5 = md5Hex(makeImage(6000, 7));
      if (bad === "sha256") d.sha256 = sha256Hex(makeImage(6000, 7));
      const rx = boot.startReceive(d);
      download(rx, image, 512, bad === "size" ? 5000 : 6000);
      const verdict = rx.finish();
      equal(verdict.ok, false);
      equal(verdict.reason, reason);
      equal(verdict.md5, bad === "size" ? md5Hex(image.subarray(0, 5000)) : md5Hex(image));
      const slot = boot.report.slots[1] as { state: string; reason?: string };
      equal(slot.state, "rejected");
      equal(slot.reason, `verify failed: ${reason}`);
      throws(() => boot.activate(), /only a verified image/);
      throws(() => rx.finish(), /already finished/);
      // Survives a restart: the refused image stays refused.
      equal(openBoot(flash, layout, digests).report.slots[1]!.state, "rejected");
    }
  });

  it("accepts an image on MD5 alone when the module sent no SHA-256", () => {
    const { flash, layout } = factory();
    const boot = openBoot(flash, layout, digests);
    const image = makeImage(3000, 8);
    const rx = boot.startReceive(describeImage(image, "2.0", "app", false));
    download(rx, image, 1024);
    const verdict = rx.finish();
    ok(verdict.ok);
    equal(verdict.sha256, sha256Hex(image));
  });

  it("resumes from the journal: re-checks the written sectors, re-streams digests, never rewrites them", () => {
    const { flash, layout } = factory();
    const image = makeImage(3 * 4096 + 500, 9);
    let boot = openBoot(flash, layout, digests);
    const rx = boot.startReceive(describeImage(image, "2.0"));
    download(rx, image, 1000, 2 * 4096 + 1500);
    // Restart: 2 whole sectors are journaled, the partial third is not.
    boot = openBoot(flash, layout, digests);
    const resumed = boot.resumeReceive()!;
    equal(resumed.received, 2 * 4096);
    deepEqual(resumed.descriptor, describeImage(image, "2.0"));
    const slotBlock = layout.slots[1].offset / 4096;
    const before = flash.stats.bytesWritten.slice();
    const erasesBefore = flash.stats.erases.slice();
    download(resumed, image, 1000);
    equal(flash.stats.bytesWritten[slotBlock], before[slotBlock]);
    equal(flash.stats.bytesWritten[slotBlock + 1], before[slotBlock + 1]);
    equal(flash.stats.erases[slotBlock + 1], erasesBefore[slotBlock + 1]);
    equal(
      flash.stats.erases[slotBlock + 2],
      erasesBefore[slotBlock + 2]! + 1,
      "the dirty third block is erased again",
    );
    ok(resumed.finish().ok);
    bytesEqual(flash.inspect(layout.slots[1].offset, image.length), image);
  });

  it("stops the resumable prefix at a sector whose bytes no longer match the journal", () => {
    const { flash, layout } = factory();
    const image = makeImage(3 * 4096, 10);
    const boot = openBoot(flash, layout, digests);
    download(boot.startReceive(describeImage(image, "2.0")), image, 4096, 3 * 4096 - 1);
    // Clear one bit in sector 1 (NOR allows 1 -> 0): its CRC fails, so sectors 1.. are redone.
    const at = layout.slots[1].offset + 4096 + 16;
    const value = flash.inspect(at, 16);
    value[0] = value[0]! & 0xfe;
    if (value[0] === image[4096 + 16]) value[0] = 0;
    flash.write(value, at);
    const resumed = openBoot(flash, layout, digests).resumeReceive()!;
    equal(resumed.received, 4096);
    download(resumed, image, 4096);
    ok(resumed.finish().ok);
  });

  it("keeps resuming correctly after a cut during the journal clean-up", () => {
    const { flash, layout } = factory();
    const image = makeImage(3 * 4096, 11);
    download(openBoot(flash, layout, digests).startReceive(describeImage(image, "2.0")), image, 4096, 5000);
    // A second receive session for another image leaves the old journal dirty; cut its clearing erase.
    const boot = openBoot(flash, layout, digests);
    const other = makeImage(2 * 4096, 12);
    const rx = boot.startReceive(describeImage(other, "3.0"));
    flash.armPowerCut(1, "erase-garbage", 5);
    throws(() => rx.eraseStep(10), PowerLoss);
    flash.powerOn();
    const resumed = openBoot(flash, layout, digests).resumeReceive()!;
    equal(resumed.descriptor.version, "3.0");
    equal(resumed.received, 0);
    download(resumed, other, 1500);
    ok(resumed.finish().ok);
  });

  it("drops a stale receiver once a new receive starts or the receive is abandoned", () => {
    const { flash, layout } = factory();
    const boot = openBoot(flash, layout, digests);
    const image = makeImage(100, 13);
    const first = boot.startReceive(describeImage(image, "2.0"));
    const second = boot.startReceive(describeImage(image, "2.1"));
    throws(() => first.write(image, 10), /replaced or abandoned/);
    boot.abandonReceive("plan cancelled");
    throws(() => second.eraseStep(10), /replaced or abandoned/);
    const slot = boot.report.slots[1] as { state: string; reason?: string };
    equal(slot.state, "empty");
    equal(slot.reason, "plan cancelled");
    equal(openBoot(flash, layout, digests).resumeReceive(), undefined);
  });

  it("allocates no view per block: the buffers handed to flash and digests repeat once the pattern repeats", () => {
    for (const g of [G4, { name: "4K/1", blockLength: 4096, writeAlign: 1, blocks: 12 }]) {
      const { flash: sim, layout } = factory(g);
      const image = makeImage(3 * 4096 + 999, 14);
      const seenFlash = new Set<Uint8Array>();
      const seenDigest = new Set<Uint8Array>();
      let writes = 0;
      const flash: FlashPartition = {
        status: () => sim.status(),
        eraseBlock: (start, end) => sim.eraseBlock(start, end),
        read: (into, offset) => sim.read(into, offset),
        write: (bytes, offset) => {
          if (offset >= layout.slots[1].offset && offset < layout.slots[1].offset + layout.slots[1].length)
            seenFlash.add(bytes);
          sim.write(bytes, offset);
        },
      };
      const spying: DigestFactory = {
        create: (algorithm) => {
          const inner = digests.create(algorithm);
          return {
            write: (chunk) => (seenDigest.add(chunk), inner.write(chunk)),
            close: () => inner.close(),
            reset: () => inner.reset(),
          };
        },
      };
      const rx = openBoot(flash, layout, spying).startReceive(describeImage(image, "2.0"));
      // Like the engine: one 1000-byte buffer, reads of 1000 (or fewer at the end) bytes.
      const buffer = new Uint8Array(1000);
      const want = 600;
      while (rx.received < image.length) {
        const n = Math.min(want, image.length - rx.received);
        while (rx.eraseStep(rx.received + n));
        buffer.set(image.subarray(rx.received, rx.received + n));
        rx.write(buffer, n);
        writes++;
      }
      ok(rx.finish().ok);
      ok(writes > 20, `${writes} writes`);
      // 600 = 37.5 units of 16: the body alternates between two shapes, plus the last piece (and the tail unit).
      ok(seenFlash.size <= 5, `${g.name}: ${seenFlash.size} distinct flash buffers for ${writes} writes`);
      ok(seenDigest.size <= 3, `${g.name}: ${seenDigest.size} distinct digest buffers for ${writes} writes`);
    }
  });
  it("tags each image apart: any field of the descriptor changes the journal tag", () => {
    const image = describeImage(makeImage(100, 3), "2.0");
    const tag = descriptorTag(image);
    equal(descriptorTag({ ...image }), tag, "the same descriptor, the same tag");
    for (const other of [
      { ...image, component: "gnss" },
      { ...image, version: "2.1" },
      { ...image, size: 101 },
      { ...image, md5: "0".repeat(32) },
      { ...image, sha256: "" },
    ])
      ok(descriptorTag(other) !== tag, JSON.stringify(other));
  });

  it("refuses a write length that is negative, fractional or longer than the buffer; a zero length writes nothing", () => {
    const { flash, layout } = factory();
    const rx = openBoot(flash, layout, digests).startReceive(describeImage(makeImage(100, 4), "2.0"));
    const buffer = new Uint8Array(16);
    throws(() => rx.write(buffer, -1), /length -1 outside the 16-byte buffer/);
    throws(() => rx.write(buffer, 1.5), /length 1.5 outside the 16-byte buffer/);
    throws(() => rx.write(buffer, 17), /length 17 outside the 16-byte buffer/);
    rx.write(buffer, 0);
    equal(rx.received, 0);
  });

  it("needs no erase and erases nothing for bytes already received", () => {
    const { flash, layout } = factory();
    const image = makeImage(4096 + 100, 5);
    const rx = openBoot(flash, layout, digests).startReceive(describeImage(image, "2.0"));
    download(rx, image, 512, 2048);
    const erases = flash.stats.erases.reduce((a, b) => a + b, 0);
    for (const upTo of [0, 1000, 2048]) {
      equal(rx.needsErase(upTo), false, `needsErase(${upTo})`);
      equal(rx.eraseStep(upTo), false, `eraseStep(${upTo})`);
    }
    equal(
      flash.stats.erases.reduce((a, b) => a + b, 0),
      erases,
      "no erase",
    );
    ok(rx.needsErase(image.length), "the second block is still to erase");
  });
});
