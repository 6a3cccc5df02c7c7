// Erase ahead (docs/protocol.md §13, decisions 57 to 59): the image's sectors are erased while the module downloads a
// piece, each once, never while more than a FIFO's worth of module bytes is on the line, and no byte is lost.

import { equal, ok } from "../../lib/assert.js";
import type { TraceEntry } from "../../../tools/module/virtual-module.js";
import { Rig } from "./rig.js";

const MINUTE = 60_000;

interface Erase {
  at: number;
  block: number;
  /** Module bytes on the line towards the MCU when the erase started. */
  inFlight: number;
}

/** The rig with every erase of the device's flash noted. */
function watchedRig(
  baud: number,
  imageSize: number,
  rate: number,
  faults: string[] = [],
  onTrace?: (entry: TraceEntry) => void,
): { rig: Rig; erases: Erase[]; reads: number[] } {
  const reads: number[] = [];
  const rig: Rig = new Rig({
    imageSize,
    baud,
    fifoSize: 128,
    settings: { downloadBytesPerSecond: rate, freeSpace: 16 * 1024 },
    faults,
    onTrace,
    onCommand: (line) => {
      if (line.startsWith("AT+QIOTOTARD=") && line !== "AT+QIOTOTARD=?") reads.push(rig.clock.now());
    },
  });
  const erases: Erase[] = [];
  const flash = rig.flash;
  const erase = flash.eraseBlock.bind(flash);
  flash.eraseBlock = (start: number, end = start + 1) => {
    for (let block = start; block < end; block++)
      erases.push({ at: rig.clock.now(), block, inFlight: rig.link.b.txPending });
    erase(start, end);
  };
  return { rig, erases, reads };
}

async function update(rig: Rig): Promise<void> {
  rig.bootDevice();
  ok(await rig.runUntil(() => rig.monitorHas("success"), 30 * MINUTE), "10705");
  await rig.clock.run(2000);
}

describe("erase ahead on a 128-byte FIFO", () => {
  for (const baud of [115200, 921600]) {
    it(`${baud} baud, pieces at 20 KB/s: every slot sector erased once before its piece's 10703, nothing lost`, async () => {
      const size = 40 * 1024 + 300;
      const { rig, erases, reads } = watchedRig(baud, size, 20_000);
      await update(rig);
      ok(rig.hasState("updated"), "updated");
      equal(rig.link.a.droppedBytes, 0, "no byte lost at the MCU");
      const slot = rig.layout.slots[1];
      const first = slot.offset / rig.layout.blockLength;
      const sectors = Math.ceil(size / rig.layout.blockLength);
      for (let block = first; block < first + sectors; block++)
        equal(erases.filter((e) => e.block === block).length, 1, `slot block ${block - first} erased once`);
      for (const e of erases)
        ok(
          e.inFlight < 128,
          `erase of block ${e.block} at ${e.at} with ${e.inFlight} module bytes on the line`,
        );
      // All image sectors were erased before the first read: the piece download (0.8 s each) hid them.
      const firstRead = reads[0]!;
      const imageErases = erases.filter((e) => e.block >= first && e.block < first + sectors);
      equal(imageErases.filter((e) => e.at > firstRead).length, 0, "no image sector erased between reads");
    });
  }
  it("a URC burst longer than the FIFO inside an erase ahead loses bytes, and the update still completes", async () => {
    // Past the 64 KiB erased before the confirm, so sectors are left to erase ahead after the 10701.
    const size = 100 * 1024 + 300;
    // First run: when the 10701 reaches the device (erasing ahead starts right after it).
    let infoAt = -1;
    let readyAt = -1;
    const probe = watchedRig(921600, size, 20_000, [], (entry) => {
      if (readyAt < 0 && entry.text === "RDY") readyAt = entry.time;
      if (infoAt < 0 && entry.text.includes("7,10701")) infoAt = entry.time;
    });
    await update(probe.rig);
    ok(infoAt > 0, "the 10701 was seen");
    const firstErase = probe.erases.find((e) => e.at > infoAt)!;
    // Second run: 12 URC lines (about 250 bytes) from the module 20 ms into the first erase ahead.
    // A fault's afterMs counts from the module's power-on, bootDelayMs (200) before its RDY.
    const powerOn = readyAt - 200;
    const { rig, erases } = watchedRig(921600, size, 20_000, [
      `burst:afterMs=${Math.round(firstErase.at + 20 - powerOn)},count=12`,
    ]);
    await update(rig);
    ok(rig.link.a.droppedBytes > 0, "the burst overflowed the FIFO during the erase");
    ok(rig.hasState("updated"), "updated all the same");
    const slot = rig.layout.slots[1];
    const first = slot.offset / rig.layout.blockLength;
    const sectors = Math.ceil(size / rig.layout.blockLength);
    for (let block = first; block < first + sectors; block++)
      equal(erases.filter((e) => e.block === block).length, 1, `slot block ${block - first} erased once`);
  });
});
