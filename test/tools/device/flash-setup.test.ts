// The host device's flash setup (portable): partition sizing, deterministic images, and a status that never writes.
import { NobleDigestFactory } from "../../../hal/sim/digest.js";
import { SimNorFlash } from "../../../hal/sim/nor-flash.js";
import { toHex } from "../../../hal/digest.js";
import { formatFactory, openBoot } from "../../../src/boot/generic-boot.js";
import { planLayout } from "../../../src/flash-format/layout.js";
import {
  FACTORY_IMAGE_SIZE,
  HOST_FLASH_GEOMETRY,
  factoryImage,
  inspectFlash,
  layoutOf,
  partitionSizeFor,
  patternImage,
} from "../../../tools/device/flash-setup.js";
import { bytesEqual, deepEqual, equal, notEqual, ok, throws } from "../../lib/assert.js";

const digests = new NobleDigestFactory();

function sha256(bytes: Uint8Array): string {
  const d = digests.create("SHA256");
  d.write(bytes);
  return toHex(d.close());
}

function md5(bytes: Uint8Array): string {
  const d = digests.create("MD5");
  d.write(bytes);
  return toHex(d.close());
}

describe("tools/device flash setup", () => {
  it("partitionSizeFor gives the smallest partition whose slots hold the requested size", () => {
    for (const slot of [4096, 5000, 65536, 512 * 1024, 1024 * 1024 + 1]) {
      const size = partitionSizeFor(slot);
      const layout = planLayout({ ...HOST_FLASH_GEOMETRY, size });
      ok(layout.slots[0].length >= slot, `${slot}: slots of ${layout.slots[0].length}`);
      equal(layout.slots[0].length, Math.ceil(slot / 4096) * 4096);
      // One block less cannot hold the slots: planLayout itself refuses it.
      throws(
        () => planLayout({ ...HOST_FLASH_GEOMETRY, size: size - 4096 }, { slotLength: slot }),
        /do not fit|cannot hold/,
      );
    }
  });

  it("layoutOf finds the layout of an existing partition and rejects another slot size", () => {
    const status = { ...HOST_FLASH_GEOMETRY, size: partitionSizeFor(65536) };
    equal(layoutOf(status).slots[0].length, 65536);
    equal(layoutOf(status, 65536).slots[0].length, 65536);
    throws(() => layoutOf(status, 131072), /65536-byte slots, not 131072/);
  });

  it("pattern images are deterministic, distinct per version and component, and start with a readable header", () => {
    bytesEqual(patternImage("mcu", "1.0.0", 5000), patternImage("mcu", "1.0.0", 5000));
    notEqual(sha256(patternImage("mcu", "1.0.0", 5000)), sha256(patternImage("mcu", "1.0.1", 5000)));
    notEqual(sha256(patternImage("mcu", "1.0.0", 5000)), sha256(patternImage("app", "1.0.0", 5000)));
    equal(String.fromCharCode(...patternImage("mcu", "2.0", 64).subarray(0, 19)), "SOTA-IMAGE mcu 2.0\n");
    equal(factoryImage("mcu", "1.0.0").length, FACTORY_IMAGE_SIZE);
    // Pinned, so the demo and the tests keep using the same bytes.
    equal(md5(patternImage("app", "1.1.0", 160 * 1024)), "d57188b10e2619eefd000613c24e1673");
  });

  it("inspectFlash reports an activated image as the trial that would boot, without spending the trial (no flash write)", () => {
    const flash = new SimNorFlash({ ...HOST_FLASH_GEOMETRY, size: partitionSizeFor(32 * 1024) });
    const layout = layoutOf(flash.status());
    const factory = factoryImage("mcu", "1.0.0");
    formatFactory(flash, layout, digests, { component: "mcu", version: "1.0.0", bytes: factory });
    const image = patternImage("mcu", "1.1.0", 10_000);
    const boot = openBoot(flash, layout, digests);
    const receiver = boot.startReceive({
      component: "mcu",
      version: "1.1.0",
      size: image.length,
      md5: md5(image),
      sha256: sha256(image),
      crc: 0,
    });
    while (receiver.eraseStep(image.length));
    receiver.write(image, image.length);
    equal(receiver.finish().ok, true);
    boot.activate();

    const before = flash.snapshot();
    const operations = flash.stats.operations;
    const status = inspectFlash(flash, layout, digests);
    equal(flash.stats.operations, operations);
    bytesEqual(flash.snapshot(), before);
    equal(status.trial, true);
    deepEqual(status.running, { slot: 1, component: "mcu", version: "1.1.0", sha256: sha256(image) });
    deepEqual(
      status.slots.map((s) => [s.slot, s.state, s.version, s.size, s.flashSha256, s.intact, s.running]),
      [
        [0, "confirmed", "1.0.0", factory.length, sha256(factory), true, false],
        [1, "pending-test", "1.1.0", image.length, sha256(image), true, true],
      ],
    );
    // A second look says the same: the trial was not spent by the first.
    deepEqual(inspectFlash(flash, layout, digests).running, status.running);
    // The real start-up spends it and then runs the trial image.
    equal(openBoot(flash, layout, digests).report.trial, true);
  });

  it("inspectFlash flags a slot whose bytes no longer match the recorded SHA-256", () => {
    const flash = new SimNorFlash({ ...HOST_FLASH_GEOMETRY, size: partitionSizeFor(16 * 1024) });
    const layout = layoutOf(flash.status());
    formatFactory(flash, layout, digests, {
      component: "mcu",
      version: "1.0.0",
      bytes: factoryImage("mcu", "1.0.0"),
    });
    // Clearing bits is always possible on NOR: damage one byte of the factory image in place.
    flash.write(new Uint8Array(4), layout.slots[0].offset + 64);
    const slot0 = inspectFlash(flash, layout, digests).slots[0]!;
    equal(slot0.intact, false);
    notEqual(slot0.flashSha256, slot0.sha256);
  });
});
