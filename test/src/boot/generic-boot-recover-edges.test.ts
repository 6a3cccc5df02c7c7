// Generic boot's start-up after lost records and its receives at the slot's end, at their edges: integrity without
// re-hashing, an image filling its slot on trial, no stray seal-block erase, a record write cut at a block switch
// (portable).
import { deepEqual, equal, ok } from "../../lib/assert.js";
import { SimNorFlash } from "../../../hal/sim/nor-flash.js";
import { decodeRecord } from "../../../src/boot/records.js";
import { formatFactory, openBoot } from "../../../src/boot/generic-boot.js";
import { describeImage, digests, download, makeFlash, makeImage } from "./fixtures.js";

const G = { name: "4K/4", blockLength: 4096, writeAlign: 4, blocks: 12 };
const OLD = makeImage(5000, 61);
const NEW = makeImage(3000, 62);

function factory() {
  const { flash, layout } = makeFlash(G);
  formatFactory(flash, layout, digests, { component: "app", version: "1.0", bytes: OLD });
  return { flash, layout };
}

/** A copy of `flash` with every valid boot record's bytes damaged: only the seals are left. */
function withoutRecords(flash: SimNorFlash, layout: ReturnType<typeof factory>["layout"]): SimNorFlash {
  const image = flash.snapshot();
  for (const region of layout.records)
    for (let at = region.offset; at < region.offset + region.length; at += 512)
      if (decodeRecord(image.subarray(at, at + 512), layout.slots[0].length)) image[at + 100]! ^= 0x40;
  return new SimNorFlash({ ...flash.status(), initial: image });
}

describe("src/boot/generic-boot: recovery and the slot's end", () => {
  it("a trial rebuilt from the seals counts as checked without verifyOnBoot, in either slot", () => {
    // Slot 1 newer (confirmed slot 0), then slot 0 newer (confirmed slot 1).
    const { flash, layout } = factory();
    const boot = openBoot(flash, layout, digests);
    const rx = boot.startReceive(describeImage(NEW, "2.0"));
    download(rx, NEW, 1024);
    equal(rx.finish().ok, true);
    const first = openBoot(withoutRecords(flash, layout), layout, digests, { verifyOnBoot: false });
    deepEqual(
      [first.report.running.slot, first.report.trial, first.report.integrity, first.record().confirmedSlot],
      [1, true, "ok", 0],
    );
    boot.activate();
    openBoot(flash, layout, digests).confirm();
    const third = makeImage(4000, 63);
    const next = openBoot(flash, layout, digests);
    const rx3 = next.startReceive(describeImage(third, "3.0"));
    download(rx3, third, 1024);
    equal(rx3.finish().ok, true);
    const second = openBoot(withoutRecords(flash, layout), layout, digests, { verifyOnBoot: false });
    deepEqual(
      [
        second.report.running.slot,
        second.report.trial,
        second.report.integrity,
        second.record().confirmedSlot,
      ],
      [0, true, "ok", 1],
    );
  });

  it("an image filling its slot boots as a trial, re-hashed whole; its receive erases no block outside the slot", () => {
    const { flash, layout } = factory();
    const boot = openBoot(flash, layout, digests);
    const full = makeImage(layout.slots[1].length, 64);
    const rx = boot.startReceive(describeImage(full, "2.0"));
    flash.resetStats();
    download(rx, full, 1024);
    // Only slot 1 and the journal are erased: no seal block (-1) outside them, the running slot 0 least of all.
    const blockOf = (offset: number): number => offset / layout.blockLength;
    const allowed = new Set<number>();
    for (const region of [layout.slots[1], layout.journal])
      for (let b = blockOf(region.offset); b < blockOf(region.offset + region.length); b++) allowed.add(b);
    flash.stats.erases.forEach((count, block) => {
      if (!allowed.has(block)) equal(count, 0, `erases of block ${block}`);
    });
    equal(rx.finish().ok, true);
    boot.activate();
    const trial = openBoot(flash, layout, digests);
    deepEqual(
      [trial.report.running.slot, trial.report.trial, trial.report.integrity, trial.report.rollbackReason],
      [1, true, "ok", ""],
    );
    ok(trial.record().slots[1].sha256.length === 64, "a SHA-256 on record");
  });
});
