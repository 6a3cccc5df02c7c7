// Esp32BootControl on simulated NOR flash with a fake ESP-IDF: exact flash contents, erases only on request, resume, rollback.

import { bytesEqual, deepEqual, equal, ok, throws } from "../../../lib/assert.js";
import { MemoryKeyValueStore } from "../../../../hal/sim/memory-kv.js";
import { SimNorFlash } from "../../../../hal/sim/nor-flash.js";
import { Esp32BootControl, IMAGE_RECORD_KEY } from "../../../../src/boot/esp32/esp32-boot.js";
import { OtaImageState } from "../../../../hal/ota.js";
import type { ImageDescriptor } from "../../../../src/image/types.js";
import { FakeOta, descriptorOf, digests, feed, plainImage as image } from "./fixtures.js";

const BLOCK = 4096;

function describeImage(bytes: Uint8Array): ImageDescriptor {
  return descriptorOf(bytes, "1.1.0");
}

function setup() {
  const flash = new SimNorFlash({ size: 8 * BLOCK, blockLength: BLOCK, writeAlign: 1 });
  const kv = new MemoryKeyValueStore();
  const ota = new FakeOta(
    { label: "ota_0", state: OtaImageState.valid },
    { label: "ota_1", state: OtaImageState.undefined },
  );
  const open = () =>
    new Esp32BootControl(
      { flash, ota, digests, kv },
      { component: "mcu", version: ota.runningView.label === "ota_1" ? "1.1.0" : "1.0.0" },
    );
  return { flash, kv, ota, open };
}

function flashBytes(flash: SimNorFlash, length: number): Uint8Array {
  const into = new Uint8Array(length);
  flash.read(into, 0);
  return into;
}

describe("src/boot/esp32 esp32-boot", () => {
  it("receives, verifies, activates, and the trial boot confirms", () => {
    const { flash, kv, ota, open } = setup();
    const boot = open();
    equal(boot.report.running.slot, 0);
    equal(boot.report.trial, false);
    const bytes = image(3 * BLOCK + 100);
    const receiver = boot.startReceive(describeImage(bytes));
    throws(() => receiver.write(bytes, 10), /not erased/);
    const erases = feed(receiver, bytes, 1000);
    equal(erases, 4, "one erase per block the image touches, no more");
    equal(receiver.eraseStep(bytes.length), false);
    bytesEqual(flashBytes(flash, bytes.length), bytes);
    bytesEqual(
      flashBytes(flash, 4 * BLOCK).subarray(bytes.length),
      new Uint8Array(4 * BLOCK - bytes.length).fill(0xff),
    );
    const verdict = receiver.finish();
    deepEqual(verdict, {
      ok: true,
      reason: "",
      md5: describeImage(bytes).md5,
      sha256: describeImage(bytes).sha256,
    });
    equal(JSON.parse(kv.get(IMAGE_RECORD_KEY)!).state, "verified");
    boot.activate();
    deepEqual(ota.calls, ["invalidate", "select"]);
    bytesEqual(ota.selectedFirstBlock!, bytes.subarray(0, BLOCK));
    equal(JSON.parse(kv.get(IMAGE_RECORD_KEY)!).state, "pending-test");

    // The bootloader starts ota_1 as pending verify.
    ota.runningView = { label: "ota_1", state: OtaImageState.pendingVerify };
    ota.nextView = { label: "ota_0", state: OtaImageState.valid };
    const trial = open();
    equal(trial.report.trial, true);
    deepEqual(trial.report.running, {
      slot: 1,
      state: "pending-test",
      component: "mcu",
      version: "1.1.0",
      size: bytes.length,
      md5: describeImage(bytes).md5,
      sha256: describeImage(bytes).sha256,
    });
    throws(() => trial.startReceive(describeImage(bytes)), /trial/);
    trial.confirm();
    deepEqual(ota.calls, ["invalidate", "select", "valid"]);
    equal(trial.report.trial, false);
    equal(JSON.parse(kv.get(IMAGE_RECORD_KEY)!).state, "confirmed");
  });

  it("resumes from the last journaled block after a reset, re-erasing the torn block", () => {
    const { flash, kv, open } = setup();
    const bytes = image(5 * BLOCK);
    const first = open().startReceive(describeImage(bytes));
    feed(first, bytes, 1500, 2 * BLOCK + 1000);
    equal(JSON.parse(kv.get(IMAGE_RECORD_KEY)!).received, 2 * BLOCK);

    const resumed = open().resumeReceive();
    ok(resumed);
    equal(resumed.received, 2 * BLOCK);
    ok(resumed.needsErase(2 * BLOCK + 1), "the block written after the journal is erased again");
    feed(resumed, bytes, 1500);
    equal(resumed.finish().ok, true);
    bytesEqual(flashBytes(flash, bytes.length), bytes);
  });

  it("rejects a wrong digest and a non-ESP-IDF image, and will not activate them", () => {
    const { open, kv } = setup();
    const boot = open();
    const bytes = image(BLOCK);
    const receiver = boot.startReceive({ ...describeImage(bytes), md5: "f".repeat(32) });
    feed(receiver, bytes, 512);
    equal(receiver.finish().reason, "md5");
    throws(() => boot.activate(), /no verified image/);
    const notAnApp = image(BLOCK);
    notAnApp[0] = 0x7f;
    const second = boot.startReceive(describeImage(notAnApp));
    feed(second, notAnApp, 512);
    equal(second.finish().reason, "format");
    equal(JSON.parse(kv.get(IMAGE_RECORD_KEY)!).state, "empty");
  });

  it("a trial that resets unconfirmed is reported as rolled back; a reject records first, then reboots", () => {
    const { ota, open, kv } = setup();
    const boot = open();
    const bytes = image(BLOCK);
    feed(boot.startReceive(describeImage(bytes)), bytes, 4096);
    equal(JSON.parse(kv.get(IMAGE_RECORD_KEY)!).state, "receiving");
    const again = open();
    const r = again.resumeReceive()!;
    equal(r.finish().ok, true);
    again.activate();
    // Bootloader rolled back: ota_0 runs again.
    const after = open();
    equal(after.report.rollbackReason, "trial not confirmed");
    equal(after.report.running.slot, 0);
    equal(after.report.slots[1]!.state, "rejected");

    const second = open();
    equal(second.report.rollbackReason, "", "reported once");
    ota.calls = [];
    const r2 = second.startReceive(describeImage(bytes));
    feed(r2, bytes, 4096);
    equal(r2.finish().ok, true);
    second.activate();
    ota.runningView = { label: "ota_1", state: OtaImageState.pendingVerify };
    const trial = open();
    trial.reject("health check failed");
    deepEqual(ota.calls, ["invalidate", "select", "invalid"]);
    deepEqual(JSON.parse(kv.get(IMAGE_RECORD_KEY)!).state, "rejected");
    ota.runningView = { label: "ota_0", state: OtaImageState.valid };
    equal(open().report.rollbackReason, "health check failed");
  });

  it("a failed selection (block 0 erased, e.g. by a cut inside an earlier activate) abandons the image instead of retrying it forever", () => {
    const { flash, kv, ota, open } = setup();
    const bytes = image(BLOCK + 10);
    const receiver = open().startReceive(describeImage(bytes));
    feed(receiver, bytes, 512);
    equal(receiver.finish().ok, true);
    // A cut inside selectNext after its erase of block 0: the record still says verified.
    flash.eraseBlock(0);
    const again = open();
    equal(again.report.slots[1]!.state, "verified");
    ota.selectNext = (first: Uint8Array) => {
      if (first[0] !== 0xe9) throw new Error("esp_ota_write: write failed");
    };
    throws(() => again.activate(), /write failed/);
    const saved = JSON.parse(kv.get(IMAGE_RECORD_KEY)!);
    deepEqual([saved.state, saved.reason], ["empty", "activate"]);
    equal(again.report.slots[1]!.state, "empty");
    equal(open().resumeReceive(), undefined);
    throws(() => open().activate(), /no verified image/);
  });

  it("refuses an image larger than the partition", () => {
    const { open } = setup();
    throws(
      () =>
        open().startReceive({
          component: "mcu",
          version: "2",
          size: 90 * BLOCK,
          md5: "0".repeat(32),
          sha256: "",
          crc: 0,
        }),
      RangeError,
    );
  });
});
