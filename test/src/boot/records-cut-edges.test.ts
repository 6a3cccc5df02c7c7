// The record store when the first record write after a block switch is cut: the next commit switches again into
// a freshly erased block, never back into the full one (portable).
import { deepEqual, equal, ok } from "../../lib/assert.js";
import { PowerLoss } from "../../../hal/sim/nor-flash.js";
import { formatFactory, openBoot } from "../../../src/boot/generic-boot.js";
import { describeImage, digests, makeFlash, makeImage } from "./fixtures.js";

const G = { name: "4K/4", blockLength: 4096, writeAlign: 4, blocks: 12 };

describe("src/boot/records: a write cut at a block switch", () => {
  it("erases the other block again and writes there, leaving the full block as it was", () => {
    const { flash, layout } = makeFlash(G);
    formatFactory(flash, layout, digests, { component: "app", version: "1.0", bytes: makeImage(5000, 71) });
    const boot = openBoot(flash, layout, digests);
    const descriptor = describeImage(makeImage(3000, 72), "2.0");
    // Record 0 is the factory's; 7 more fill the 8 records of the first block.
    for (let i = 0; i < 7; i++) {
      if (i % 2 === 0) boot.startReceive(descriptor);
      else boot.abandonReceive(`drop ${i}`);
    }
    const blockOf = (offset: number): number => offset / layout.blockLength;
    const full = flash.inspect(layout.records[0].offset, layout.blockLength);
    // The switch: erase the second block (operation 1), write its first record (operation 2, cut).
    flash.armPowerCut(2);
    let cut = false;
    try {
      boot.abandonReceive("cut");
    } catch (error) {
      cut = error instanceof PowerLoss;
    }
    ok(cut, "the record write was cut");
    flash.powerOn();
    flash.resetStats();
    boot.abandonReceive("after the cut");
    equal(flash.stats.erases[blockOf(layout.records[1].offset)], 1);
    equal(flash.stats.bytesWritten[blockOf(layout.records[0].offset)], 0);
    deepEqual(flash.inspect(layout.records[0].offset, layout.blockLength), full);
    const again = openBoot(flash, layout, digests);
    deepEqual([again.record().slots[1].state, again.record().slots[1].reason], ["empty", "after the cut"]);
  });
});
