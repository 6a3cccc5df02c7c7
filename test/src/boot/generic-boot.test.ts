// Boot decision: every state transition and rejection of the generic (record-driven) boot control (portable).
import { bytesEqual, deepEqual, equal, ok, throws } from "../../lib/assert.js";
import { PowerLoss, SimNorFlash } from "../../../hal/sim/nor-flash.js";
import type { FlashLayout } from "../../../src/flash-format/layout.js";
import { decodeRecord, decodeSeal, sealOffset } from "../../../src/boot/records.js";
import {
  REASON,
  formatFactory,
  inspectBoot,
  openBoot,
  readSlotImage,
  slotSha256,
} from "../../../src/boot/generic-boot.js";
import { describeImage, digests, download, makeFlash, makeImage, sha256Hex } from "./fixtures.js";

const G = { name: "4K/4", blockLength: 4096, writeAlign: 4, blocks: 12 };
const OLD = makeImage(5000, 21);
const NEW = makeImage(9000, 22);

function factory() {
  const { flash, layout } = makeFlash(G);
  formatFactory(flash, layout, digests, { component: "app", version: "1.0", bytes: OLD });
  return { flash, layout };
}

/** Factory + a verified new image in slot 1. */
function verified(trialBoots = 1) {
  const { flash, layout } = factory();
  const boot = openBoot(flash, layout, digests, { trialBoots });
  const rx = boot.startReceive(describeImage(NEW, "2.0"));
  download(rx, NEW, 1024);
  ok(rx.finish().ok);
  return { flash, layout, boot };
}

/** A copy of the flash with the `count` newest records broken (Infinity: all of them). */
function damageRecords(flash: SimNorFlash, layout: FlashLayout, count: number): SimNorFlash {
  const image = flash.snapshot();
  const found: { seq: number; at: number }[] = [];
  for (const region of layout.records) {
    for (let at = region.offset; at < region.offset + region.length; at += 512) {
      const record = decodeRecord(image.subarray(at, at + 512), layout.slots[0].length);
      if (record) found.push({ seq: record.seq, at });
    }
  }
  found.sort((a, b) => b.seq - a.seq);
  for (const { at } of found.slice(0, count)) image[at + 100]! ^= 0x40;
  return new SimNorFlash({ ...flash.status(), initial: image });
}

const states = (boot: { report: { slots: { state: string }[] } }) => boot.report.slots.map((s) => s.state);

describe("src/boot/generic-boot", () => {
  it("boots a formatted factory image from slot 0, checked by hash", () => {
    const { flash, layout } = factory();
    const boot = openBoot(flash, layout, digests, { verifyConfirmed: true });
    equal(boot.report.running.slot, 0);
    equal(boot.report.running.version, "1.0");
    equal(boot.report.running.sha256, sha256Hex(OLD));
    equal(boot.report.trial, false);
    equal(boot.report.rollbackReason, "");
    equal(boot.report.integrity, "ok");
    deepEqual(states(boot), ["confirmed", "empty"]);
    bytesEqual(readSlotImage(flash, layout, 0, OLD.length), OLD);
    equal(slotSha256(flash, layout, digests, 0, OLD.length), sha256Hex(OLD));
    equal(inspectBoot(flash, layout).record!.seq, 1);
  });

  it("walks receiving -> verified -> pending-test -> trial -> confirmed, freeing the old slot", () => {
    const { flash, layout } = factory();
    let boot = openBoot(flash, layout, digests);
    const rx = boot.startReceive(describeImage(NEW, "2.0"));
    deepEqual(states(boot), ["confirmed", "receiving"]);
    download(rx, NEW, 700);
    ok(rx.finish().ok);
    deepEqual(states(boot), ["confirmed", "verified"]);
    boot.activate();
    deepEqual(states(boot), ["confirmed", "pending-test"]);
    equal(boot.report.running.slot, 0, "activation takes effect at the next start-up");
    boot = openBoot(flash, layout, digests);
    equal(boot.report.running.slot, 1);
    equal(boot.report.trial, true);
    equal(boot.report.integrity, "ok");
    equal(boot.record().slots[1].trialsLeft, 0);
    boot.confirm();
    equal(boot.report.trial, false);
    deepEqual(states(boot), ["empty", "confirmed"]);
    boot.confirm(); // idempotent once permanent
    boot = openBoot(flash, layout, digests);
    equal(boot.report.running.slot, 1);
    equal(boot.report.running.version, "2.0");
    equal(boot.report.trial, false);
    // The next image goes to slot 0 now.
    const third = makeImage(3000, 23);
    const rx3 = boot.startReceive(describeImage(third, "3.0"));
    download(rx3, third, 1024);
    ok(rx3.finish().ok);
    deepEqual(states(boot), ["verified", "confirmed"]);
    bytesEqual(readSlotImage(flash, layout, 0, third.length), third);
  });

  it("rolls back an unconfirmed trial at the next start-up and records why", () => {
    const { flash, layout, boot } = verified();
    boot.activate();
    equal(openBoot(flash, layout, digests).report.trial, true);
    const after = openBoot(flash, layout, digests);
    equal(after.report.running.slot, 0);
    equal(after.report.trial, false);
    equal(after.report.rollbackReason, REASON.trialNotConfirmed);
    deepEqual(states(after), ["confirmed", "rejected"]);
    equal((after.report.slots[1] as { reason?: string }).reason, REASON.trialNotConfirmed);
    equal(
      openBoot(flash, layout, digests).report.rollbackReason,
      "",
      "reported once, at the start-up that rolled back",
    );
  });

  it("gives a pending image exactly trialBoots start-ups", () => {
    const { flash, layout, boot } = verified(3);
    boot.activate();
    for (let i = 0; i < 3; i++)
      equal(openBoot(flash, layout, digests, { trialBoots: 3 }).report.trial, true, `trial ${i + 1}`);
    equal(
      openBoot(flash, layout, digests, { trialBoots: 3 }).report.rollbackReason,
      REASON.trialNotConfirmed,
    );
  });

  it("rolls back at once on reject(), keeping the caller's reason", () => {
    const { flash, layout, boot } = verified();
    boot.activate();
    const trial = openBoot(flash, layout, digests);
    trial.reject("self-test failed");
    equal(trial.report.trial, false);
    throws(() => trial.confirm(), /was rejected/);
    throws(() => trial.reject("again"), /nothing to reject/);
    const after = openBoot(flash, layout, digests);
    equal(after.report.running.slot, 0);
    equal(after.report.rollbackReason, "");
    equal((after.report.slots[1] as { reason?: string }).reason, "self-test failed");
  });

  it("refuses a pending image whose bytes no longer match its record", () => {
    const { flash, layout, boot } = verified();
    boot.activate();
    flash.write(new Uint8Array(4), layout.slots[1].offset + 4000); // bits cleared after verification
    const after = openBoot(flash, layout, digests);
    equal(after.report.running.slot, 0);
    equal(after.report.trial, false);
    equal(after.report.rollbackReason, REASON.hashMismatch);
    deepEqual(states(after), ["confirmed", "rejected"]);
  });

  it("boots an unverified trial when verifyOnBoot is off, and reports a damaged confirmed image", () => {
    const { flash, layout, boot } = verified();
    boot.activate();
    flash.write(new Uint8Array(4), layout.slots[1].offset + 4000);
    const trial = openBoot(flash, layout, digests, { verifyOnBoot: false });
    equal(trial.report.trial, true);
    equal(trial.report.integrity, "unchecked");
    const { flash: f2, layout: l2 } = factory();
    f2.write(new Uint8Array(4), l2.slots[0].offset + 8);
    equal(openBoot(f2, l2, digests, { verifyConfirmed: true }).report.integrity, "mismatch");
    equal(openBoot(f2, l2, digests).report.integrity, "unchecked");
  });

  it("refuses illegal transitions", () => {
    const { flash, layout, boot } = verified();
    throws(() => boot.reject("x"), /nothing to reject/);
    const bad = describeImage(NEW, "2.0");
    throws(() => boot.startReceive({ ...bad, size: 0 }), /does not fit/);
    throws(() => boot.startReceive({ ...bad, size: layout.slots[0].length + 1 }), /does not fit/);
    throws(() => boot.startReceive({ ...bad, md5: "xyz" }), /md5/);
    throws(() => boot.startReceive({ ...bad, sha256: "12" }), /sha256/);
    throws(() => boot.startReceive({ ...bad, version: "v".repeat(65) }), /version/);
    boot.activate();
    throws(() => boot.activate(), /only a verified image/);
    const trial = openBoot(flash, layout, digests);
    throws(() => trial.startReceive(bad), /while the trial image runs/);
    throws(() => trial.activate(), /while the trial image runs/);
    throws(() => trial.abandonReceive("x"), /while the trial image runs/);
    equal(trial.resumeReceive(), undefined);
  });

  it("never activates a slot still receiving: half written, or whole but not yet verified", () => {
    const { flash, layout } = factory();
    const boot = openBoot(flash, layout, digests);
    const rx = boot.startReceive(describeImage(NEW, "2.0"));
    download(rx, NEW, 1024, 4096);
    const before = states(boot);
    throws(() => boot.activate(), /only a verified image can be activated \(slot 1 is receiving\)/);
    download(rx, NEW, 1024);
    throws(() => boot.activate(), /only a verified image can be activated \(slot 1 is receiving\)/);
    deepEqual(states(boot), before, "the boot record is unchanged");
    const next = openBoot(flash, layout, digests);
    equal(next.report.trial, false, "no trial of a half-received image");
    equal(next.report.running.version, "1.0");
  });

  it("abandons a verified or pending image without touching the running one", () => {
    const { flash, layout, boot } = verified();
    boot.activate();
    boot.abandonReceive("operator cancelled");
    deepEqual(states(boot), ["confirmed", "empty"]);
    const after = openBoot(flash, layout, digests);
    equal(after.report.trial, false);
    equal(after.report.running.slot, 0);
  });

  it("with one record copy damaged, the previous record decides", () => {
    const { flash, layout, boot } = verified();
    boot.activate(); // newest record: pending-test; previous: verified
    const image = flash.snapshot();
    const newest = inspectBoot(flash, layout).record!.seq; // records are appended in seq order from slot 0
    image[layout.records[0].offset + (newest - 1) * 512 + 40]! ^= 0x01;
    const damaged = new SimNorFlash({ ...flash.status(), initial: image });
    const after = openBoot(damaged, layout, digests);
    equal(after.report.trial, false);
    deepEqual(states(after), ["confirmed", "verified"]);
  });

  it("with every record damaged, recovers both sealed images: the older confirmed, the newer on trial", () => {
    const { flash, layout, boot } = verified();
    boot.activate();
    const damaged = damageRecords(flash, layout, Infinity);
    const after = openBoot(damaged, layout, digests, { trialBoots: 2 });
    equal(after.report.running.slot, 1, "the newer whole image gets a trial, never a blind permanent boot");
    equal(after.report.trial, true);
    equal(after.report.rollbackReason, REASON.noRecord);
    equal(after.report.integrity, "ok");
    deepEqual(states(after), ["confirmed", "pending-test"]);
    equal(after.report.slots[0]!.sha256, sha256Hex(OLD));
    equal(after.report.slots[1]!.sha256, sha256Hex(NEW));
    equal(after.record().slots[1].trialsLeft, 1, "the recovery's trial is spent like any other");
    bytesEqual(readSlotImage(damaged, layout, 0, OLD.length), OLD, "slot 0 untouched");
    // A trial that fails its check goes back to the older image, as after any trial.
    after.reject("self-test failed");
    const back = openBoot(damaged, layout, digests);
    equal(back.report.running.slot, 0);
    equal(back.report.rollbackReason, "");
    // The rebuilt records outrank every session a seal names, and a fresh update works on top of them.
    ok(back.record().seq > after.record().slots[1].session);
    back.abandonReceive("x");
    const rx = back.startReceive(describeImage(NEW, "2.1"));
    download(rx, NEW, 1024);
    ok(rx.finish().ok);
  });

  it("with every record damaged after slot 1 became the confirmed slot, never boots the partial image in slot 0", () => {
    const { flash, layout, boot } = verified();
    boot.activate();
    openBoot(flash, layout, digests).confirm();
    // The next update has overwritten the first block of slot 0 when every record is lost.
    const third = makeImage(9000, 23);
    const rx = openBoot(flash, layout, digests).startReceive(describeImage(third, "3.0"));
    download(rx, third, 1024, 4096);
    const damaged = damageRecords(flash, layout, Infinity);
    const after = openBoot(damaged, layout, digests);
    equal(after.report.running.slot, 1);
    equal(after.report.running.version, "2.0");
    equal(after.report.trial, false);
    equal(after.report.integrity, "ok");
    equal(after.report.rollbackReason, REASON.noRecord);
    deepEqual(states(after), ["empty", "confirmed"]);
    // Restarts keep it there.
    equal(openBoot(damaged, layout, digests).report.running.slot, 1);
  });

  it("with the newest records decayed, re-checks the image the surviving record names before trusting it", () => {
    const { flash, layout, boot } = verified();
    boot.activate();
    openBoot(flash, layout, digests).confirm(); // seq 5: slot 1 confirmed
    const third = makeImage(9000, 23);
    const rx = openBoot(flash, layout, digests).startReceive(describeImage(third, "3.0")); // seq 6: slot 0 receiving
    download(rx, third, 1024, 4096);
    // Records 5 and 6 decay: record 4 (slot 0 confirmed, slot 1 pending) survives, but slot 0 is partly overwritten.
    const damaged = damageRecords(flash, layout, 2);
    const surviving = inspectBoot(damaged, layout).record!;
    equal(surviving.confirmedSlot, 0, "the surviving record names slot 0");
    const after = openBoot(damaged, layout, digests);
    equal(after.report.running.slot, 1);
    equal(after.report.running.version, "2.0");
    equal(after.report.rollbackReason, REASON.confirmedMismatch);
    deepEqual(states(after), ["empty", "confirmed"]);
  });

  it("after a torn record write, checks the confirmed image once and boots it", () => {
    const { flash, layout } = factory();
    const boot = openBoot(flash, layout, digests);
    flash.armPowerCut(1, "write-prefix", 3);
    throws(() => boot.startReceive(describeImage(NEW, "2.0")), PowerLoss);
    flash.powerOn();
    const after = openBoot(flash, layout, digests);
    equal(after.report.running.slot, 0);
    equal(after.report.integrity, "ok", "re-checked because the newest record slot is torn");
    equal(after.report.rollbackReason, "");
    after.startReceive(describeImage(NEW, "2.0"));
    equal(
      openBoot(flash, layout, digests).report.integrity,
      "unchecked",
      "a valid newest record is trusted again",
    );
  });

  it("seals a verified image at the end of its slot, erasing that block only in eraseStep", () => {
    const { flash, layout } = factory();
    const boot = openBoot(flash, layout, digests);
    const rx = boot.startReceive(describeImage(NEW, "2.0"));
    const lastBlock = (layout.slots[1].offset + layout.slots[1].length) / layout.blockLength - 1;
    download(rx, NEW, 1024, NEW.length - 1);
    equal(flash.stats.erases[lastBlock], 1, "only the factory format erased it so far");
    download(rx, NEW, 1024);
    equal(flash.stats.erases[lastBlock], 2, "erased with the last piece");
    const erases = flash.stats.eraseCount;
    ok(rx.finish().ok);
    equal(flash.stats.eraseCount, erases, "finish() erased nothing");
    const seal = decodeSeal(flash.inspect(sealOffset(layout, 1), 256), layout.slots[0].length)!;
    deepEqual(seal, { ...boot.record().slots[1], state: "verified" });
  });

  it("survives a torn seal: rewrites it when its block lies past the image, else leaves the image to the records", () => {
    for (const size of [9000, 4 * 4096 - 256 - 100]) {
      const { flash, layout } = factory();
      const image = makeImage(size, 24);
      const rx = openBoot(flash, layout, digests).startReceive(describeImage(image, "2.0"));
      download(rx, image, 1024);
      flash.armPowerCut(1, "write-prefix", 11); // the seal write, first flash operation of finish()
      throws(() => rx.finish(), PowerLoss);
      flash.powerOn();
      const torn = flash.inspect(sealOffset(layout, 1), 256);
      equal(decodeSeal(torn, layout.slots[0].length), undefined, "torn seal");
      ok(
        torn.some((b) => b !== 0xff),
        "something of it landed",
      );
      const boot = openBoot(flash, layout, digests);
      const resumed = boot.resumeReceive()!;
      equal(resumed.received, size);
      ok(resumed.finish().ok);
      equal(boot.report.slots[1]!.state, "verified");
      const seal = decodeSeal(flash.inspect(sealOffset(layout, 1), 256), layout.slots[0].length);
      if (size === 9000) equal(seal?.sha256, sha256Hex(image), "rewritten after erasing its own block");
      else equal(seal, undefined, "the block holds the image's verified tail: left unsealed, never erased");
      boot.activate();
      equal(openBoot(flash, layout, digests).report.running.version, "2.0");
    }
  });

  it("treats blank flash like lost records: slot 0, no digests", () => {
    const { flash, layout } = makeFlash(G);
    const boot = openBoot(flash, layout, digests);
    equal(boot.report.running.slot, 0);
    equal(boot.report.rollbackReason, REASON.noRecord);
  });
});
