// Boot record and seal encoding edge cases from mutation testing: the exact bytes of every field at its bounds,
// each consistency rule that refuses a record or seal, and where the store appends, erases and looks for damage.

import { deepEqual, equal, ok } from "../../lib/assert.js";
import { SimNorFlash } from "../../../hal/sim/nor-flash.js";
import { putU32 } from "../../../src/flash-format/bytes.js";
import { crc32 } from "../../../src/flash-format/crc32.js";
import { planLayout } from "../../../src/flash-format/layout.js";
import {
  RecordStore,
  decodeRecord,
  decodeSeal,
  emptySlot,
  encodeRecord,
  encodeSeal,
  sealFits,
  sealOffset,
  type BootRecord,
  type SlotRecord,
} from "../../../src/boot/records.js";

const SLOT = 6 * 4096;

function confirmed(extra: Partial<SlotRecord> = {}): SlotRecord {
  return { ...emptySlot(), state: "confirmed", size: 100, component: "app", version: "1.0", ...extra };
}

function encoded(record: BootRecord): Uint8Array {
  const bytes = new Uint8Array(512);
  encodeRecord(record, bytes);
  return bytes;
}

/** The record with one byte changed and its CRC made right again: only the content rules can refuse it. */
function patched(record: BootRecord, at: number, value: number): Uint8Array {
  const bytes = encoded(record);
  bytes[at] = value;
  putU32(bytes, 508, crc32(bytes, 0, 508));
  return bytes;
}

const base: BootRecord = { seq: 5, confirmedSlot: 0, slots: [confirmed(), emptySlot()] };

describe("src/boot/records edges", () => {
  it("lays out the header and the first slot's fixed fields byte for byte", () => {
    const bytes = encoded({
      seq: 0x01020304,
      confirmedSlot: 1,
      slots: [
        { ...emptySlot(), state: "rejected", trialsLeft: 2 },
        confirmed({ size: 0x5a0b, crc: 0xfffffffe, session: 9, md5: "00ff".repeat(8), sha256: "" }),
      ],
    });
    deepEqual(Array.from(bytes.subarray(0, 12)), [0x53, 0x4f, 0x54, 0x42, 1, 1, 0, 0, 4, 3, 2, 1]);
    // Slot 0 at 12: state 5 (rejected), trials 2, no digest flags.
    deepEqual(Array.from(bytes.subarray(12, 16)), [5, 2, 0, 0]);
    // Slot 1 at 212: state 4, md5 flag (2) only, size, crc, session, md5 bytes.
    deepEqual(
      Array.from(bytes.subarray(212, 228)),
      [4, 0, 2, 0, 0x0b, 0x5a, 0, 0, 0xfe, 0xff, 0xff, 0xff, 9, 0, 0, 0],
    );
    deepEqual(Array.from(bytes.subarray(228, 232)), [0x00, 0xff, 0x00, 0xff]);
    deepEqual(Array.from(bytes.subarray(244, 248)), [0, 0, 0, 0], "no SHA-256: zeros");
    deepEqual(Array.from(bytes.subarray(276, 280)), [3, 0x61, 0x70, 0x70], "component: length, then bytes");
    deepEqual(decodeRecord(bytes, SLOT)?.slots[1].md5, "00ff".repeat(8));
  });

  it("clamps trials to a byte, cuts long texts, and stores non-printable characters as ?", () => {
    const record: BootRecord = {
      seq: 1,
      confirmedSlot: 0,
      slots: [
        confirmed({
          trialsLeft: 300,
          component: "c".repeat(33),
          version: "v".repeat(65),
          reason: "r".repeat(38),
        }),
        { ...emptySlot(), trialsLeft: -3, component: "a\u001fb\u0020c\u007ed\u007fe\u00e9", version: "1" },
      ],
    };
    const back = decodeRecord(encoded(record), SLOT)!;
    deepEqual(
      [back.slots[0].trialsLeft, back.slots[0].component, back.slots[0].version, back.slots[0].reason],
      [255, "c".repeat(32), "v".repeat(64), "r".repeat(37)],
    );
    deepEqual([back.slots[1].trialsLeft, back.slots[1].component], [0, "a?b c~d?e?"]);
  });

  it("keeps a digest only when it has the full number of hex digits", () => {
    const record: BootRecord = {
      seq: 1,
      confirmedSlot: 0,
      slots: [
        confirmed({ md5: "a".repeat(31), sha256: "b".repeat(64) }),
        { ...emptySlot(), md5: "c".repeat(32), sha256: "d".repeat(63) },
      ],
    };
    const back = decodeRecord(encoded(record), SLOT)!;
    deepEqual(
      [back.slots[0].md5, back.slots[0].sha256, back.slots[1].md5, back.slots[1].sha256],
      ["", "b".repeat(64), "c".repeat(32), ""],
    );
  });

  it("refuses each inconsistent content with a right CRC, and accepts the bounds", () => {
    deepEqual(
      [
        decodeRecord(patched(base, 4, 2), SLOT),
        decodeRecord(patched(base, 5, 2), SLOT),
        decodeRecord(patched(base, 12, 6), SLOT),
        decodeRecord(patched(base, 212, 6), SLOT),
        decodeRecord(patched(base, 12 + 64, 33), SLOT),
        decodeRecord(patched(base, 12 + 97, 65), SLOT),
        decodeRecord(patched(base, 12 + 162, 38), SLOT),
        decodeRecord(patched(base, 212 + 162, 38), SLOT),
        decodeRecord(patched(base, 12, 0), SLOT),
      ].map((r) => r === undefined),
      [true, true, true, true, true, true, true, true, true],
    );
    ok(decodeRecord(patched(base, 12 + 64, 32), SLOT), "a component length of 32 is fine");
    ok(decodeRecord(patched(base, 12 + 97, 64), SLOT));
    ok(decodeRecord(patched(base, 12 + 162, 37), SLOT));
    const full = { ...base, slots: [confirmed({ size: SLOT }), emptySlot()] as [SlotRecord, SlotRecord] };
    equal(decodeRecord(encoded(full), SLOT)?.slots[0].size, SLOT);
    equal(decodeRecord(encoded(full), SLOT - 1), undefined);
    const second = {
      ...base,
      confirmedSlot: 1,
      slots: [emptySlot(), confirmed()] as [SlotRecord, SlotRecord],
    };
    equal(decodeRecord(encoded(second), SLOT)?.confirmedSlot, 1);
    equal(decodeRecord(patched(second, 212, 0), SLOT), undefined, "the named slot is not confirmed");
  });

  it("places a seal in the last bytes of a slot and fits an image only if it ends before them", () => {
    const flash = new SimNorFlash({ size: 16 * 4096, blockLength: 4096, writeAlign: 8 });
    const layout = planLayout(flash.status());
    equal(sealOffset(layout, 0), 6 * 4096 - 256);
    equal(sealOffset(layout, 1), 12 * 4096 - 256);
    deepEqual(
      [sealFits(layout, 6 * 4096 - 256), sealFits(layout, 6 * 4096 - 255), sealFits(layout, 6 * 4096 - 263)],
      [true, false, true],
    );
    const coarse = planLayout({ ...flash.status(), writeAlign: 512 });
    // A 512-byte seal; an image of n bytes takes n rounded up to 512.
    equal(sealOffset(coarse, 0), 6 * 4096 - 512);
    deepEqual([sealFits(coarse, 6 * 4096 - 1023), sealFits(coarse, 6 * 4096 - 511)], [true, false]);
  });

  it("encodes a seal with its padding erased and decodes only a whole seal that names a digest", () => {
    const slot = confirmed({ md5: "1".repeat(32) });
    const bytes = new Uint8Array(288).fill(0x55);
    encodeSeal(slot, bytes, 0xff);
    deepEqual(Array.from(bytes.subarray(0, 5)), [0x53, 0x4f, 0x54, 0x53, 1]);
    deepEqual(Array.from(bytes.subarray(256, 260)), [0xff, 0xff, 0xff, 0xff]);
    equal(bytes[287], 0xff);
    deepEqual(decodeSeal(bytes, SLOT), slot);
    const sha = confirmed({ sha256: "2".repeat(64) });
    encodeSeal(sha, bytes, 0xff);
    deepEqual(decodeSeal(bytes, SLOT), sha);
    encodeSeal(confirmed(), bytes, 0xff);
    equal(decodeSeal(bytes, SLOT), undefined, "no digest: nothing proves the image");
    encodeSeal(slot, bytes, 0xff);
    bytes[4] = 2;
    putU32(bytes, 252, crc32(bytes, 0, 252));
    equal(decodeSeal(bytes, SLOT), undefined, "another format");
    encodeSeal(slot, bytes, 0xff);
    bytes[100]! ^= 1;
    equal(decodeSeal(bytes, SLOT), undefined, "bad CRC");
  });

  it("raises the next seq only upwards, and counts record slots per block", () => {
    const flash = new SimNorFlash({ size: 16 * 4096, blockLength: 4096, writeAlign: 8 });
    const layout = planLayout(flash.status());
    const store = new RecordStore(flash, layout);
    equal(store.perBlock, 8);
    store.raiseSeq(10);
    store.raiseSeq(4);
    equal(store.seq, 10);
    equal(store.commit({ ...base, slots: [confirmed(), emptySlot()] }), 11);
    const coarse = new RecordStore(flash, planLayout({ ...flash.status(), writeAlign: 1024 }));
    equal(coarse.perBlock, 4, "1024-byte record slots");
  });

  it("looks for damage after the newest record in the other block when it filled its block", () => {
    const flash = new SimNorFlash({ size: 16 * 4096, blockLength: 4096, writeAlign: 8 });
    const layout = planLayout(flash.status());
    const store = new RecordStore(flash, layout);
    for (let i = 0; i < 8; i++)
      store.commit({ ...base, slots: [confirmed({ version: `v${i}` }), emptySlot()] });
    const reader = new RecordStore(flash, layout);
    equal(reader.load()?.slots[0].version, "v7");
    equal(reader.newerDamaged, false);
    // Garbage at the start of the other block: the slot after the newest record.
    flash.write(new Uint8Array(8).fill(0x11), layout.records[1].offset);
    const again = new RecordStore(flash, layout);
    equal(again.load()?.slots[0].version, "v7");
    equal(again.newerDamaged, true);
  });

  it("with no valid record and block 0 full of garbage, erases block 0 and starts over there", () => {
    const flash = new SimNorFlash({ size: 16 * 4096, blockLength: 4096, writeAlign: 8 });
    const layout = planLayout(flash.status());
    for (let i = 0; i < 8; i++) flash.write(new Uint8Array(8).fill(0x22), layout.records[0].offset + i * 512);
    const store = new RecordStore(flash, layout);
    equal(store.load(), undefined);
    equal(store.newerDamaged, false);
    const erases = flash.stats.eraseCount;
    equal(store.commit({ ...base }), 1);
    equal(flash.stats.eraseCount, erases + 1);
    equal(new RecordStore(flash, layout).load()?.seq, 1);
    ok(decodeRecord(flash.inspect(layout.records[0].offset, 512), layout.slots[0].length));
  });

  it("with no valid record and a free tail in block 0, writes after the garbage without erasing", () => {
    const flash = new SimNorFlash({ size: 16 * 4096, blockLength: 4096, writeAlign: 8 });
    const layout = planLayout(flash.status());
    flash.write(new Uint8Array(8).fill(0x22), layout.records[0].offset + 512);
    const store = new RecordStore(flash, layout);
    equal(store.load(), undefined);
    const erases = flash.stats.eraseCount;
    store.commit({ ...base });
    equal(flash.stats.eraseCount, erases);
    ok(decodeRecord(flash.inspect(layout.records[0].offset + 1024, 512), layout.slots[0].length));
  });

  it("an empty slot is all zeros and blanks, with the reason given", () => {
    deepEqual(emptySlot(), {
      state: "empty",
      trialsLeft: 0,
      size: 0,
      crc: 0,
      session: 0,
      md5: "",
      sha256: "",
      component: "",
      version: "",
      reason: "",
    });
    equal(emptySlot("why").reason, "why");
  });

  it("refuses a record or seal with another magic even when its CRC is right", () => {
    const bytes = encoded(base);
    bytes[0] = 0x54;
    putU32(bytes, 508, crc32(bytes, 0, 508));
    equal(decodeRecord(bytes, SLOT), undefined);
    const seal = new Uint8Array(256);
    encodeSeal(confirmed({ md5: "1".repeat(32) }), seal, 0xff);
    seal[0] = 0x54;
    putU32(seal, 252, crc32(seal, 0, 252));
    equal(decodeSeal(seal, SLOT), undefined);
  });

  it("after a block switch, the old block's first record is no damage, and a reload appends where the newest is", () => {
    const flash = new SimNorFlash({ size: 16 * 4096, blockLength: 4096, writeAlign: 8 });
    const layout = planLayout(flash.status());
    const store = new RecordStore(flash, layout);
    const commit = (s: RecordStore, v: string) =>
      s.commit({ ...base, slots: [confirmed({ version: v }), emptySlot()] });
    for (let i = 0; i < 16; i++) commit(store, `v${i}`);
    // Block 1 is full and holds the newest; block 0 still holds v0..v7.
    const reader = new RecordStore(flash, layout);
    equal(reader.load()?.slots[0].version, "v15");
    equal(reader.newerDamaged, false, "block 0's first slot holds an older valid record");
    commit(reader, "v16");
    // v16 went to block 0 (erased) slot 0; block 1 keeps v8..v15.
    const again = new RecordStore(flash, layout);
    equal(again.load()?.slots[0].version, "v16");
    commit(again, "v17");
    equal(decodeRecord(flash.inspect(layout.records[0].offset + 512, 512), SLOT)?.slots[0].version, "v17");
    equal(decodeRecord(flash.inspect(layout.records[1].offset, 512), SLOT)?.slots[0].version, "v8");
  });

  it("looks for damage in the other record block even when it does not follow the first", () => {
    const flash = new SimNorFlash({ size: 16 * 4096, blockLength: 4096, writeAlign: 8 });
    const planned = planLayout(flash.status());
    // Records in blocks 13 and 15, the journal between them.
    const layout = {
      ...planned,
      records: [planned.records[0], planned.journal] as [typeof planned.journal, typeof planned.journal],
      journal: planned.records[1],
    };
    const store = new RecordStore(flash, layout);
    for (let i = 0; i < 8; i++)
      store.commit({ ...base, slots: [confirmed({ version: `v${i}` }), emptySlot()] });
    flash.write(new Uint8Array(8).fill(0x11), layout.records[1].offset);
    const reader = new RecordStore(flash, layout);
    equal(reader.load()?.slots[0].version, "v7");
    equal(reader.newerDamaged, true);
  });
});
