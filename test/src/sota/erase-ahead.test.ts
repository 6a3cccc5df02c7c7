// Erase ahead (docs/protocol.md §13, decisions 60, 61 and 82): the image's sectors are erased while the module downloads
// a piece, or before the confirm and QIOTUPDATE=2 when pieces come faster than their erases; each once, never while
// more than a FIFO's worth of module bytes is on the line, never between the reads of a piece, and no byte is lost.

import { equal, ok } from "../../lib/assert.js";
import type { TraceEntry } from "../../../tools/module/virtual-module.js";
import { Rig } from "./rig.js";

const MINUTE = 60_000;
/** The module's piece (its free flash) in these tests. */
const PIECE = 16 * 1024;
/** The module has each piece 1 ms after asking for it. */
const INSTANT = 1_000_000_000;

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
): { rig: Rig; erases: Erase[]; reads: number[]; offsets: number[] } {
  const reads: number[] = [];
  const offsets: number[] = [];
  const rig: Rig = new Rig({
    imageSize,
    baud,
    fifoSize: 128,
    settings: { downloadBytesPerSecond: rate, freeSpace: PIECE },
    faults,
    onTrace,
    onCommand: (line) => {
      if (line.startsWith("AT+QIOTOTARD=") && line !== "AT+QIOTOTARD=?") {
        reads.push(rig.clock.now());
        offsets.push(Number(line.slice("AT+QIOTOTARD=".length, line.indexOf(","))));
      }
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
  return { rig, erases, reads, offsets };
}

async function update(rig: Rig): Promise<void> {
  rig.bootDevice();
  ok(await rig.runUntil(() => rig.monitorHas("success"), 30 * MINUTE), "10705");
  await rig.clock.run(2000);
}

describe("erase ahead on a 128-byte FIFO", () => {
  for (const baud of [115200, 921600]) {
    it(`${baud} baud, instant pieces: no erase between the reads of a piece, every slot sector erased once, nothing lost`, async () => {
      // Past the 64 KiB erased before the confirm: the last piece's sectors are erased before its QIOTUPDATE=2.
      const size = 72 * 1024 + 300;
      const { rig, erases, reads, offsets } = watchedRig(baud, size, INSTANT);
      await update(rig);
      ok(rig.hasState("updated"), "updated");
      equal(rig.link.a.droppedBytes, 0, "no byte lost at the MCU");
      const slot = rig.layout.slots[1];
      const first = slot.offset / rig.layout.blockLength;
      const sectors = Math.ceil(size / rig.layout.blockLength);
      for (let block = first; block < first + sectors; block++)
        equal(erases.filter((e) => e.block === block).length, 1, `slot block ${block - first} erased once`);
      equal(offsets.length, Math.ceil(size / 1024), "one read per KiB, none repeated");
      for (const e of erases) {
        ok(
          e.inFlight < 128,
          `erase of block ${e.block} at ${e.at} with ${e.inFlight} module bytes on the line`,
        );
        // The reads around this erase: never two reads of the same piece.
        let after = reads.findIndex((at) => at > e.at);
        if (after < 0) after = reads.length;
        if (after === 0 || after === reads.length) continue;
        const piece = Math.floor(offsets[after - 1]! / PIECE);
        ok(
          Math.floor(offsets[after]! / PIECE) !== piece,
          `erase of block ${e.block} at ${e.at} between the reads at ${offsets[after - 1]} and ${offsets[after]}`,
        );
      }
      // The first piece's sectors went before the confirm: none after the first read of the first piece's window.
      const lastFirstPieceBlock = first + PIECE / rig.layout.blockLength - 1;
      equal(
        erases.filter((e) => e.block >= first && e.block <= lastFirstPieceBlock && e.at > reads[0]!).length,
        0,
        "the first piece's sectors erased before its first read",
      );
    });
  }
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
