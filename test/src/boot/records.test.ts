// Boot records: exact encoding round trip, CRC/consistency rejection, append order, block switch and torn writes (portable).
import fc from "fast-check";
import { deepEqual, equal, ok, throws } from "../../lib/assert.js";
import { FlashError, type FlashPartition } from "../../../hal/flash.js";
import { PowerLoss, SimNorFlash } from "../../../hal/sim/nor-flash.js";
import { planLayout } from "../../../src/flash-format/layout.js";
import {
  RecordStore,
  decodeRecord,
  emptySlot,
  encodeRecord,
  type BootRecord,
} from "../../../src/boot/records.js";
import type { ImageState } from "../../../src/boot/types.js";
import { assertProperty } from "../../lib/property.js";

function setup(blockLength = 4096, writeAlign = 4) {
  const flash = new SimNorFlash({ size: 12 * blockLength, blockLength, writeAlign });
  const layout = planLayout(flash.status());
  return { flash, layout, store: new RecordStore(flash, layout) };
}

function record(version: string, state: ImageState = "empty"): BootRecord {
  return {
    seq: 0,
    confirmedSlot: 0,
    slots: [
      {
        ...emptySlot(),
        state: "confirmed",
        size: 100,
        md5: "0".repeat(31) + "1",
        sha256: "ab".repeat(32),
        component: "app",
        version: "1.0",
      },
      { ...emptySlot(), state, version, trialsLeft: state === "pending-test" ? 1 : 0 },
    ],
  };
}

describe("src/boot/records", () => {
  it("round-trips every field through the 512-byte encoding", () => {
    const hex = (n: number) =>
      fc.array(fc.constantFrom(..."0123456789abcdef"), { minLength: n, maxLength: n }).map((a) => a.join(""));
    const text = (max: number) => fc.string({ unit: fc.constantFrom(..."abcXYZ09 .-_"), maxLength: max });
    const slot = fc.record({
      state: fc.constantFrom<ImageState>("empty", "receiving", "verified", "pending-test", "rejected"),
      trialsLeft: fc.integer({ min: 0, max: 255 }),
      size: fc.integer({ min: 0, max: 6 * 4096 }),
      crc: fc.nat({ max: 0xffffffff }),
      session: fc.nat({ max: 0xffffffff }),
      md5: fc.oneof(fc.constant(""), hex(32)),
      sha256: fc.oneof(fc.constant(""), hex(64)),
      component: text(32),
      version: text(64),
      reason: text(37),
    });
    assertProperty(
      fc.property(slot, slot, fc.nat({ max: 0xffffffff }), fc.boolean(), (a, b, seq, first) => {
        const confirmed = { ...a, state: "confirmed" as ImageState };
        const other = { ...b };
        const value: BootRecord = {
          seq,
          confirmedSlot: first ? 0 : 1,
          slots: first ? [confirmed, other] : [other, confirmed],
        };
        const bytes = new Uint8Array(512);
        encodeRecord(value, bytes);
        deepEqual(decodeRecord(bytes, 6 * 4096), value);
      }),
      { numRuns: 60 },
    );
  });

  it("refuses a record with any flipped byte, a wrong magic, or two confirmed slots", () => {
    const bytes = new Uint8Array(512);
    encodeRecord({ ...record("2.0", "verified"), seq: 7 }, bytes);
    ok(decodeRecord(bytes, 6 * 4096));
    for (const at of [0, 5, 8, 12, 100, 300, 508, 511]) {
      const copy = bytes.slice();
      copy[at]! ^= 0x10;
      equal(decodeRecord(copy, 6 * 4096), undefined, `flip at ${at}`);
    }
    const twoConfirmed = record("2.0", "confirmed");
    encodeRecord(twoConfirmed, bytes);
    equal(decodeRecord(bytes, 6 * 4096), undefined);
    encodeRecord(
      { ...record("2.0"), slots: [{ ...emptySlot(), state: "confirmed", size: 7 * 4096 }, emptySlot()] },
      bytes,
    );
    equal(decodeRecord(bytes, 6 * 4096), undefined, "size beyond the slot");
  });

  it("appends records with increasing seq to consecutive slots of one block", () => {
    const { flash, layout, store } = setup();
    equal(store.load(), undefined);
    for (let i = 1; i <= 3; i++) equal(store.commit(record(`v${i}`)), i);
    equal(flash.stats.eraseCount, 0);
    equal(flash.stats.writeCount, 3);
    const again = new RecordStore(flash, layout);
    const loaded = again.load()!;
    equal(loaded.seq, 3);
    equal(loaded.slots[1].version, "v3");
    // Exact placement: the third record starts at records[0] + 2 * 512.
    const third = decodeRecord(flash.inspect(layout.records[0].offset + 1024, 512), layout.slots[0].length);
    equal(third?.slots[1].version, "v3");
  });

  it("switches blocks by erasing only the block without the newest record", () => {
    const { flash, layout, store } = setup();
    store.load();
    const perBlock = store.perBlock;
    equal(perBlock, 8);
    const blockA = layout.records[0].offset / layout.blockLength;
    const blockB = layout.records[1].offset / layout.blockLength;
    for (let i = 1; i <= perBlock; i++) store.commit(record(`v${i}`));
    equal(flash.stats.eraseCount, 0);
    store.commit(record("v9"));
    equal(flash.stats.erases[blockB], 1);
    equal(flash.stats.erases[blockA], 0);
    for (let i = 10; i <= 2 * perBlock + 1; i++) store.commit(record(`v${i}`));
    equal(flash.stats.erases[blockA], 1, "A erased only once B held the newest");
    equal(new RecordStore(flash, layout).load()!.slots[1].version, `v${2 * perBlock + 1}`);
  });

  it("keeps the previous record in charge after a torn record write, then writes past the torn slot", () => {
    for (let seed = 1; seed <= 20; seed++) {
      const { flash, layout, store } = setup(4096, 1);
      store.load();
      store.commit(record("old"));
      flash.armPowerCut(1, "write-prefix", seed);
      throws(() => store.commit(record("new")), PowerLoss);
      flash.powerOn();
      const after = new RecordStore(flash, layout);
      equal(after.load()!.slots[1].version, "old", `seed ${seed}`);
      equal(after.commit(record("newer")), 2);
      equal(new RecordStore(flash, layout).load()!.slots[1].version, "newer");
    }
  });

  it("survives a torn erase at a block switch: the full block still rules, the next commit erases again", () => {
    const { flash, layout, store } = setup();
    store.load();
    for (let i = 1; i <= store.perBlock; i++) store.commit(record(`v${i}`));
    flash.armPowerCut(1, "erase-garbage", 99);
    throws(() => store.commit(record("lost")), PowerLoss);
    flash.powerOn();
    const after = new RecordStore(flash, layout);
    equal(after.load()!.slots[1].version, `v${store.perBlock}`);
    after.commit(record("next"));
    equal(new RecordStore(flash, layout).load()!.slots[1].version, "next");
  });

  it("falls back to the older copy when the newest has a bad CRC", () => {
    const { flash, layout, store } = setup();
    store.load();
    store.commit(record("old"));
    store.commit(record("new"));
    const image = flash.snapshot();
    image[layout.records[0].offset + 512 + 300]! ^= 1;
    const damaged = new SimNorFlash({ ...flash.status(), initial: image });
    equal(new RecordStore(damaged, layout).load()!.slots[1].version, "old");
  });

  it("lets the next record outrank one whose write failed after it landed (an I/O error reported late)", () => {
    const { flash, layout, store } = setup();
    store.load();
    store.commit(record("old"));
    let failNext = true;
    const lying: FlashPartition = {
      status: () => flash.status(),
      eraseBlock: (start, end) => flash.eraseBlock(start, end),
      read: (into, offset) => flash.read(into, offset),
      write: (bytes, offset) => {
        flash.write(bytes, offset);
        if (failNext) {
          failNext = false;
          throw new FlashError("verify after write failed", "io");
        }
      },
    };
    const lyingStore = new RecordStore(lying, layout);
    lyingStore.load();
    throws(() => lyingStore.commit(record("maybe")), FlashError);
    equal(lyingStore.commit(record("sure")), 3, "the failed record's seq is not reused");
    equal(new RecordStore(flash, layout).load()!.slots[1].version, "sure");
  });

  it("flags a damaged record slot right after the newest valid record, and only there", () => {
    const { flash, layout, store } = setup(4096, 1);
    store.load();
    store.commit(record("a"));
    store.commit(record("b"));
    equal(new RecordStore(flash, layout).load() && new RecordStore(flash, layout).newerDamaged, false);
    flash.armPowerCut(1, "write-prefix", 7);
    throws(() => store.commit(record("c")), PowerLoss);
    flash.powerOn();
    const after = new RecordStore(flash, layout);
    equal(after.load()!.slots[1].version, "b");
    equal(after.newerDamaged, true);
    after.commit(record("d"));
    const again = new RecordStore(flash, layout);
    equal(again.load()!.slots[1].version, "d");
    equal(again.newerDamaged, false, "a torn slot before the newest record is history");
  });
});
