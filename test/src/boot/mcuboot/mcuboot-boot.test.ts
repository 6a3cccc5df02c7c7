// The MCUboot backend through whole update cycles, with the MCUboot model at every reset (portable).
import { deepEqual, equal, ok, throws } from "../../../lib/assert.js";
import type { FlashPartition } from "../../../../hal/flash.js";
import {
  formatMcuboot,
  openMcuboot,
  REASON,
  type McubootBootControl,
} from "../../../../src/boot/mcuboot/mcuboot-boot.js";
import { BootFlag, BootMagic, SwapType } from "../../../../src/boot/mcuboot/trailer.js";
import { describeImage, digests, download, inXS, makeImage } from "../fixtures.js";
import type { ImageDescriptor } from "../../../../src/image/types.js";
import { toHexString } from "./fixtures.js";
import { mcubootReset } from "./mcuboot-sim.js";
import { MCUBOOT_GEOMETRIES, holds, makeRig, slotEnd, type Rig } from "./rig.js";

const OLD = makeImage(4096 + 777, 41);
const NEW = makeImage(2 * 4096 + 1234, 42);
let newDescriptor: ImageDescriptor | undefined;
/** NEW's descriptor, hashed once (pure-JS hashing is most of this suite's time in XS). */
function describeNew(): ImageDescriptor {
  newDescriptor ??= describeImage(NEW, "2.0");
  return newDescriptor;
}

function factory(rig: Rig): void {
  formatMcuboot(rig.sim, rig.layout, digests, { component: "app", version: "1.0", bytes: OLD });
}

function open(rig: Rig, flash: FlashPartition = rig.sim): McubootBootControl {
  return openMcuboot(flash, rig.layout, digests, rig.options);
}

/** Records the writes made through it, as (slot, offset from the slot's end, hex) like the fixtures. */
function recorder(rig: Rig): {
  flash: FlashPartition;
  writes: { slot: number; fromEnd: number; bytes: string }[];
} {
  const writes: { slot: number; fromEnd: number; bytes: string }[] = [];
  const flash: FlashPartition = {
    status: () => rig.sim.status(),
    eraseBlock: (start, end) => rig.sim.eraseBlock(start, end),
    read: (into, offset) => rig.sim.read(into, offset),
    write: (bytes, offset) => {
      const slot = rig.layout.slots.findIndex((s) => offset >= s.offset && offset < s.offset + s.length);
      if (slot >= 0) {
        const end = rig.layout.slots[slot]!.offset + rig.layout.slots[slot]!.length;
        writes.push({ slot, fromEnd: end - offset, bytes: toHexString(bytes) });
      }
      rig.sim.write(bytes, offset);
    },
  };
  return { flash, writes };
}

function fixtureWrites(rig: Rig, name: string): { slot: number; fromEnd: number; bytes: string }[] {
  const scenario = rig.fixture.scenarios.find((s) => s.name === name)!;
  return scenario.writes.map((w) => ({
    slot: w.slot,
    fromEnd: rig.fixture.slotSize - w.offset,
    bytes: w.bytes,
  }));
}

/** Downloads NEW into slot 1 and activates it; returns MCUboot's decision at the reset that follows. */
function update(rig: Rig): number {
  const boot = open(rig);
  const rx = boot.startReceive(describeNew());
  download(rx, NEW, 1000);
  ok(rx.finish().ok, "image verifies");
  const rec = recorder(rig);
  openMcuboot(rec.flash, rig.layout, digests, rig.options).activate();
  // Our request is exactly boot_set_pending(0)'s writes: same offsets from the slot's end, same bytes, same order.
  deepEqual(rec.writes, fixtureWrites(rig, "request-test"), "activate() writes = boot_set_pending(0)");
  const request = rig.fixture.scenarios.find((s) => s.name === "request-test")!.after[1];
  equal(
    toHexString(slotEnd(rig, 1, rig.fixture.dumpLength)),
    request,
    "slot 1 trailer = MCUboot's after boot_set_pending(0)",
  );
  return mcubootReset(rig.sim, rig.layout, rig.trailer).swapType;
}

// swap-using-scratch shares move's trailer; its slot behaviour runs on Node only.
for (const mode of inXS ? (["move", "offset"] as const) : (["move", "offset", "scratch"] as const)) {
  // XS interprets ~50x slower: one geometry per mode there.
  for (const g of inXS ? MCUBOOT_GEOMETRIES.filter((x) => x.name === "4K/8") : MCUBOOT_GEOMETRIES) {
    describe(`src/boot/mcuboot backend: ${mode}, ${g.name}`, () => {
      it("places the image where MCUboot looks for it and respects its size limit", () => {
        const rig = makeRig(mode, g);
        factory(rig);
        const boot = open(rig);
        equal(boot.report.running.version, "1.0");
        equal(boot.report.trial, false);
        equal(boot.report.swapType, SwapType.none);
        const trailerSectors = Math.ceil(rig.trailer.layout.trailerSize / g.blockLength);
        equal(
          boot.maxImageSize,
          (g.slotBlocks - trailerSectors - (mode === "scratch" ? 0 : 1)) * g.blockLength,
        );
        throws(() => boot.startReceive({ ...describeNew(), size: boot.maxImageSize + 1 }));
        const rx = boot.startReceive(describeNew());
        download(rx, NEW, 1000);
        ok(rx.finish().ok);
        ok(holds(rig, 1, NEW, mode === "offset" ? g.blockLength : 0), "image in slot 1 at MCUboot's offset");
      });

      it("confirm: TEST swap, trial from the primary trailer, image_ok as boot_set_confirmed(), then NONE", () => {
        const rig = makeRig(mode, g);
        factory(rig);
        equal(update(rig), SwapType.test);
        ok(holds(rig, 0, NEW), "MCUboot swapped the new image into slot 0");
        const rec = recorder(rig);
        const boot = openMcuboot(rec.flash, rig.layout, digests, rig.options);
        equal(boot.report.trial, true);
        equal(boot.report.running.version, "2.0");
        equal(boot.report.running.state, "pending-test");
        equal(boot.report.primary.magic, BootMagic.good);
        equal(boot.report.primary.imageOk, BootFlag.unset);
        equal(boot.report.primary.copyDone, BootFlag.set);
        equal(boot.report.swapType, SwapType.revert, "unconfirmed, MCUboot would revert");
        equal(boot.report.slots[1]!.version, "1.0");
        throws(() => boot.startReceive(describeImage(NEW, "3.0")));
        boot.confirm();
        // Exactly boot_set_confirmed()'s write, then our record.
        deepEqual(
          rec.writes.filter((w) => w.slot === 0),
          fixtureWrites(rig, "confirm-trial"),
        );
        equal(
          rig.trailer.swapType(
            { flash: rig.sim, offset: rig.layout.slots[0].offset, size: rig.layout.slots[0].length },
            { flash: rig.sim, offset: rig.layout.slots[1].offset, size: rig.layout.slots[1].length },
          ),
          SwapType.none,
        );
        equal(mcubootReset(rig.sim, rig.layout, rig.trailer).swapType, SwapType.none);
        const after = open(rig);
        equal(after.report.trial, false);
        equal(after.report.rollbackReason, "");
        equal(after.report.running.version, "2.0");
        equal(after.report.running.state, "confirmed");
        equal(after.report.running.sha256, describeNew().sha256);
        equal(after.report.slots[1]!.state, "empty");
        ok(holds(rig, 0, NEW));
        after.confirm(); // harmless when already permanent
      });

      it("no confirm: MCUboot reverts at the next reset; start-up reports the rollback", () => {
        const rig = makeRig(mode, g);
        factory(rig);
        equal(update(rig), SwapType.test);
        equal(open(rig).report.trial, true);
        equal(mcubootReset(rig.sim, rig.layout, rig.trailer).swapType, SwapType.revert);
        ok(holds(rig, 0, OLD), "old image back in slot 0");
        const boot = open(rig);
        equal(boot.report.trial, false);
        equal(boot.report.running.version, "1.0");
        equal(boot.report.rollbackReason, REASON.trialNotConfirmed);
        equal(boot.report.slots[1]!.state, "rejected");
        equal(mcubootReset(rig.sim, rig.layout, rig.trailer).swapType, SwapType.none, "reverted for good");
        equal(open(rig).report.rollbackReason, "", "reported once");
      });

      it("reject: nothing is written to the trailer; the restart reverts and keeps the reason", () => {
        const rig = makeRig(mode, g);
        factory(rig);
        update(rig);
        const boot = open(rig);
        const before = toHexString(slotEnd(rig, 0, rig.fixture.dumpLength));
        boot.reject("self-test failed");
        equal(toHexString(slotEnd(rig, 0, rig.fixture.dumpLength)), before);
        equal(boot.report.trial, false);
        throws(() => boot.startReceive(describeNew()));
        throws(() => boot.confirm());
        equal(mcubootReset(rig.sim, rig.layout, rig.trailer).swapType, SwapType.revert);
        const after = open(rig);
        equal(after.report.running.version, "1.0");
        equal(after.report.rollbackReason, "self-test failed");
        equal(after.record().slots[1].reason, "self-test failed");
      });

      it("an image MCUboot refuses (FAIL) leaves the old image and reads as not confirmed", () => {
        const rig = makeRig(mode, g);
        factory(rig);
        const boot = open(rig);
        const rx = boot.startReceive(describeNew());
        download(rx, NEW, 4096);
        ok(rx.finish().ok);
        boot.activate();
        equal(
          mcubootReset(rig.sim, rig.layout, rig.trailer, { validate: () => false }).swapType,
          SwapType.fail,
        );
        const after = open(rig);
        equal(after.report.trial, false);
        equal(after.report.running.version, "1.0");
        equal(after.report.rollbackReason, REASON.trialNotConfirmed);
        ok(holds(rig, 0, OLD));
      });

      it("a second update after a confirmed one erases the stale trailer first and swaps again", () => {
        const rig = makeRig(mode, g);
        factory(rig);
        update(rig);
        open(rig).confirm();
        mcubootReset(rig.sim, rig.layout, rig.trailer);
        const third = makeImage(4096 + 5, 43);
        const boot = open(rig);
        const rx = boot.startReceive(describeImage(third, "3.0"));
        download(rx, third, 1000);
        ok(rx.finish().ok);
        boot.activate();
        equal(mcubootReset(rig.sim, rig.layout, rig.trailer).swapType, SwapType.test);
        const trial = open(rig);
        equal(trial.report.running.version, "3.0");
        equal(trial.report.slots[1]!.version, "2.0");
        trial.confirm();
        mcubootReset(rig.sim, rig.layout, rig.trailer);
        equal(open(rig).report.running.version, "3.0");
        ok(holds(rig, 0, third));
      });

      it("a stale slot 1 trailer (left by a programmer or an old request) is erased before the image, by eraseStep", () => {
        const rig = makeRig(mode, g);
        factory(rig);
        const region = rig.layout.slots[1];
        const stale = new Uint8Array(rig.fixture.dumpLength).fill(0x5a);
        rig.sim.write(stale, region.offset + region.length - stale.length);
        const boot = open(rig);
        const rx = boot.startReceive(describeNew());
        ok(rx.needsErase(1), "the trailer's sector comes first");
        throws(() => rx.write(NEW, 1));
        download(rx, NEW, 1000);
        ok(rx.finish().ok);
        equal(
          toHexString(slotEnd(rig, 1, stale.length)),
          "ff".repeat(stale.length),
          "erased during the receive",
        );
        boot.activate();
        const request = rig.fixture.scenarios.find((s) => s.name === "request-test")!.after[1];
        equal(toHexString(slotEnd(rig, 1, rig.fixture.dumpLength)), request);
        equal(mcubootReset(rig.sim, rig.layout, rig.trailer).swapType, SwapType.test);
      });

      it("resumes a receive after a reset, and abandon withdraws a standing request", () => {
        const rig = makeRig(mode, g);
        factory(rig);
        const first = open(rig);
        download(first.startReceive(describeNew()), NEW, 1000, 4096 + 100);
        mcubootReset(rig.sim, rig.layout, rig.trailer);
        const boot = open(rig);
        const rx = boot.resumeReceive()!;
        equal(rx.received, 4096);
        download(rx, NEW, 1000);
        ok(rx.finish().ok);
        boot.activate();
        equal(boot.report.slots[1]!.state, "pending-test");
        boot.abandonReceive("changed my mind");
        equal(
          rig.trailer.readState({
            flash: rig.sim,
            offset: rig.layout.slots[1].offset,
            size: rig.layout.slots[1].length,
          }).magic,
          BootMagic.unset,
        );
        equal(mcubootReset(rig.sim, rig.layout, rig.trailer).swapType, SwapType.none);
        equal(open(rig).report.running.version, "1.0");
      });
    });
  }
}
