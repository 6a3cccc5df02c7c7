// The Zephyr board's flash: three flash-map partitions (records, slot 0, slot 1) joined into the MCUboot backend's
// one address space; accesses split at partition ends, the layout is exact, and MCUboot's trailer lands at the real
// end of slot 1 (the stm32u5a9j_dk geometry scaled down: 16-byte writes, BOOT_MAX_ALIGN 16, swap-using-offset).

import { bytesEqual, deepEqual, equal, ok, throws } from "../../lib/assert.js";
import { JoinedFlash } from "../../../hal/moddable/flash-map.js";
import { SimNorFlash } from "../../../hal/sim/nor-flash.js";
import { NobleDigestFactory } from "../../../hal/sim/digest.js";
import { provisionRecords, zephyrLayout } from "../../../src/app/boards/zephyr-layout.js";
import { openMcuboot } from "../../../src/boot/mcuboot/mcuboot-boot.js";
import { SwapType } from "../../../src/boot/mcuboot/trailer.js";
import { mcubootReset } from "../boot/mcuboot/mcuboot-sim.js";

const BLOCK = 1024;
const MAGIC_16 = [
  0x10, 0x00, 0x2d, 0xe1, 0x5d, 0x29, 0x41, 0x0b, 0x8d, 0x77, 0x67, 0x9c, 0x11, 0x0f, 0x1f, 0x8a,
];

function board(recordBlocks = 4, slot0Blocks = 16, slot1Blocks = 16) {
  const make = (blocks: number): SimNorFlash =>
    new SimNorFlash({ size: blocks * BLOCK, blockLength: BLOCK, writeAlign: 16 });
  const records = make(recordBlocks);
  const slot0 = make(slot0Blocks);
  const slot1 = make(slot1Blocks);
  const flash = new JoinedFlash([
    { name: "sota-records", flash: records },
    { name: "image-0", flash: slot0 },
    { name: "image-1", flash: slot1 },
  ]);
  return { records, slot0, slot1, flash };
}

describe("src/app/boards/zephyr-layout (and hal/moddable/flash-map)", () => {
  it("joins partitions end to end: status, and writes, reads and erases split at their ends", () => {
    const { records, slot0, flash } = board();
    deepEqual(flash.status(), { size: 36 * BLOCK, blockLength: BLOCK, writeAlign: 16, eraseValue: 0xff });
    const bytes = new Uint8Array(64).map((_, i) => i + 1);
    flash.write(bytes, 4 * BLOCK - 32);
    bytesEqual(records.inspect(4 * BLOCK - 32, 32), bytes.subarray(0, 32));
    bytesEqual(slot0.inspect(0, 32), bytes.subarray(32));
    const back = new Uint8Array(64);
    flash.read(back, 4 * BLOCK - 32);
    bytesEqual(back, bytes);
    flash.eraseBlock(3, 5);
    bytesEqual(records.inspect(3 * BLOCK, BLOCK), new Uint8Array(BLOCK).fill(0xff));
    bytesEqual(slot0.inspect(0, BLOCK), new Uint8Array(BLOCK).fill(0xff));
    equal(flash.partAt(4 * BLOCK).name, "image-0");
    equal(flash.partAt(20 * BLOCK).name, "image-1");
  });

  it("refuses partitions of another block length, naming them", () => {
    throws(
      () =>
        new JoinedFlash([
          { name: "a", flash: new SimNorFlash({ size: 4 * BLOCK, blockLength: BLOCK, writeAlign: 16 }) },
          { name: "b", flash: new SimNorFlash({ size: 4 * 2048, blockLength: 2048, writeAlign: 16 }) },
        ]),
      /partition b has blocks of 2048 bytes, a of 1024/,
    );
  });

  it("the layout: two record blocks and the journal in the records' partition, the slots whole", () => {
    const { flash } = board();
    deepEqual(zephyrLayout(flash), {
      size: 36 * BLOCK,
      blockLength: BLOCK,
      writeAlign: 16,
      eraseValue: 0xff,
      records: [
        { offset: 0, length: BLOCK },
        { offset: BLOCK, length: BLOCK },
      ],
      journal: { offset: 2 * BLOCK, length: 2 * BLOCK },
      slots: [
        { offset: 4 * BLOCK, length: 16 * BLOCK },
        { offset: 20 * BLOCK, length: 16 * BLOCK },
      ],
    });
    throws(
      () => zephyrLayout(board(4, 16, 17).flash),
      /slot 1 \(17408 bytes\) differs from slot 0 \(16384\)/,
    );
    throws(() => zephyrLayout(board(2).flash), /needs 2 record blocks and a journal/);
  });

  it("a fresh board: one record names this build in slot 0, confirmed; the next start-up keeps it", () => {
    const { flash } = board();
    const layout = zephyrLayout(flash);
    equal(provisionRecords(flash, layout, { component: "STM32", version: "1.0.0" }), true);
    equal(provisionRecords(flash, layout, { component: "STM32", version: "9.9.9" }), false);
    const boot = openMcuboot(flash, layout, new NobleDigestFactory(), { mode: "offset", maxAlign: 16 });
    deepEqual([boot.report.running.component, boot.report.running.version], ["STM32", "1.0.0"]);
    equal(boot.report.trial, false);
    equal(boot.report.swapType, SwapType.none);
  });

  it("the upgrade request lands at the end of the image-1 partition, and MCUboot's swap crosses the join", () => {
    const { flash, slot0, slot1 } = board();
    const layout = zephyrLayout(flash);
    provisionRecords(flash, layout, { component: "STM32", version: "1.0.0" });
    const boot = openMcuboot(flash, layout, new NobleDigestFactory(), { mode: "offset", maxAlign: 16 });
    const image = new Uint8Array(2 * BLOCK).map((_, i) => (i * 7) & 0xff);
    flash.write(image, layout.slots[1].offset + BLOCK); // swap-using-offset: one sector in
    const secondary = { flash, offset: layout.slots[1].offset, size: layout.slots[1].length };
    equal(boot.trailer.setPending(secondary, false).rc, 0);
    deepEqual([...slot1.inspect(16 * BLOCK - 16, 16)], MAGIC_16);
    equal(mcubootReset(flash, layout, boot.trailer).swapType, SwapType.test);
    bytesEqual(slot0.inspect(0, image.length), image);
    ok(boot.maxImageSize < 15 * BLOCK);
  });
});
