// A module reboot mid-download (the MCU keeps running): the resumed receive skips the blocks its predecessor in RAM
// erased ahead, erases again only the block it had half written, and builds the same image (decision 84).
import { bytesEqual, deepEqual, equal, ok } from "../../lib/assert.js";
import { formatFactory, openBoot } from "../../../src/boot/generic-boot.js";
import {
  describeImage,
  digests,
  download,
  makeFlash,
  makeImage,
  md5Hex,
  sha256Hex,
  type Geometry,
} from "../boot/fixtures.js";

const G4: Geometry = { name: "4K/16", blockLength: 4096, writeAlign: 16, blocks: 12 };

function setup() {
  const { flash, layout } = makeFlash(G4);
  formatFactory(flash, layout, digests, { component: "app", version: "1.0", bytes: makeImage(5000, 1) });
  const boot = openBoot(flash, layout, digests);
  const image = makeImage(3 * 4096 + 100, 7);
  const slotBlock = layout.slots[1].offset / 4096;
  /** Erases of each of the image's four slot blocks since `before`. */
  const erasesSince = (before: number[]): number[] =>
    [0, 1, 2, 3].map((i) => (flash.stats.erases[slotBlock + i] ?? 0) - before[i]!);
  const snapshot = (): number[] => erasesSince([0, 0, 0, 0]);
  return { flash, layout, boot, image, erasesSince, snapshot };
}

describe("src/image/receiver after a module reboot", () => {
  it("skips the blocks erased ahead, erases the half-written one again, and verifies the image", () => {
    const { flash, layout, boot, image, erasesSince, snapshot } = setup();
    const before = snapshot();
    const rx = boot.startReceive(describeImage(image, "2.0"));
    // Erased ahead while the module fetched the piece, then 1.25 blocks written (one journaled sector).
    while (rx.needsErase(image.length)) rx.eraseStep(image.length);
    download(rx, image, 1024, 4096 + 1024);
    deepEqual(erasesSince(before), [1, 1, 1, 1]);
    const resumed = boot.resumeReceive(rx)!;
    equal(resumed.received, 4096, "the journaled sector is kept");
    ok(resumed.needsErase(4096 + 1), "block 1 holds bytes past the journal: erased again");
    download(resumed, image, 1024);
    deepEqual(erasesSince(before), [1, 2, 1, 1], "blocks 2 and 3 are not erased a second time");
    deepEqual(resumed.finish(), { ok: true, reason: "", md5: md5Hex(image), sha256: sha256Hex(image) });
    bytesEqual(flash.inspect(layout.slots[1].offset, image.length), image);
  });

  it("without the receive in RAM (an MCU reset) every block past the journal is erased again", () => {
    const { boot, image, erasesSince, snapshot } = setup();
    const before = snapshot();
    const rx = boot.startReceive(describeImage(image, "2.0"));
    while (rx.needsErase(image.length)) rx.eraseStep(image.length);
    download(rx, image, 1024, 4096 + 1024);
    const resumed = boot.resumeReceive()!;
    download(resumed, image, 1024);
    deepEqual(erasesSince(before), [1, 2, 2, 2]);
    ok(resumed.finish().ok);
  });

  it("a receive of another session or another image is no guide: its erases are not trusted", () => {
    const { boot, image, erasesSince, snapshot } = setup();
    const other = makeImage(3 * 4096 + 100, 9);
    const first = boot.startReceive(describeImage(other, "3.0"));
    while (first.needsErase(other.length)) first.eraseStep(other.length);
    const before = snapshot();
    const rx = boot.startReceive(describeImage(image, "2.0"));
    download(rx, image, 1024, 1024);
    const resumed = boot.resumeReceive(first)!;
    equal(resumed.received, 0);
    download(resumed, image, 1024);
    deepEqual(erasesSince(before), [2, 1, 1, 1], "the old session's erased blocks are erased again");
    ok(resumed.finish().ok);
  });
});
