// ESP32 backend: a provisional receive erased before the confirm is bound to the 10701's digests keeping its erases,
// and a module reboot's resume erases again only the block it was writing (docs/protocol.md §13, decisions 82, 84).
import { deepEqual, equal, ok, throws } from "../../../lib/assert.js";
import { MemoryKeyValueStore } from "../../../../hal/sim/memory-kv.js";
import { SimNorFlash } from "../../../../hal/sim/nor-flash.js";
import {
  Esp32BootControl,
  IMAGE_RECORD_KEY,
  PACKAGE_HEAD_MAX,
  PACKAGE_TAIL_MAX,
} from "../../../../src/boot/esp32/esp32-boot.js";
import { OtaImageState } from "../../../../hal/ota.js";
import { FakeOta, descriptorOf as descriptorFor, digests, feed, plainImage as image } from "./fixtures.js";

const BLOCK = 4096;

function descriptorOf(bytes: Uint8Array) {
  return descriptorFor(bytes, "1.1.0");
}

function setup() {
  const flash = new SimNorFlash({ size: 8 * BLOCK, blockLength: BLOCK, writeAlign: 1 });
  const kv = new MemoryKeyValueStore();
  const ota = new FakeOta(
    { label: "ota_0", state: OtaImageState.valid },
    { label: "ota_1", state: OtaImageState.undefined },
  );
  const boot = new Esp32BootControl({ flash, ota, digests, kv }, { component: "mcu", version: "1.0.0" });
  const erases = (): number[] => Array.from({ length: 8 }, (_, i) => flash.stats.erases[i] ?? 0);
  return { flash, kv, boot, erases };
}

describe("src/boot/esp32 rebind and module-reboot resume", () => {
  it("binds the untouched provisional receive to the real image with one record write, keeping its erases", () => {
    const { kv, boot, erases } = setup();
    const bytes = image(3 * BLOCK + 100);
    const real = descriptorOf(bytes);
    const rx = boot.startReceive({ ...real, md5: "0".repeat(32), sha256: "", size: 5 * BLOCK });
    while (rx.needsErase(5 * BLOCK)) rx.eraseStep(5 * BLOCK);
    const before = erases();
    const bound = boot.rebindReceive!(rx, real);
    equal(JSON.parse(kv.get(IMAGE_RECORD_KEY)!).md5, real.md5, "the record names the real image");
    equal(bound.needsErase(bytes.length), false);
    feed(bound, bytes, 1000);
    deepEqual(bound.finish(), { ok: true, reason: "", md5: real.md5, sha256: real.sha256 });
    deepEqual(erases(), before, "no block erased twice");
    throws(() => boot.rebindReceive!(bound, real), /no untouched receive/);
  });

  it("keeps the record's digests lower case, and an image that erased exactly its blocks needs no more", () => {
    const { kv, boot, erases } = setup();
    const bytes = image(4 * BLOCK);
    const real = descriptorOf(bytes);
    const rx = boot.startReceive({ ...real, md5: "0".repeat(32), sha256: "" });
    while (rx.needsErase(bytes.length)) rx.eraseStep(bytes.length);
    const upper = { ...real, md5: real.md5.toUpperCase(), sha256: real.sha256.toUpperCase() };
    const bound = boot.rebindReceive!(rx, upper);
    const record = JSON.parse(kv.get(IMAGE_RECORD_KEY)!);
    deepEqual([record.md5, record.sha256], [real.md5, real.sha256]);
    equal(bound.needsErase(bytes.length), false, "erased up to exactly the image's end");
    feed(bound, bytes, 1000);
    ok(bound.finish().ok);
    deepEqual(erases().slice(0, 5), [1, 1, 1, 1, 0]);
  });

  it("refuses an oversized image at the rebind, and a rebind after the receive ended", () => {
    const { boot } = setup();
    const bytes = image(2 * BLOCK);
    const real = descriptorOf(bytes);
    const rx = boot.startReceive({ ...real, md5: "0".repeat(32) });
    throws(
      () => boot.rebindReceive!(rx, { ...real, size: 100 * BLOCK }),
      /does not fit the 32768-byte partition/,
    );
    equal(rx.finish().ok, false, "an untouched receive finished: nothing came");
    throws(() => boot.rebindReceive!(rx, real), /no untouched receive/);
    equal(boot.resumeReceive(rx), undefined, "nothing to resume either");
  });

  it("takes an image up to the partition plus a package's largest header and TLVs, at the start and at the rebind", () => {
    const { boot } = setup();
    const real = descriptorOf(image(2 * BLOCK));
    const largest = 8 * BLOCK + PACKAGE_HEAD_MAX + PACKAGE_TAIL_MAX;
    for (const start of [true, false]) {
      const open = (size: number) =>
        start
          ? boot.startReceive({ ...real, size })
          : boot.rebindReceive!(boot.startReceive(real), { ...real, size });
      equal(open(largest).descriptor.size, largest);
      throws(
        () => open(largest + 1),
        new RegExp(`image of ${largest + 1} bytes does not fit the 32768-byte partition`),
      );
      throws(() => open(0), /image of 0 bytes does not fit/);
      equal(open(1).descriptor.size, 1);
    }
    boot.abandonReceive("done");
    const rx = boot.startReceive(real);
    boot.abandonReceive("withdrawn");
    throws(() => boot.rebindReceive!(rx, real), /no untouched receive/);
  });

  it("refuses to rebind a receive something was written through, or one that is not the latest", () => {
    const { boot } = setup();
    const bytes = image(2 * BLOCK);
    const real = descriptorOf(bytes);
    const first = boot.startReceive({ ...real, md5: "0".repeat(32) });
    const second = boot.startReceive({ ...real, md5: "0".repeat(32) });
    throws(() => boot.rebindReceive!(first, real), /no untouched receive/);
    feed(second, bytes, 16, 16);
    throws(() => boot.rebindReceive!(second, real), /no untouched receive/);
  });

  it("an earlier receive than the latest is no guide after a module reboot", () => {
    const { boot, erases } = setup();
    const bytes = image(4 * BLOCK + 100);
    const first = boot.startReceive(descriptorOf(bytes));
    while (first.needsErase(bytes.length)) first.eraseStep(bytes.length);
    const latest = boot.startReceive(descriptorOf(bytes));
    feed(latest, bytes, 1000, BLOCK + 1000);
    const resumed = boot.resumeReceive(first)!;
    feed(resumed, bytes, 1000);
    ok(resumed.finish().ok);
    deepEqual(erases().slice(0, 5), [2, 3, 2, 2, 2]);
  });

  it("after a module reboot the resume erases again only the block it was writing; without it, every block", () => {
    for (const keep of [true, false]) {
      const { boot, erases } = setup();
      const bytes = image(4 * BLOCK + 100);
      const rx = boot.startReceive(descriptorOf(bytes));
      while (rx.needsErase(bytes.length)) rx.eraseStep(bytes.length);
      feed(rx, bytes, 1000, BLOCK + 1000);
      const resumed = boot.resumeReceive(keep ? rx : undefined)!;
      equal(resumed.received, BLOCK);
      feed(resumed, bytes, 1000);
      ok(resumed.finish().ok);
      deepEqual(erases().slice(0, 5), keep ? [1, 2, 1, 1, 1] : [1, 2, 2, 2, 2]);
    }
  });
});
