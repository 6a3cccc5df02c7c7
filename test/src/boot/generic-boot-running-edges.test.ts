// Generic boot's reads of the running slot and rebinding a receive to another image, at their edges: bounds, the
// exact refusals, what a rebind records (portable).
import { bytesEqual, deepEqual, equal, throws } from "../../lib/assert.js";
import { formatFactory, openBoot } from "../../../src/boot/generic-boot.js";
import { describeImage, digests, download, makeFlash, makeImage } from "./fixtures.js";

const G = { name: "4K/4", blockLength: 4096, writeAlign: 4, blocks: 12 };
const OLD = makeImage(5000, 51);
const NEW = makeImage(3000, 52);
const OTHER = makeImage(2000, 53);

function factory() {
  const { flash, layout } = makeFlash(G);
  formatFactory(flash, layout, digests, { component: "app", version: "1.0", bytes: OLD });
  return { flash, layout };
}

describe("src/boot/generic-boot: the running slot and rebinds", () => {
  it("reads the running slot up to its end and names a read outside it", () => {
    const { flash, layout } = factory();
    const boot = openBoot(flash, layout, digests);
    const length = boot.runningSlotLength!;
    equal(length, layout.slots[0].length);
    const head = new Uint8Array(8);
    boot.readRunning!(0, head);
    bytesEqual(head, OLD.subarray(0, 8));
    const mid = new Uint8Array(5);
    boot.readRunning!(4990, mid);
    bytesEqual(mid, OLD.subarray(4990, 4995));
    const tail = new Uint8Array(4);
    boot.readRunning!(length - 4, tail);
    bytesEqual(tail, flash.inspect(layout.slots[0].offset + length - 4, 4));
    boot.readRunning!(length, new Uint8Array(0));
    throws(
      () => boot.readRunning!(length - 3, new Uint8Array(4)),
      new RegExp(`^boot: read ${length - 3}\\+4 outside the running slot$`),
    );
    throws(() => boot.readRunning!(-1, new Uint8Array(1)), /^boot: read -1\+1 outside the running slot$/);
    throws(() => boot.readRunning!(length + 1, new Uint8Array(0)), /outside the running slot/);
  });

  it("reads the trial image's slot while it runs", () => {
    const { flash, layout } = factory();
    const boot = openBoot(flash, layout, digests);
    const rx = boot.startReceive(describeImage(NEW, "2.0"));
    download(rx, NEW, 1024);
    equal(rx.finish().ok, true);
    boot.activate();
    const trial = openBoot(flash, layout, digests);
    equal(trial.report.running.slot, 1);
    const bytes = new Uint8Array(16);
    trial.readRunning!(100, bytes);
    bytesEqual(bytes, NEW.subarray(100, 116));
  });

  it("rebinds an untouched receive to another image in the same session, and refuses every other case", () => {
    const { flash, layout } = factory();
    const boot = openBoot(flash, layout, digests);
    const refusal = /^boot: no untouched receive to bind to another image$/;
    // No receive at all: the target slot is empty.
    const stray = boot.startReceive(describeImage(NEW, "2.0"));
    boot.abandonReceive("gone");
    throws(() => boot.rebindReceive!(stray, describeImage(OTHER, "3.0")), refusal);
    const rx = boot.startReceive(describeImage(NEW, "2.0"));
    const session = boot.record().slots[1].session;
    throws(
      () => boot.rebindReceive!(rx, { ...describeImage(OTHER, "3.0"), size: layout.slots[0].length + 1 }),
      new RegExp(`the ${layout.slots[0].length}-byte slot`),
    );
    const bound = boot.rebindReceive!(rx, describeImage(OTHER, "3.0", "net"));
    const slot = boot.record().slots[1];
    deepEqual(
      [slot.state, slot.session, slot.size, slot.version, slot.component, slot.crc],
      ["receiving", session, OTHER.length, "3.0", "net", 1234],
    );
    download(bound, OTHER.subarray(0, 1024), 1024);
    // Touched now: no second rebind.
    throws(() => boot.rebindReceive!(bound, describeImage(NEW, "2.0")), refusal);
    download(bound, OTHER, 1024);
    equal(bound.finish().ok, true);
    equal(boot.record().slots[1].state, "verified");
    throws(() => boot.rebindReceive!(bound, describeImage(NEW, "2.0")), refusal);
    boot.activate();
    const trial = openBoot(flash, layout, digests);
    throws(() => trial.rebindReceive!(bound, describeImage(NEW, "2.0")), refusal);
    equal(trial.resumeReceive(), undefined);
  });

  it("refuses an untouched receive of another control when this one's target is not receiving", () => {
    const { flash, layout } = factory();
    const first = openBoot(flash, layout, digests);
    const rx = first.startReceive(describeImage(NEW, "2.0"));
    const second = openBoot(flash, layout, digests);
    second.abandonReceive("dropped");
    const writes = flash.stats.writeCount;
    throws(
      () => second.rebindReceive!(rx, describeImage(OTHER, "3.0")),
      /^boot: no untouched receive to bind to another image$/,
    );
    equal(flash.stats.writeCount, writes);
    equal(second.record().slots[1].state, "empty");
  });
});
