// A module reboot mid-download (the MCU keeps running): the resumed receive skips the blocks its predecessor in RAM
// erased ahead, erases again only the block it had half written, and builds the same image (decision 84).
import { bytesEqual, deepEqual, equal, ok, throws } from "../../lib/assert.js";
import { FlashError, type FlashPartition } from "../../../hal/flash.js";
import { formatFactory, openBoot } from "../../../src/boot/generic-boot.js";
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

function setup() {
  const { flash, layout } = makeFlash(G4);
  formatFactory(flash, layout, digests, { component: "app", version: "1.0", bytes: makeImage(5000, 1) });
  // A write that fails once on demand (a flash error leaves the receive broken).
  const faulty = { failNext: false };
  const port: FlashPartition = {
    status: () => flash.status(),
    read: (into, offset) => flash.read(into, offset),
    eraseBlock: (first, end) => flash.eraseBlock(first, end),
    write: (bytes, offset) => {
      if (faulty.failNext) {
        faulty.failNext = false;
        throw new FlashError("write failed", "io");
      }
      flash.write(bytes, offset);
    },
  };
  const boot = openBoot(port, layout, digests);
  const image = makeImage(2 * 4096 + 100, 7);
  const slot = layout.slots[1];
  const first = slot.offset / 4096;
  const blocks = slot.length / 4096;
  /** Erases of each block of slot 1 since `before`: the image's three, then the seal's block (past the image). */
  const erasesSince = (before: number[]): number[] =>
    Array.from({ length: blocks }, (_, i) => (flash.stats.erases[first + i] ?? 0) - before[i]!);
  const snapshot = (): number[] => erasesSince(new Array<number>(blocks).fill(0));
  return { flash, layout, boot, image, erasesSince, snapshot, faulty, blocks };
}

/** Per-block erases expected: 1 for each block in `once`, 2 for `twice`, 0 elsewhere (slot of `blocks`). */
function expected(blocks: number, once: number[], twice: number[] = []): number[] {
  return Array.from({ length: blocks }, (_, i) => (twice.includes(i) ? 2 : once.includes(i) ? 1 : 0));
}

describe("src/image/receiver after a module reboot", () => {
  it("skips the blocks and the seal block erased ahead, erases the half-written one again, verifies the image", () => {
    const { flash, layout, boot, image, erasesSince, snapshot, blocks } = setup();
    const before = snapshot();
    const rx = boot.startReceive(describeImage(image, "2.0"));
    // Erased ahead while the module fetched the piece (the image's blocks and the seal block), then 1.25 blocks.
    while (rx.needsErase(image.length)) rx.eraseStep(image.length);
    download(rx, image, 1024, 4096 + 1024);
    deepEqual(erasesSince(before), expected(blocks, [0, 1, 2, 3]));
    const resumed = boot.resumeReceive(rx)!;
    equal(resumed.received, 4096, "the journaled sector is kept");
    ok(resumed.needsErase(4096 + 1), "block 1 holds bytes past the journal: erased again");
    download(resumed, image, 1024);
    equal(resumed.needsErase(image.length), false, "the seal block too is still erased");
    deepEqual(erasesSince(before), expected(blocks, [0, 2, 3], [1]), "block 2 and the seal block once");
    deepEqual(resumed.finish(), { ok: true, reason: "", md5: md5Hex(image), sha256: sha256Hex(image) });
    bytesEqual(flash.inspect(layout.slots[1].offset, image.length), image);
  });

  it("without the receive in RAM (an MCU reset) every block past the journal is erased again", () => {
    const { boot, image, erasesSince, snapshot, blocks } = setup();
    const before = snapshot();
    const rx = boot.startReceive(describeImage(image, "2.0"));
    while (rx.needsErase(image.length)) rx.eraseStep(image.length);
    download(rx, image, 1024, 4096 + 1024);
    const resumed = boot.resumeReceive()!;
    download(resumed, image, 1024);
    while (resumed.needsErase(image.length)) resumed.eraseStep(image.length);
    deepEqual(erasesSince(before), expected(blocks, [0], [1, 2, 3]));
    ok(resumed.finish().ok);
  });

  it("a block only the RAM tail reached (not yet programmed) is not erased again", () => {
    const { boot, image, erasesSince, snapshot, blocks } = setup();
    const before = snapshot();
    const rx = boot.startReceive(describeImage(image, "2.0"));
    while (rx.needsErase(image.length)) rx.eraseStep(image.length);
    // 4096 + 8 bytes: the 8 wait in RAM for a whole 16-byte write unit, so block 1 was never programmed.
    download(rx, image, 4104, 4104);
    const resumed = boot.resumeReceive(rx)!;
    equal(resumed.received, 4096);
    download(resumed, image, 1024);
    deepEqual(erasesSince(before), expected(blocks, [0, 1, 2, 3]));
    ok(resumed.finish().ok);
  });

  it("a receive of another session, a stale provisional one (the session re-tagged) or a broken one is no guide", () => {
    // Another session: the first receive's erases came before the second one wrote block 0.
    {
      const { boot, image, erasesSince, snapshot } = setup();
      const other = makeImage(2 * 4096 + 100, 9);
      const first = boot.startReceive(describeImage(other, "3.0"));
      while (first.needsErase(other.length)) first.eraseStep(other.length);
      const before = snapshot();
      const rx = boot.startReceive(describeImage(image, "2.0"));
      download(rx, image, 1024, 1024);
      const resumed = boot.resumeReceive(first)!;
      equal(resumed.received, 0);
      download(resumed, image, 1024);
      deepEqual(erasesSince(before), [2, 1, 1, 1], "the old session's erased blocks are erased again");
      ok(resumed.finish().ok);
    }
    // The same image in a newer session, which wrote into block 1 after the first one's erases.
    {
      const { boot, image, erasesSince, snapshot } = setup();
      const first = boot.startReceive(describeImage(image, "2.0"));
      while (first.needsErase(image.length)) first.eraseStep(image.length);
      const before = snapshot();
      const second = boot.startReceive(describeImage(image, "2.0"));
      download(second, image, 1024, 4096 + 1024);
      const resumed = boot.resumeReceive(first)!;
      download(resumed, image, 1024);
      deepEqual(erasesSince(before), [1, 2, 1, 1]);
      ok(resumed.finish().ok);
    }
    // The provisional receive of the same session, bound since to the real image that wrote into block 1.
    {
      const { boot, image, erasesSince, snapshot } = setup();
      const real = describeImage(image, "2.0");
      const before = snapshot();
      const provisional = boot.startReceive({ ...real, md5: "0".repeat(32), sha256: "", crc: 0 });
      while (provisional.needsErase(image.length)) provisional.eraseStep(image.length);
      const bound = boot.rebindReceive!(provisional, real);
      download(bound, image, 1024, 4096 + 1024);
      const resumed = boot.resumeReceive(provisional)!;
      download(resumed, image, 1024);
      deepEqual(erasesSince(before), [1, 2, 2, 2]);
      deepEqual(resumed.finish(), { ok: true, reason: "", md5: md5Hex(image), sha256: sha256Hex(image) });
    }
    // A receive a flash error broke: what it left in flash is unknown.
    {
      const { boot, image, erasesSince, snapshot, faulty } = setup();
      const before = snapshot();
      const rx = boot.startReceive(describeImage(image, "2.0"));
      while (rx.needsErase(image.length)) rx.eraseStep(image.length);
      download(rx, image, 1024, 4096 + 1024);
      faulty.failNext = true;
      throws(() => download(rx, image, 1024, 4096 + 2048), /write failed/);
      const resumed = boot.resumeReceive(rx)!;
      download(resumed, image, 1024);
      deepEqual(erasesSince(before), [1, 2, 2, 2]);
      ok(resumed.finish().ok);
    }
  });

  it("a resume erases a seal block its predecessor did not reach (stale bytes there)", () => {
    const { flash, layout, boot, image, erasesSince, snapshot, blocks } = setup();
    const sealAt = layout.slots[1].offset + layout.slots[1].length - 4096;
    flash.eraseBlock(sealAt / 4096);
    flash.write(new Uint8Array(16), sealAt);
    const before = snapshot();
    const rx = boot.startReceive(describeImage(image, "2.0"));
    while (rx.needsErase(2 * 4096)) rx.eraseStep(2 * 4096);
    download(rx, image, 1024, 4096 + 1024);
    const resumed = boot.resumeReceive(rx)!;
    download(resumed, image, 1024);
    while (resumed.needsErase(image.length)) resumed.eraseStep(image.length);
    deepEqual(erasesSince(before), expected(blocks, [0, 2, 3], [1]));
    deepEqual(resumed.finish(), { ok: true, reason: "", md5: md5Hex(image), sha256: sha256Hex(image) });
  });

  it("a rebind erases a seal block the provisional receive did not reach (stale bytes there)", () => {
    const { flash, layout, boot, image, erasesSince, snapshot, blocks } = setup();
    const sealAt = layout.slots[1].offset + layout.slots[1].length - 4096;
    flash.eraseBlock(sealAt / 4096);
    flash.write(new Uint8Array(16), sealAt);
    const before = snapshot();
    const real = describeImage(image, "2.0");
    const provisional = boot.startReceive({ ...real, md5: "0".repeat(32), sha256: "", crc: 0 });
    while (provisional.needsErase(4096)) provisional.eraseStep(4096);
    const bound = boot.rebindReceive!(provisional, real);
    download(bound, image, 1024);
    while (bound.needsErase(image.length)) bound.eraseStep(image.length);
    deepEqual(erasesSince(before), expected(blocks, [0, 1, 2, 3]));
    deepEqual(bound.finish(), { ok: true, reason: "", md5: md5Hex(image), sha256: sha256Hex(image) });
  });
});
