// Generic boot's seals at their edges: a verdict cut between its seal and its record, finished again after the
// restart, must find its own seal and write only the record (portable).
import { deepEqual, equal, ok } from "../../lib/assert.js";
import { PowerLoss } from "../../../hal/sim/nor-flash.js";
import { decodeSeal, encodeSeal, sealOffset, type SlotRecord } from "../../../src/boot/records.js";
import { formatFactory, openBoot } from "../../../src/boot/generic-boot.js";
import { sealLength } from "../../../src/flash-format/layout.js";
import { describeImage, digests, download, makeFlash, makeImage } from "./fixtures.js";

const G = { name: "4K/4", blockLength: 4096, writeAlign: 4, blocks: 12 };
const OLD = makeImage(5000, 41);
const NEW = makeImage(3000, 42);

describe("src/boot/generic-boot seals", () => {
  it("a verdict cut after its seal keeps that seal when the resumed receive finishes: only the record is written", () => {
    const { flash, layout } = makeFlash(G);
    formatFactory(flash, layout, digests, { component: "app", version: "1.0", bytes: OLD });
    const boot = openBoot(flash, layout, digests);
    const rx = boot.startReceive(describeImage(NEW, "2.0"));
    download(rx, NEW, 1024);
    // The verdict's first operation is the seal, its second the record: cut the record.
    flash.armPowerCut(2);
    let cut = false;
    try {
      rx.finish();
    } catch (error) {
      cut = error instanceof PowerLoss;
    }
    ok(cut, "the record write was cut");
    flash.powerOn();
    const seal = flash.inspect(sealOffset(layout, 1), sealLength(layout));
    const sealed = decodeSeal(seal, layout.slots[0].length);
    deepEqual([sealed?.state, sealed?.version, sealed?.size], ["verified", "2.0", NEW.length]);

    const again = openBoot(flash, layout, digests);
    equal(again.record().slots[1].state, "receiving");
    const resumed = again.resumeReceive();
    ok(resumed !== undefined, "the receive resumes");
    download(resumed!, NEW, 1024);
    flash.resetStats();
    equal(resumed!.finish().ok, true);
    const stats = flash.stats;
    deepEqual([stats.eraseCount, stats.writeCount], [0, 1], "erases and writes of the second verdict");
    equal(again.record().slots[1].state, "verified");
    deepEqual(flash.inspect(sealOffset(layout, 1), sealLength(layout)), seal);
  });

  it("replaces a seal that differs from the verified image in any one field: erased, then written again", () => {
    const other = "0".repeat(64);
    const changes: [string, (slot: SlotRecord) => void][] = [
      ["size", (slot) => (slot.size -= 4)],
      ["md5", (slot) => (slot.md5 = other.slice(0, 32))],
      ["sha256", (slot) => (slot.sha256 = other)],
      ["component", (slot) => (slot.component = "net")],
      ["version", (slot) => (slot.version = "2.1")],
      ["session", (slot) => (slot.session += 1)],
    ];
    for (const [field, change] of changes) {
      const { flash, layout } = makeFlash(G);
      formatFactory(flash, layout, digests, { component: "app", version: "1.0", bytes: OLD });
      const boot = openBoot(flash, layout, digests);
      const rx = boot.startReceive(describeImage(NEW, "2.0"));
      download(rx, NEW, 1024);
      // A seal in place that names another image (one field off): left by an earlier receive into this slot.
      const stale: SlotRecord = { ...boot.record().slots[1], state: "verified", trialsLeft: 0, reason: "" };
      change(stale);
      const bytes = new Uint8Array(sealLength(layout));
      encodeSeal(stale, bytes, layout.eraseValue);
      flash.write(bytes, sealOffset(layout, 1));
      flash.resetStats();
      equal(rx.finish().ok, true, field);
      deepEqual([flash.stats.eraseCount, flash.stats.writeCount], [1, 2], `erases and writes, ${field} off`);
      const sealed = decodeSeal(
        flash.inspect(sealOffset(layout, 1), sealLength(layout)),
        layout.slots[0].length,
      );
      const record = boot.record().slots[1];
      deepEqual(
        [sealed?.size, sealed?.md5, sealed?.sha256, sealed?.component, sealed?.version, sealed?.session],
        [record.size, record.md5, record.sha256, record.component, record.version, record.session],
        field,
      );
    }
  });

  it("erases a foreign seal's block only when the image ends before it; else leaves the image unsealed", () => {
    const probe = makeFlash(G).layout;
    const sealBlockStart = Math.floor(sealOffset(probe, 1) / G.blockLength) * G.blockLength;
    const room = sealBlockStart - probe.slots[1].offset;
    // room - 2 rounds up to the block's start (written in 4-byte units); room + 2 reaches into the seal's block.
    for (const [size, expected] of [
      [room - 2, [1, 2]],
      [room + 2, [0, 1]],
    ] as const) {
      const { flash, layout } = makeFlash(G);
      formatFactory(flash, layout, digests, { component: "app", version: "1.0", bytes: OLD });
      const image = makeImage(size, 43);
      const boot = openBoot(flash, layout, digests);
      const rx = boot.startReceive(describeImage(image, "2.0"));
      download(rx, image, 1024);
      const garbage = new Uint8Array(8).fill(0x33);
      flash.write(garbage, sealOffset(layout, 1));
      flash.resetStats();
      equal(rx.finish().ok, true, `size ${size}`);
      deepEqual(
        [flash.stats.eraseCount, flash.stats.writeCount],
        [...expected] as number[],
        `erases and writes, size ${size}`,
      );
      equal(boot.record().slots[1].state, "verified");
      const sealed = decodeSeal(
        flash.inspect(sealOffset(layout, 1), sealLength(layout)),
        layout.slots[0].length,
      );
      equal(sealed?.version, expected[0] === 1 ? "2.0" : undefined, `seal, size ${size}`);
      deepEqual(flash.inspect(layout.slots[1].offset, size), image, `image bytes, size ${size}`);
    }
  });
});
