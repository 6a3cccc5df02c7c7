// What every boot backend checks of a descriptor and how it writes a factory image: each rule's bound and exact
// message, and the padded last write unit (from mutation testing; portable).

import { deepEqual, equal } from "../../lib/assert.js";
import { SimNorFlash } from "../../../hal/sim/nor-flash.js";
import { NobleDigestFactory } from "../../../hal/sim/digest.js";
import { planLayout } from "../../../src/flash-format/layout.js";
import { checkedDescriptor, writeFactoryImage } from "../../../src/boot/slot-image.js";
import type { ImageDescriptor } from "../../../src/image/types.js";

const good: ImageDescriptor = {
  component: "app",
  version: "1.0",
  size: 100,
  md5: "0123456789ABCDEF0123456789abcdef",
  sha256: "AB".repeat(32),
  crc: -1,
};

/** The RangeError message (or "" when the descriptor passes). */
function problem(change: Partial<ImageDescriptor>, max = 1000): string {
  try {
    checkedDescriptor({ ...good, ...change }, max, "slot 1");
  } catch (error) {
    equal(error instanceof RangeError, true);
    return (error as Error).message;
  }
  return "";
}

describe("src/boot/slot-image", () => {
  it("lower-cases the digests and makes the CRC unsigned", () => {
    deepEqual(checkedDescriptor(good, 100, "slot 1"), {
      ...good,
      md5: "0123456789abcdef0123456789abcdef",
      sha256: "ab".repeat(32),
      crc: 0xffffffff,
    });
  });

  it("names each broken rule, and accepts the bounds", () => {
    const cases: [Partial<ImageDescriptor>, string][] = [
      [{ size: 0 }, "boot: image size 0 does not fit slot 1"],
      [{ size: 1001 }, "boot: image size 1001 does not fit slot 1"],
      [{ size: 10.5 }, "boot: image size 10.5 does not fit slot 1"],
      [{ size: 1000 }, ""],
      [{ size: 1 }, ""],
      [{ md5: "0".repeat(31) }, `boot: md5 "${"0".repeat(31)}" is not 32 hex digits`],
      [{ md5: "0".repeat(31) + "g" }, `boot: md5 "${"0".repeat(31)}g" is not 32 hex digits`],
      [{ sha256: "" }, ""],
      [{ sha256: "a".repeat(63) }, `boot: sha256 "${"a".repeat(63)}" is not 64 hex digits`],
      [{ sha256: "x" + "a".repeat(63) }, `boot: sha256 "x${"a".repeat(63)}" is not 64 hex digits`],
      [{ component: "c".repeat(32) }, ""],
      [
        { component: "c".repeat(33) },
        `boot: component "${"c".repeat(33)}" is not printable ASCII of at most 32`,
      ],
      [{ component: "a\u007f" }, 'boot: component "a\u007f" is not printable ASCII of at most 32'],
      [{ component: " ~" }, ""],
      [{ version: "v".repeat(64) }, ""],
      [{ version: "v".repeat(65) }, `boot: version "${"v".repeat(65)}" is not printable ASCII of at most 64`],
      [{ version: "1\u001f" }, 'boot: version "1\u001f" is not printable ASCII of at most 64'],
    ];
    deepEqual(
      cases.map(([change]) => problem(change)),
      cases.map(([, text]) => text),
    );
  });

  it("writes a factory image with its last write unit padded with the erase value, and returns its digests", () => {
    const flash = new SimNorFlash({ size: 16 * 4096, blockLength: 4096, writeAlign: 8 });
    const layout = planLayout(flash.status());
    flash.write(new Uint8Array(8).fill(0), layout.slots[1].offset);
    const bytes = new Uint8Array(11).map((_, i) => i + 1);
    const written = writeFactoryImage(flash, layout, new NobleDigestFactory(), {
      component: "app",
      version: "1.0",
      bytes,
    });
    deepEqual(
      Array.from(flash.inspect(layout.slots[0].offset, 16)),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0xff, 0xff, 0xff, 0xff, 0xff],
    );
    equal(flash.inspect(layout.slots[1].offset, 1)[0], 0xff, "the whole partition was erased first");
    deepEqual(written, {
      size: 11,
      md5: "3a0a12db5c1e3d4e72822fbfec67e4f6",
      sha256: "d0d63f379006ce2728fb8a4a42a82b205b5e957aedc69557e89cc52235834e70",
    });
  });

  it("writes an image of whole write units without a padded tail, and the digests of its bytes", () => {
    const flash = new SimNorFlash({ size: 16 * 4096, blockLength: 4096, writeAlign: 4 });
    const layout = planLayout(flash.status());
    const abc = new Uint8Array([0x61, 0x62, 0x63, 0x64]);
    const writes = flash.stats.writeCount;
    const written = writeFactoryImage(flash, layout, new NobleDigestFactory(), {
      component: "app",
      version: "1.0",
      bytes: abc,
    });
    equal(flash.stats.writeCount, writes + 1);
    deepEqual(written, {
      size: 4,
      md5: "e2fc714c4727ee9395f324cd2e7f331f",
      sha256: "88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589",
    });
    const small = writeFactoryImage(flash, layout, new NobleDigestFactory(), {
      component: "app",
      version: "1.0",
      bytes: new Uint8Array([0x61, 0x62, 0x63]),
    });
    deepEqual(small, {
      size: 3,
      md5: "900150983cd24fb0d6963f7d28e17f72",
      sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    });
    deepEqual(Array.from(flash.inspect(layout.slots[0].offset, 4)), [0x61, 0x62, 0x63, 0xff]);
  });

  it("refuses a factory image larger than a slot, or with a long or unprintable name", () => {
    const flash = new SimNorFlash({ size: 16 * 4096, blockLength: 4096, writeAlign: 4 });
    const layout = planLayout(flash.status());
    const attempt = (bytes: Uint8Array, component: string, version: string): string => {
      try {
        writeFactoryImage(flash, layout, new NobleDigestFactory(), { component, version, bytes });
      } catch (error) {
        return (error as Error).message;
      }
      return "";
    };
    deepEqual(
      [
        attempt(new Uint8Array(6 * 4096 + 1), "app", "1"),
        attempt(new Uint8Array(6 * 4096), "app", "1"),
        attempt(new Uint8Array(4), "c".repeat(33), "1"),
        attempt(new Uint8Array(4), "app", "v".repeat(65)),
        attempt(new Uint8Array(4), "app", "1\n"),
      ],
      [
        "factory image of 24577 bytes exceeds the 24576-byte slot",
        "",
        "factory component or version is not short printable ASCII",
        "factory component or version is not short printable ASCII",
        "factory component or version is not short printable ASCII",
      ],
    );
  });
});
