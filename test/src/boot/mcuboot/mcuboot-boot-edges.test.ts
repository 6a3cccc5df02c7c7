// Edges of the MCUboot backend: exact geometry, each refusal's message, the start-up rows a power cut or lost records
// leave (unknown trial, request before its record, image_ok before its record), the trailer-first receiver (portable).
import { deepEqual, equal, ok, throws } from "../../../lib/assert.js";
import {
  formatMcuboot,
  makeTrailer,
  openMcuboot,
  REASON,
  secondaryImageRegion,
  trailerBlocks,
} from "../../../../src/boot/mcuboot/mcuboot-boot.js";
import { BootMagic, SwapType, type FlashArea } from "../../../../src/boot/mcuboot/trailer.js";
import { describeImage, digests, download, makeImage, sha256Hex } from "../fixtures.js";
import { mcubootReset } from "./mcuboot-sim.js";
import { MCUBOOT_GEOMETRIES, makeRig, type Rig } from "./rig.js";

const OLD = makeImage(4096 + 100, 51);
const NEW = makeImage(4096 + 300, 52);
const G = MCUBOOT_GEOMETRIES[0]!;

function factory(rig: Rig): void {
  formatMcuboot(rig.sim, rig.layout, digests, { component: "app", version: "1.0", bytes: OLD });
}

function open(rig: Rig) {
  return openMcuboot(rig.sim, rig.layout, digests, rig.options);
}

function area(rig: Rig, slot: number): FlashArea {
  return { flash: rig.sim, offset: rig.layout.slots[slot]!.offset, size: rig.layout.slots[slot]!.length };
}

function received(rig: Rig, image = NEW, version = "2.0") {
  const boot = open(rig);
  const rx = boot.startReceive(describeImage(image, version));
  download(rx, image, 1000);
  ok(rx.finish().ok);
  return boot;
}

describe("src/boot/mcuboot backend edges", () => {
  it("geometry: trailer blocks, slot 1's image region per mode, the default trailer options", () => {
    const rig = makeRig("offset", G);
    const slot1 = rig.layout.slots[1];
    const [first, end] = trailerBlocks(rig.layout, rig.trailer, 1);
    equal(end, (slot1.offset + slot1.length) / 4096);
    equal(first, Math.floor((slot1.offset + slot1.length - rig.trailer.layout.trailerSize) / 4096));
    deepEqual(secondaryImageRegion(rig.layout, "offset"), {
      offset: slot1.offset + 4096,
      length: slot1.length - 4096,
    });
    deepEqual(secondaryImageRegion(rig.layout, "move"), { offset: slot1.offset, length: slot1.length });
    const t = makeTrailer(rig.layout).layout;
    deepEqual([t.mode, t.maxAlign, t.writeAlign, t.eraseValue], ["offset", 8, 1, 0xff]);
    equal(t.trailerSize, 128 * 2 + 32 + 8 + 16);
    const wide = makeTrailer(makeRig("move", MCUBOOT_GEOMETRIES[2]!).layout, { mode: "move" }).layout;
    deepEqual([wide.maxAlign, wide.writeAlign], [16, 16]);
    equal(makeTrailer(rig.layout, { maxImgSectors: 4 }).layout.trailerSize, 4 * 2 + 32 + 8 + 16);
    const boot = open(rig);
    equal(boot.eraseBlockLength, 4096);
    equal(boot.runningSlotLength, rig.layout.slots[0].length);
  });

  it("no record: slot 0 runs as a confirmed unknown image, reported once with the reason", () => {
    const rig = makeRig("move", G);
    const boot = open(rig);
    equal(boot.report.rollbackReason, REASON.noRecord);
    deepEqual(
      [boot.report.running.state, boot.report.running.version, boot.report.slots[1]!.state],
      ["confirmed", "", "empty"],
    );
    equal(boot.record().slots[0].reason, "no valid boot record");
    equal(open(rig).report.rollbackReason, "");
  });

  it("readRunning reads slot 0 only inside it", () => {
    const rig = makeRig("move", G);
    factory(rig);
    const boot = open(rig);
    const into = new Uint8Array(16);
    boot.readRunning!(0, into);
    deepEqual([...into], [...OLD.subarray(0, 16)]);
    const size = rig.layout.slots[0].length;
    boot.readRunning!(size - 16, into);
    throws(
      () => boot.readRunning!(size - 15, into),
      new RegExp(`^boot: read ${size - 15}\\+16 outside the primary slot$`),
    );
    throws(() => boot.readRunning!(-1, into), RangeError);
  });

  it("refusals name what is wrong: activate without a verified image, confirm after reject, reject without a trial", () => {
    const rig = makeRig("move", G);
    factory(rig);
    const boot = open(rig);
    throws(() => boot.activate(), /^boot: only a verified image can be activated \(slot 1 is empty\)$/);
    throws(() => boot.reject("x"), /^boot: no trial image runs, nothing to reject$/);
    boot.confirm();
    const staged = received(rig);
    staged.activate();
    mcubootReset(rig.sim, rig.layout, rig.trailer);
    const trial = open(rig);
    equal(trial.resumeReceive(), undefined);
    throws(
      () => trial.startReceive(describeImage(NEW, "3.0")),
      /^boot: cannot receive an image while the trial image runs; confirm or reject it first$/,
    );
    throws(() => trial.abandonReceive("x"), /^boot: cannot abandon a receive while the trial image runs/);
    trial.reject("bad");
    throws(() => trial.confirm(), /^boot: the running image was rejected; restart to let MCUboot revert$/);
    throws(
      () => trial.activate(),
      /^boot: cannot activate before a restart lets MCUboot revert the rejected image$/,
    );
    equal(trial.resumeReceive(), undefined);
  });

  it("the trailer-first receiver: nothing to erase or write at or below what it has, writes only after the trailer", () => {
    const rig = makeRig("move", G);
    factory(rig);
    const region = rig.layout.slots[1];
    rig.sim.write(new Uint8Array(16).fill(0x5a), region.offset + region.length - 16);
    const boot = open(rig);
    const rx = boot.startReceive(describeImage(NEW, "2.0"));
    equal(rx.needsErase(0), false);
    equal(rx.eraseStep(0), false);
    ok(rx.needsErase(1));
    throws(() => rx.write(NEW, 1), /^mcuboot receiver: slot 1's trailer is not erased yet$/);
    ok(rx.eraseStep(1));
    download(rx, NEW, 1000, 2000);
    equal(rx.needsErase(2000), false);
    equal(rx.eraseStep(1500), false);
    const back = new Uint8Array(100);
    rx.readBack(1900, back);
    deepEqual([...back], [...NEW.subarray(1900, 2000)]);
    equal(rx.descriptor.version, "2.0");
  });

  it("a receive with no stale trailer erases no trailer sector; a failed verify is recorded rejected with the reason", () => {
    const rig = makeRig("move", G);
    factory(rig);
    const boot = open(rig);
    const before = rig.sim.stats.eraseCount;
    const rx = boot.startReceive({ ...describeImage(NEW, "2.0"), md5: "1".repeat(32) });
    download(rx, NEW, 1000);
    equal(
      rig.sim.stats.eraseCount - before,
      rig.layout.journal.length / 4096 + 2,
      "the journal's blocks and the image's two sectors, no trailer sector",
    );
    equal(rx.finish().reason, "md5");
    const slot = boot.record().slots[1];
    deepEqual([slot.state, slot.reason, slot.md5], ["rejected", "verify failed: md5", "1".repeat(32)]);
    // Abandoning a rejected or empty slot writes no record.
    const seq = boot.record().seq;
    boot.abandonReceive("x");
    equal(boot.record().seq, seq);
    equal(open(rig).resumeReceive(), undefined);
  });

  it("records lost while a trial runs: an unknown trial image, still confirmable", () => {
    const rig = makeRig("move", G);
    factory(rig);
    received(rig).activate();
    mcubootReset(rig.sim, rig.layout, rig.trailer);
    // Both record blocks lost: start-up finds a trial image no record names.
    for (const r of rig.layout.records) rig.sim.eraseBlock(r.offset / 4096, (r.offset + r.length) / 4096);
    const boot = open(rig);
    equal(boot.report.trial, true);
    equal(boot.report.rollbackReason, REASON.noRecord);
    deepEqual(
      [boot.report.running.state, boot.record().slots[0].reason, boot.report.slots[1]!.state],
      ["pending-test", REASON.unknownTrial, "confirmed"],
    );
    equal(boot.report.running.version, "");
    boot.confirm();
    equal(boot.record().slots[0].state, "confirmed");
  });

  it("a request that landed before its record, and image_ok before its record, are caught up at start-up", () => {
    const rig = makeRig("move", G);
    factory(rig);
    const boot = received(rig);
    // activate() cut after boot_set_pending, before its record.
    rig.trailer.setPending(area(rig, 1), false);
    const after = open(rig);
    equal(after.report.slots[1]!.state, "pending-test");
    equal(after.report.secondary.magic, BootMagic.good);
    equal(after.report.swapType, SwapType.test);
    equal(boot.record().slots[1].state, "verified", "the old control's copy");
    mcubootReset(rig.sim, rig.layout, rig.trailer);
    const trial = open(rig);
    equal(trial.report.trial, true);
    // confirm() cut after image_ok, before its record.
    rig.trailer.setConfirmed(area(rig, 0));
    const confirmed = open(rig);
    equal(confirmed.report.trial, false);
    equal(confirmed.report.rollbackReason, "");
    deepEqual(
      [confirmed.report.running.version, confirmed.report.running.state, confirmed.record().slots[1].reason],
      ["2.0", "confirmed", REASON.superseded],
    );
    equal(confirmed.record().confirmedSlot, 0);
  });

  it("activate erases a torn magic first; a second start-up on trial after a reject stays off trial", () => {
    const rig = makeRig("move", G);
    factory(rig);
    const boot = received(rig);
    const magicAt = rig.layout.slots[1].offset + rig.trailer.layout.magic;
    rig.sim.write(Uint8Array.of(0x77, 0xc2, 0x00), magicAt);
    equal(rig.trailer.readState(area(rig, 1)).magic, BootMagic.bad);
    boot.activate();
    equal(rig.trailer.readState(area(rig, 1)).magic, BootMagic.good);
    equal(boot.record().slots[1].state, "pending-test");
    mcubootReset(rig.sim, rig.layout, rig.trailer);
    open(rig).reject("no");
    const again = open(rig);
    equal(again.report.trial, false);
    equal(again.record().slots[0].state, "rejected");
    mcubootReset(rig.sim, rig.layout, rig.trailer);
    const reverted = open(rig);
    deepEqual([reverted.report.rollbackReason, reverted.report.running.version], ["no", "1.0"]);
  });

  it("abandoning a pending request withdraws it; a new receive over a pending request cancels it", () => {
    const rig = makeRig("offset", G);
    factory(rig);
    const boot = received(rig);
    boot.activate();
    equal(boot.report.slots[1]!.state, "pending-test");
    const rx = boot.startReceive(describeImage(NEW, "2.1"));
    equal(rig.trailer.readState(area(rig, 1)).magic, BootMagic.unset);
    equal(boot.record().slots[1].state, "receiving");
    download(rx, NEW, 1000, 10);
    boot.abandonReceive("later");
    deepEqual([boot.record().slots[1].state, boot.record().slots[1].reason], ["empty", "later"]);
    throws(() => rx.write(NEW, 1), /replaced or abandoned/);
  });
  it("receivers stay stale: after a newer receive, an abandon, an activation", () => {
    const rig = makeRig("move", G);
    factory(rig);
    const boot = open(rig);
    const r1 = boot.startReceive(describeImage(NEW, "2.0"));
    boot.startReceive(describeImage(NEW, "2.0"));
    boot.abandonReceive("x");
    throws(() => r1.write(NEW, 1), /replaced or abandoned/);
    const r2 = boot.startReceive(describeImage(NEW, "2.0"));
    boot.abandonReceive("y");
    boot.startReceive(describeImage(NEW, "2.0"));
    throws(() => r2.write(NEW, 1), /replaced or abandoned/);
    const r3 = boot.startReceive(describeImage(NEW, "2.0"));
    const r4 = boot.startReceive(describeImage(NEW, "2.0"));
    download(r4, NEW, 1000);
    ok(r4.finish().ok);
    const erases = rig.sim.stats.eraseCount;
    boot.activate();
    equal(rig.sim.stats.eraseCount, erases, "a clean trailer is not erased again");
    throws(() => r3.write(NEW, 1), /replaced or abandoned/);
  });

  it("abandon: an empty slot writes no record; a partial receive is dropped without erasing the trailer", () => {
    const rig = makeRig("move", G);
    factory(rig);
    const boot = open(rig);
    const seq = boot.record().seq;
    boot.abandonReceive("nothing");
    equal(boot.record().seq, seq);
    const rx = boot.startReceive(describeImage(NEW, "2.0"));
    download(rx, NEW, 1000, 1000);
    const erases = rig.sim.stats.eraseCount;
    boot.abandonReceive("stop");
    equal(rig.sim.stats.eraseCount, erases);
    deepEqual([boot.record().slots[1].state, boot.record().slots[1].reason], ["empty", "stop"]);
    throws(
      () => boot.startReceive({ ...describeImage(NEW, "2.0"), size: boot.maxImageSize + 1 }),
      new RegExp(`does not fit MCUboot's ${boot.maxImageSize}-byte limit$`),
    );
  });

  it("a verified image: record with no reason and the computed SHA-256 when the module sent none", () => {
    const rig = makeRig("move", G);
    factory(rig);
    const boot = open(rig);
    const rx = boot.startReceive(describeImage(NEW, "2.0", "app", false));
    download(rx, NEW, 1000);
    ok(rx.finish().ok);
    const slot = boot.record().slots[1];
    deepEqual([slot.state, slot.reason, slot.sha256], ["verified", "", sha256Hex(NEW)]);
  });

  it("a trial: reported again at a second start-up, confirm refused on a damaged primary magic, confirm's record", () => {
    const rig = makeRig("move", G);
    factory(rig);
    received(rig).activate();
    mcubootReset(rig.sim, rig.layout, rig.trailer);
    const first = open(rig);
    equal(first.record().slots[0].reason, "");
    const second = open(rig);
    equal(second.report.trial, true);
    const seq = second.record().seq;
    equal(open(rig).record().seq, seq, "a start-up on a known trial writes no record");
    const magicAt = rig.layout.slots[0].offset + rig.trailer.layout.magic;
    const saved = rig.sim.inspect(magicAt, 16);
    const damaged = open(rig);
    rig.sim.write(new Uint8Array(16), magicAt);
    throws(() => damaged.confirm(), /^boot: boot_set_confirmed failed \(rc 4\)$/);
    const [first0, end0] = trailerBlocks(rig.layout, rig.trailer, 0);
    const trailerBytes = rig.sim.inspect(first0 * 4096, (end0 - first0) * 4096);
    trailerBytes.set(saved, trailerBytes.length - 4096 + (rig.trailer.layout.magic % 4096));
    rig.sim.eraseBlock(first0, end0);
    rig.sim.write(trailerBytes, first0 * 4096);
    const trial = open(rig);
    equal(trial.report.trial, true);
    trial.confirm();
    equal(trial.report.trial, false);
    deepEqual([trial.record().slots[0].state, trial.record().slots[0].reason], ["confirmed", ""]);
  });

  it("start-up reads the primary trailer field by field: copy_done or magic alone is no trial", () => {
    for (const write of ["copyDone", "magic"] as const) {
      const rig = makeRig("move", G);
      factory(rig);
      if (write === "copyDone") rig.trailer.writeCopyDone(area(rig, 0));
      else rig.trailer.writeMagic(area(rig, 0));
      const boot = open(rig);
      deepEqual(
        [boot.report.trial, boot.record().confirmedSlot, boot.report.running.version],
        [false, 0, "1.0"],
        write,
      );
    }
  });

  it("an unknown trial that is not confirmed reverts as not confirmed", () => {
    const rig = makeRig("move", G);
    factory(rig);
    received(rig).activate();
    mcubootReset(rig.sim, rig.layout, rig.trailer);
    for (const r of rig.layout.records) rig.sim.eraseBlock(r.offset / 4096, (r.offset + r.length) / 4096);
    equal(open(rig).report.trial, true);
    mcubootReset(rig.sim, rig.layout, rig.trailer);
    const after = open(rig);
    deepEqual([after.report.trial, after.report.rollbackReason], [false, REASON.trialNotConfirmed]);
  });

  it("after a trial, a primary trailer without its magic or without image_ok is no confirmation", () => {
    for (const keep of ["imageOk", "magic"] as const) {
      const rig = makeRig("move", G);
      factory(rig);
      received(rig).activate();
      mcubootReset(rig.sim, rig.layout, rig.trailer);
      equal(open(rig).report.trial, true);
      const [first0, end0] = trailerBlocks(rig.layout, rig.trailer, 0);
      rig.sim.eraseBlock(first0, end0);
      if (keep === "imageOk") rig.trailer.writeImageOk(area(rig, 0));
      else rig.trailer.writeMagic(area(rig, 0));
      const after = open(rig);
      deepEqual(
        [after.report.rollbackReason, after.record().slots[1].state, after.record().slots[0].version],
        [REASON.trialNotConfirmed, "rejected", "1.0"],
        keep,
      );
    }
  });
});
