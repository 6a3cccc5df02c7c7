// Edges of the MCUboot trailer: each layout rule's bound and message, exact layouts, the area checks, odd trailer
// bytes as bootutil reads them, the writers' return codes and write counts (portable).
import { deepEqual, equal, throws } from "../../../lib/assert.js";
import { SimNorFlash } from "../../../../hal/sim/nor-flash.js";
import {
  BootFlag,
  BootMagic,
  BootRc,
  McubootTrailer,
  SwapType,
  bootMagic,
  trailerLayout,
  type FlashArea,
} from "../../../../src/boot/mcuboot/trailer.js";

const SLOT = 4096;
const MOVE = { mode: "move" as const, maxAlign: 8, writeAlign: 1 };

function rig(writeAlign = 1, eraseValue = 0xff) {
  const flash = new SimNorFlash({ size: 2 * SLOT, blockLength: SLOT, writeAlign, eraseValue });
  const trailer = new McubootTrailer(SLOT, { ...MOVE, writeAlign, eraseValue });
  const primary: FlashArea = { flash, offset: 0, size: SLOT };
  const secondary: FlashArea = { flash, offset: SLOT, size: SLOT };
  return { flash, trailer, primary, secondary };
}

describe("src/boot/mcuboot trailer edges", () => {
  it("refuses unknown modes, alignments and slots too small, with their messages; takes the bounds", () => {
    throws(
      () => trailerLayout(SLOT, { ...MOVE, mode: "bogus" as "move" }),
      /^mcuboot: unknown swap mode bogus$/,
    );
    for (const maxAlign of [4, 12, 64, 0])
      throws(
        () => trailerLayout(SLOT, { ...MOVE, maxAlign }),
        new RegExp(`^mcuboot: BOOT_MAX_ALIGN ${maxAlign} is not 8, 16 or 32$`),
      );
    for (const writeAlign of [3, 16, 0])
      throws(
        () => trailerLayout(SLOT, { ...MOVE, writeAlign }),
        new RegExp(`^mcuboot: write alignment ${writeAlign} does not divide BOOT_MAX_ALIGN 8$`),
      );
    equal(trailerLayout(SLOT, { ...MOVE, writeAlign: 8 }).writeAlign, 8);
    equal(trailerLayout(16384, { mode: "offset", maxAlign: 32, writeAlign: 32 }).maxAlign, 32);
    // move, 8/1, 128 sectors: 384 status bytes + 4 fields of 8 + 16 of magic = 432.
    throws(() => trailerLayout(432, MOVE), /^mcuboot: slot of 432 bytes cannot hold a 432-byte trailer$/);
    equal(trailerLayout(440, MOVE).status, 8);
    throws(() => trailerLayout(444, MOVE), /cannot hold/);
    throws(() => trailerLayout(440.5, MOVE), /cannot hold/);
  });

  it("exact layouts: move and offset at 8/1, move at 32/32, a smaller status area, another erased value", () => {
    deepEqual(trailerLayout(SLOT, MOVE), {
      mode: "move",
      slotSize: SLOT,
      maxAlign: 8,
      writeAlign: 1,
      eraseValue: 0xff,
      magicAlignSize: 16,
      magic: 4080,
      imageOk: 4072,
      copyDone: 4064,
      swapInfo: 4056,
      unprotectedTlvSizes: -1,
      swapSize: 4048,
      status: 4096 - 432,
      trailerSize: 432,
      magicBytes: bootMagic(8),
    });
    const offset = trailerLayout(SLOT, { ...MOVE, mode: "offset" });
    deepEqual(
      [offset.unprotectedTlvSizes, offset.swapSize, offset.trailerSize, offset.status],
      [4048, 4040, 256 + 32 + 8 + 16, 4096 - 312],
    );
    const wide = trailerLayout(16384, { mode: "move", maxAlign: 32, writeAlign: 32 });
    deepEqual(
      [
        wide.magicAlignSize,
        wide.magic,
        wide.imageOk,
        wide.copyDone,
        wide.swapInfo,
        wide.swapSize,
        wide.trailerSize,
      ],
      [32, 16368, 16320, 16288, 16256, 16224, 128 * 3 * 32 + 128 + 32],
    );
    const small = trailerLayout(SLOT, { ...MOVE, maxImgSectors: 4, eraseValue: 0 });
    deepEqual([small.trailerSize, small.eraseValue], [4 * 3 + 32 + 16, 0]);
    deepEqual([...bootMagic(16).subarray(0, 3)], [16, 0, 0x2d]);
    deepEqual([...bootMagic(32).subarray(0, 2)], [32, 0]);
  });

  it("checks each area against the layout: size, write alignment, erased value", () => {
    const { flash, trailer } = rig();
    throws(
      () => trailer.readState({ flash, offset: 0, size: SLOT - 8 }),
      /^mcuboot: area of 4088 bytes, trailer laid out for 4096$/,
    );
    const other = new SimNorFlash({ size: SLOT, blockLength: SLOT, writeAlign: 4 });
    throws(
      () => trailer.readState({ flash: other, offset: 0, size: SLOT }),
      /^mcuboot: flash writes 4-byte units \(erased 0xff\), trailer expects 1$/,
    );
    const zeroed = new SimNorFlash({ size: SLOT, blockLength: SLOT, writeAlign: 1, eraseValue: 0 });
    throws(() => trailer.readState({ flash: zeroed, offset: 0, size: SLOT }), /erased 0x0\)/);
    throws(() => trailer.readSwapSize({ flash, offset: 0, size: 8 }), /area of 8 bytes/);
    throws(() => trailer.writeCopyDone({ flash: other, offset: 0, size: SLOT }), /flash writes 4-byte/);
  });

  it("reads odd trailer bytes as bootutil does: swap types past REVERT, erased info, flags other than 0x01", () => {
    const { flash, trailer, primary } = rig();
    const erased = trailer.readState(primary);
    deepEqual(erased, {
      magic: BootMagic.unset,
      swapType: SwapType.none,
      imageNum: 0,
      copyDone: BootFlag.unset,
      imageOk: BootFlag.unset,
    });
    trailer.writeSwapInfo(primary, SwapType.perm, 2);
    deepEqual([trailer.readState(primary).swapType, trailer.readState(primary).imageNum], [3, 2]);
    equal(flash.inspect(4056, 1)[0], 0x23);
    const next = rig();
    next.trailer.writeSwapInfo(next.primary, SwapType.revert, 1);
    deepEqual(
      [next.trailer.readState(next.primary).swapType, next.trailer.readState(next.primary).imageNum],
      [4, 1],
    );
    // Erased to 0x00: the info byte reads as erased (NONE, image 0), not as swap type 0.
    const zero = rig(1, 0);
    deepEqual(zero.trailer.readState(zero.primary), { ...erased });
    const past = rig();
    past.trailer.writeSwapInfo(past.primary, 5, 1);
    deepEqual(
      [past.trailer.readState(past.primary).swapType, past.trailer.readState(past.primary).imageNum],
      [1, 0],
    );
    // Flags: 0x01 set, anything else written bad; one magic byte off is a bad magic.
    const flags = rig();
    flags.flash.write(Uint8Array.of(0x02), 4064);
    flags.trailer.writeImageOk(flags.primary);
    const magic = bootMagic(8);
    magic[15] ^= 1;
    flags.flash.write(magic, 4080);
    deepEqual(flags.trailer.readState(flags.primary), {
      magic: BootMagic.bad,
      swapType: SwapType.none,
      imageNum: 0,
      copyDone: BootFlag.bad,
      imageOk: BootFlag.set,
    });
  });

  it("swap_size: 32-bit little-endian, erased reads 0xffffffff, the top bit stays unsigned", () => {
    const { flash, trailer, primary, secondary } = rig();
    equal(trailer.readSwapSize(primary), 0xffffffff);
    trailer.writeSwapSize(primary, 0x80012345);
    deepEqual([...flash.inspect(4048, 4)], [0x45, 0x23, 0x01, 0x80]);
    equal(trailer.readSwapSize(primary), 0x80012345);
    const into = new Uint8Array(4);
    trailer.writeSwapSize(secondary, 0x1234, into);
    deepEqual([...into], [0x34, 0x12, 0, 0]);
    equal(trailer.readSwapSize(secondary), 0x1234);
  });

  it("writers pad to the write alignment with the erased value, one write each", () => {
    const { flash, trailer, primary } = rig(8);
    trailer.writeCopyDone(primary);
    deepEqual([...flash.inspect(4064, 8)], [1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    trailer.writeMagic(primary);
    deepEqual([...flash.inspect(4080, 16)], [...bootMagic(8)]);
    equal(trailer.readState(primary).copyDone, BootFlag.set);
  });

  it("setPending and setConfirmed: return codes and write counts for each magic", () => {
    const a = rig();
    deepEqual(a.trailer.setPending(a.secondary, false), { rc: BootRc.ok, writes: 2 });
    deepEqual(a.trailer.setPending(a.secondary, true), { rc: BootRc.ok, writes: 0 });
    equal(a.trailer.readState(a.secondary).imageOk, BootFlag.unset);
    const b = rig();
    deepEqual(b.trailer.setPending(b.secondary, true, 3), { rc: BootRc.ok, writes: 3 });
    deepEqual(b.trailer.readState(b.secondary), {
      magic: BootMagic.good,
      swapType: SwapType.perm,
      imageNum: 3,
      copyDone: BootFlag.unset,
      imageOk: BootFlag.set,
    });
    const c = rig();
    c.flash.write(Uint8Array.of(0), SLOT + 4080);
    deepEqual(c.trailer.setPending(c.secondary, false), { rc: BootRc.badImage, writes: 0 });
    c.flash.write(Uint8Array.of(0), 4080);
    deepEqual(c.trailer.setConfirmed(c.primary), { rc: BootRc.badVector, writes: 0 });
    const d = rig();
    deepEqual(d.trailer.setConfirmed(d.primary), { rc: BootRc.ok, writes: 0 });
    d.trailer.writeMagic(d.primary);
    deepEqual(d.trailer.setConfirmed(d.primary), { rc: BootRc.ok, writes: 1 });
    deepEqual(d.trailer.setConfirmed(d.primary), { rc: BootRc.ok, writes: 0 });
    equal(d.trailer.readState(d.primary).imageOk, BootFlag.set);
  });
});
