// Generic boot edge cases from mutation testing: slot reads at their bounds, the session a receive gets, which
// receivers go stale, what abandoning an empty or rejected slot writes, and start-up's checks (portable).

import { deepEqual, equal, throws } from "../../lib/assert.js";
import { SimNorFlash } from "../../../hal/sim/nor-flash.js";
import { decodeRecord } from "../../../src/boot/records.js";
import { formatFactory, openBoot, readSlotImage } from "../../../src/boot/generic-boot.js";
import { describeImage, digests, download, makeFlash, makeImage } from "./fixtures.js";

const G = { name: "4K/4", blockLength: 4096, writeAlign: 4, blocks: 12 };
const OLD = makeImage(5000, 31);
const NEW = makeImage(3000, 32);

function factory() {
  const { flash, layout } = makeFlash(G);
  formatFactory(flash, layout, digests, { component: "app", version: "1.0", bytes: OLD });
  return { flash, layout };
}

describe("src/boot/generic-boot edges", () => {
  it("reads a slot image up to the slot's length and names a read past it or of no slot", () => {
    const { flash, layout } = factory();
    equal(readSlotImage(flash, layout, 0, 3)[2], OLD[2]);
    equal(readSlotImage(flash, layout, 1, layout.slots[1].length).length, layout.slots[1].length);
    equal(readSlotImage(flash, layout, 0, 0).length, 0);
    const message = (slot: number, size: number): string => {
      try {
        readSlotImage(flash, layout, slot, size);
      } catch (error) {
        equal(error instanceof RangeError, true);
        return (error as Error).message;
      }
      return "";
    };
    deepEqual(
      [message(2, 1), message(0, -1), message(0, layout.slots[0].length + 1)],
      [
        "slot 2 has no 1 bytes",
        "slot 0 has no -1 bytes",
        `slot 0 has no ${layout.slots[0].length + 1} bytes`,
      ],
    );
  });

  it("gives a receive the session after the newest record's seq", () => {
    const { flash, layout } = factory();
    const boot = openBoot(flash, layout, digests);
    const seq = boot.record().seq;
    boot.startReceive(describeImage(NEW, "2.0"));
    const record = boot.record();
    equal(record.seq, seq + 1);
    equal(record.slots[1].session, seq + 1);
    deepEqual(
      [record.slots[1].state, record.slots[1].size, record.slots[1].version],
      ["receiving", NEW.length, "2.0"],
    );
  });

  it("abandoning an empty or rejected slot writes no record, but makes the receive stale", () => {
    const { flash, layout } = factory();
    const boot = openBoot(flash, layout, digests);
    const writes = flash.stats.writeCount;
    boot.abandonReceive("nothing there");
    equal(flash.stats.writeCount, writes);
    const rx = boot.startReceive(describeImage(NEW, "2.0"));
    const bad = NEW.slice();
    bad[0]! ^= 1;
    download(rx, bad, 1024);
    equal(rx.finish().ok, false);
    equal(boot.record().slots[1].state, "rejected");
    const afterReject = flash.stats.writeCount;
    boot.abandonReceive("still nothing");
    equal(flash.stats.writeCount, afterReject, "a rejected slot needs no record to be dropped");
    equal(boot.record().slots[1].reason, "verify failed: md5");
    const second = boot.startReceive(describeImage(NEW, "2.0"));
    boot.abandonReceive("given up");
    equal(boot.record().slots[1].state, "empty");
    equal(boot.record().slots[1].reason, "given up");
    throws(() => second.write(NEW.subarray(0, 4), 4), /this receive was replaced or abandoned/);
  });

  it("a receiver goes stale when the image is activated", () => {
    const { flash, layout } = factory();
    const boot = openBoot(flash, layout, digests);
    const rx = boot.startReceive(describeImage(NEW, "2.0"));
    download(rx, NEW, 1024);
    equal(rx.finish().ok, true);
    const again = boot.resumeReceive();
    equal(again, undefined, "a verified image is no receive to resume");
    boot.activate();
    throws(() => rx.finish(), /^image receiver: this receive was replaced or abandoned$/);
  });

  it("refuses to receive, abandon or activate during a trial, naming the action", () => {
    const { flash, layout } = factory();
    const boot = openBoot(flash, layout, digests);
    const rx = boot.startReceive(describeImage(NEW, "2.0"));
    download(rx, NEW, 1024);
    rx.finish();
    boot.activate();
    const trial = openBoot(flash, layout, digests);
    equal(trial.report.trial, true);
    equal(trial.resumeReceive(), undefined);
    throws(
      () => trial.startReceive(describeImage(NEW, "3.0")),
      /^boot: cannot receive an image while the trial image runs; confirm or reject it first$/,
    );
    throws(() => trial.abandonReceive("x"), /^boot: cannot abandon a receive while the trial image runs/);
    throws(() => trial.activate(), /^boot: cannot activate while the trial image runs/);
  });

  it("names the slot size in a refused descriptor", () => {
    const { flash, layout } = factory();
    const boot = openBoot(flash, layout, digests);
    throws(
      () => boot.startReceive({ ...describeImage(NEW, "2.0"), size: layout.slots[0].length + 1 }),
      new RegExp(
        `^boot: image size ${layout.slots[0].length + 1} does not fit the ${layout.slots[0].length}-byte slot$`,
      ),
    );
  });

  it("a factory image filling its slot gets no seal: its last bytes stay the image's", () => {
    const { flash, layout } = makeFlash(G);
    const full = makeImage(layout.slots[0].length, 33);
    formatFactory(flash, layout, digests, { component: "app", version: "1.0", bytes: full });
    const back = readSlotImage(flash, layout, 0, full.length);
    deepEqual(Array.from(back.subarray(full.length - 300)), Array.from(full.subarray(full.length - 300)));
  });

  it("a received image filling its slot verifies with its bytes intact (no seal over them)", () => {
    const { flash, layout } = factory();
    const boot = openBoot(flash, layout, digests);
    const full = makeImage(layout.slots[1].length, 34);
    const rx = boot.startReceive(describeImage(full, "2.0"));
    download(rx, full, 1024);
    equal(rx.finish().ok, true);
    const back = readSlotImage(flash, layout, 1, full.length);
    deepEqual(Array.from(back.subarray(full.length - 300)), Array.from(full.subarray(full.length - 300)));
  });

  it("a failed verify keeps the announced digests in the record", () => {
    const { flash, layout } = factory();
    const boot = openBoot(flash, layout, digests);
    const d = describeImage(NEW, "2.0");
    const rx = boot.startReceive(d);
    const bad = NEW.slice();
    bad[10]! ^= 1;
    download(rx, bad, 1024);
    equal(rx.finish().ok, false);
    const slot = boot.record().slots[1];
    deepEqual([slot.state, slot.md5, slot.sha256], ["rejected", d.md5, d.sha256]);
  });

  it("a trial image checked at start-up reports its integrity ok; with MD5 alone too", () => {
    for (const withSha of [true, false]) {
      const { flash, layout } = factory();
      const boot = openBoot(flash, layout, digests);
      const rx = boot.startReceive(describeImage(NEW, "2.0", "app", withSha));
      download(rx, NEW, 1024);
      equal(rx.finish().ok, true);
      boot.activate();
      const trial = openBoot(flash, layout, digests);
      deepEqual([trial.report.trial, trial.report.integrity], [true, "ok"], `sha256 ${withSha}`);
    }
  });

  it("an MD5-only trial image whose bytes changed is rolled back at start-up", () => {
    const { flash, layout } = factory();
    const boot = openBoot(flash, layout, digests);
    const rx = boot.startReceive(describeImage(NEW, "2.0", "app", false));
    download(rx, NEW, 1024);
    equal(rx.finish().ok, true);
    boot.activate();
    flash.write(new Uint8Array(4), layout.slots[1].offset + 1024);
    const next = openBoot(flash, layout, digests);
    deepEqual([next.report.trial, next.report.rollbackReason], [false, "image hash mismatch"]);
  });

  it("verifyConfirmed leaves an image without digests unchecked, and keeps a digest-less record when a newer slot is torn", () => {
    const { flash, layout } = makeFlash(G);
    const blank = openBoot(flash, layout, digests, { verifyConfirmed: true });
    equal(blank.report.integrity, "unchecked");
    // Garbage right after the newest record: a torn newer record. Its confirmed image has no digests to re-check.
    flash.write(new Uint8Array(8).fill(0x33), layout.records[0].offset + 512);
    const again = openBoot(flash, layout, digests, { verifyConfirmed: true });
    deepEqual([again.report.rollbackReason, again.report.integrity], ["", "unchecked"]);
  });

  it("a receive replaced by a later one stays stale, after an abandon or an activation", () => {
    const { flash, layout } = factory();
    const boot = openBoot(flash, layout, digests);
    const first = boot.startReceive(describeImage(NEW, "2.0"));
    boot.abandonReceive("again");
    const second = boot.startReceive(describeImage(NEW, "2.0"));
    throws(
      () => first.write(NEW.subarray(0, 4), 4),
      /^image receiver: this receive was replaced or abandoned$/,
    );
    download(second, NEW, 1024);
    equal(second.finish().ok, true);
    boot.activate();
    boot.startReceive(describeImage(NEW, "3.0"));
    throws(() => second.finish(), /^image receiver: this receive was replaced or abandoned$/);
  });

  it("with every record lost, the older of two sealed images is confirmed even in slot 1, the newer in slot 0 on trial", () => {
    const { flash, layout } = factory();
    const first = openBoot(flash, layout, digests);
    const rx = first.startReceive(describeImage(NEW, "2.0"));
    download(rx, NEW, 1024);
    equal(rx.finish().ok, true);
    first.activate();
    openBoot(flash, layout, digests).confirm();
    const third = makeImage(4000, 35);
    const next = openBoot(flash, layout, digests);
    const rx3 = next.startReceive(describeImage(third, "3.0"));
    download(rx3, third, 1024);
    equal(rx3.finish().ok, true);
    // Every record broken: only the seals tell which image is older.
    const image = flash.snapshot();
    for (const region of layout.records)
      for (let at = region.offset; at < region.offset + region.length; at += 512)
        if (decodeRecord(image.subarray(at, at + 512), layout.slots[0].length)) image[at + 100]! ^= 0x40;
    const damaged = new SimNorFlash({ ...flash.status(), initial: image });
    const after = openBoot(damaged, layout, digests, { trialBoots: 3 });
    deepEqual(
      [after.report.running.slot, after.report.trial, after.report.running.version],
      [0, true, "3.0"],
    );
    deepEqual(
      after.record().slots.map((s) => [s.state, s.version, s.trialsLeft]),
      [
        ["pending-test", "3.0", 2],
        ["confirmed", "2.0", 0],
      ],
    );
    equal(after.record().confirmedSlot, 1);
  });
});
