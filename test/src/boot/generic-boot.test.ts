// Boot decision: every state transition and rejection of the generic (record-driven) boot control (portable).
import { bytesEqual, deepEqual, equal, ok, throws } from "../../lib/assert.js";
import { SimNorFlash } from "../../../hal/sim/nor-flash.js";
import { REASON, formatFactory, inspectBoot, openBoot, readSlotImage, slotSha256 } from "../../../src/boot/generic-boot.js";
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
    equal(openBoot(flash, layout, digests).report.rollbackReason, "", "reported once, at the start-up that rolled back");
  });

  it("gives a pending image exactly trialBoots start-ups", () => {
    const { flash, layout, boot } = verified(3);
    boot.activate();
    for (let i = 0; i < 3; i++) equal(openBoot(flash, layout, digests, { trialBoots: 3 }).report.trial, true, `trial ${i + 1}`);
    equal(openBoot(flash, layout, digests, { trialBoots: 3 }).report.rollbackReason, REASON.trialNotConfirmed);
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

  it("with every record damaged, boots slot 0 as the factory image and starts fresh records", () => {
    const { flash, layout, boot } = verified();
    boot.activate();
    const image = flash.snapshot();
    for (const region of layout.records) for (let at = 0; at < region.length; at += 512) image[region.offset + at + 100]! ^= 0x40;
    const damaged = new SimNorFlash({ ...flash.status(), initial: image });
    const after = openBoot(damaged, layout, digests);
    equal(after.report.running.slot, 0);
    equal(after.report.trial, false);
    equal(after.report.rollbackReason, REASON.noRecord);
    equal(after.report.integrity, "unchecked");
    deepEqual(states(after), ["confirmed", "empty"]);
    bytesEqual(readSlotImage(damaged, layout, 0, OLD.length), OLD, "slot 0 untouched");
    const again = openBoot(damaged, layout, digests);
    equal(again.report.rollbackReason, "");
    // A fresh update works on top of the recovered records.
    const rx = again.startReceive(describeImage(NEW, "2.0"));
    download(rx, NEW, 1024);
    ok(rx.finish().ok);
  });

  it("treats blank flash like lost records: slot 0, no digests", () => {
    const { flash, layout } = makeFlash(G);
    const boot = openBoot(flash, layout, digests);
    equal(boot.report.running.slot, 0);
    equal(boot.report.rollbackReason, REASON.noRecord);
  });
});
