// Flash format edge cases from mutation testing: byte fields at their extremes, the exact message of every layout
// rule, and the bounds where a rule just holds (a record filling its block, regions that touch, the last byte).

import { getU16, getU32, putU16, putU32 } from "../../../src/flash-format/bytes.js";
import { crc32, crc32Update, CRC32_START, crc32Final } from "../../../src/flash-format/crc32.js";
import {
  JOURNAL_ENTRY_BYTES,
  LayoutError,
  RECORD_BYTES,
  SEAL_BYTES,
  journalCapacity,
  journalEntryLength,
  planLayout,
  recordSlotLength,
  sealLength,
  validateLayout,
  type FlashLayout,
} from "../../../src/flash-format/layout.js";
import { deepEqual, equal, ok } from "../../lib/assert.js";

const status4k = { size: 16 * 4096, blockLength: 4096, writeAlign: 4, eraseValue: 0xff };

/** The LayoutError message fn throws ("" when it throws nothing). */
function message(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    ok(error instanceof LayoutError, `not a LayoutError: ${String(error)}`);
    equal(error.name, "LayoutError");
    return error.message;
  }
  return "";
}

function changed(change: (l: FlashLayout) => void): FlashLayout {
  const copy = JSON.parse(JSON.stringify(planLayout(status4k))) as FlashLayout;
  change(copy);
  return copy;
}

describe("src/flash-format edges", () => {
  it("writes and reads little-endian fields with every byte distinct, up to the top bit", () => {
    const b = new Uint8Array(8).fill(0xaa);
    putU32(b, 1, 0x89abcdef);
    deepEqual(Array.from(b), [0xaa, 0xef, 0xcd, 0xab, 0x89, 0xaa, 0xaa, 0xaa]);
    equal(getU32(b, 1), 0x89abcdef);
    putU32(b, 4, 0xffffffff);
    equal(getU32(b, 4), 0xffffffff);
    putU16(b, 0, 0xfedc);
    deepEqual(Array.from(b.subarray(0, 3)), [0xdc, 0xfe, 0xcd]);
    equal(getU16(b, 0), 0xfedc);
    putU32(b, 0, 0x1_0000_0001);
    equal(getU32(b, 0), 1, "only the low 32 bits are stored");
  });

  it("CRC-32 of a sub-range, and the register before finishing", () => {
    const bytes = new Uint8Array([0x00, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0xff]);
    equal(crc32(bytes, 1, 10), 0xcbf43926);
    equal(crc32Update(CRC32_START, bytes, 1, 10), (0xcbf43926 ^ 0xffffffff) >>> 0);
    equal(crc32Final(0), 0xffffffff);
    equal(crc32(new Uint8Array([0])), 0xd202ef8d);
  });

  it("rounds record, seal and journal entry lengths up to the write alignment", () => {
    deepEqual([RECORD_BYTES, SEAL_BYTES, JOURNAL_ENTRY_BYTES], [512, 256, 16]);
    deepEqual(
      [
        recordSlotLength({ writeAlign: 1 }),
        sealLength({ writeAlign: 1 }),
        journalEntryLength({ writeAlign: 1 }),
      ],
      [512, 256, 16],
    );
    deepEqual(
      [
        recordSlotLength({ writeAlign: 48 }),
        sealLength({ writeAlign: 48 }),
        journalEntryLength({ writeAlign: 48 }),
      ],
      [528, 288, 48],
    );
    equal(journalCapacity({ writeAlign: 1 }, 4096), 256);
    equal(journalCapacity({ writeAlign: 48 }, 4096), 85);
  });

  it("names each broken geometry rule", () => {
    const cases: [object, string][] = [
      [{ blockLength: 0 }, "blockLength 0 is not a positive integer"],
      [{ blockLength: 4096.5 }, "blockLength 4096.5 is not a positive integer"],
      [{ writeAlign: 0 }, "writeAlign 0 is not a positive integer"],
      [{ writeAlign: -4 }, "writeAlign -4 is not a positive integer"],
      [{ writeAlign: 3 }, "blockLength 4096 is not a multiple of writeAlign 3"],
      [{ size: 0 }, "partition size 0 is not a whole number of 4096-byte blocks"],
      [{ size: 4096 * 16 + 4 }, "partition size 65540 is not a whole number of 4096-byte blocks"],
      [{ eraseValue: -1 }, "eraseValue -1 is not a byte"],
      [{ eraseValue: 256 }, "eraseValue 256 is not a byte"],
      [{ eraseValue: 0.5 }, "eraseValue 0.5 is not a byte"],
      [
        { blockLength: 256, writeAlign: 1, size: 256 * 64 },
        "a 256-byte block cannot hold one 512-byte boot record",
      ],
      [{ blockLength: 512, writeAlign: 8, size: 512 * 64 }, ""],
      [{ blockLength: 512, writeAlign: 256, size: 512 * 64 }, ""],
      [{ eraseValue: 0 }, ""],
      [{ eraseValue: 255 }, ""],
    ];
    deepEqual(
      cases.map(([change]) => message(() => planLayout({ ...status4k, ...change }))),
      cases.map(([, text]) => text),
    );
  });

  it("plans the smallest partition that holds everything, and refuses one block less", () => {
    // 2 records + 1 journal + 2 slots of 1 block.
    const smallest = planLayout({ ...status4k, size: 5 * 4096 });
    deepEqual(smallest.slots, [
      { offset: 0, length: 4096 },
      { offset: 4096, length: 4096 },
    ]);
    deepEqual(smallest.records, [
      { offset: 2 * 4096, length: 4096 },
      { offset: 3 * 4096, length: 4096 },
    ]);
    deepEqual(smallest.journal, { offset: 4 * 4096, length: 4096 });
    equal(
      message(() => planLayout({ ...status4k, size: 4 * 4096 })),
      "a partition of 4 blocks cannot hold 2 record blocks, a journal and two slots",
    );
    equal(
      message(() => planLayout(status4k, { slotLength: 6 * 4096 + 1 })),
      "slots of 7 blocks do not fit: at most 6 blocks each in 16 blocks",
    );
    equal(planLayout(status4k, { slotLength: 6 * 4096 }).slots[1].offset, 6 * 4096);
    deepEqual(planLayout(status4k, { slotLength: 1 }).slots, [
      { offset: 0, length: 4096 },
      { offset: 4096, length: 4096 },
    ]);
  });

  it("grows the journal exactly when a slot has more blocks than its entries", () => {
    // 512-byte blocks and 16-byte entries: 32 entries per journal block.
    const geometry = { blockLength: 512, writeAlign: 16, eraseValue: 0xff };
    const fits = planLayout({ ...geometry, size: (2 + 1 + 64) * 512 });
    deepEqual([fits.journal.length / 512, fits.slots[0].length / 512], [1, 32]);
    const grows = planLayout({ ...geometry, size: (2 + 1 + 66) * 512 });
    deepEqual([grows.journal.length / 512, grows.slots[0].length / 512], [2, 32]);
  });

  it("names each broken layout rule, and accepts regions that only touch", () => {
    const cases: [(l: FlashLayout) => void, string][] = [
      [(l) => (l.size = 8192), "layout size 8192 differs from the flash's 65536"],
      [(l) => (l.blockLength = 512), "layout blockLength 512 differs from the flash's 4096"],
      [(l) => (l.eraseValue = 0), "layout eraseValue 0 differs from the flash's 255"],
      [(l) => (l.journal.offset = 0.5), "journal is not a region"],
      [(l) => (l.journal.length = Number.NaN), "journal is not a region"],
      [(l) => ((l as { journal?: unknown }).journal = undefined), "journal is not a region"],
      [
        (l) => (l.slots[0].length = 4096 * 6 + 1),
        "slots[0] (offset 0, length 24577) is not block-aligned to 4096",
      ],
      [(l) => (l.slots[0].length = 0), "slots[0] is empty"],
      [(l) => (l.slots[0].length = -4096), "slots[0] is empty"],
      [
        (l) => (l.records[0].offset = -4096),
        "records[0] (offset -4096, length 4096) lies outside the 65536-byte partition",
      ],
      [
        (l) => (l.journal.offset = 16 * 4096),
        "journal (offset 65536, length 4096) lies outside the 65536-byte partition",
      ],
      [(l) => (l.slots[1].offset = 5 * 4096), "slots[0] overlaps slots[1]"],
      [(l) => (l.records[1].offset = 13 * 4096), "records[0] overlaps records[1]"],
      [(l) => (l.journal.offset = 11 * 4096), "journal overlaps slots[1]"],
      [
        (l) => {
          l.records[0] = { offset: 12 * 4096, length: 8192 };
          l.slots[1].length = 5 * 4096;
          l.slots[0].length = 5 * 4096;
          l.slots[1].offset = 5 * 4096;
        },
        "each record region must be exactly one block",
      ],
      [
        (l) => {
          l.journal.offset = 12 * 4096;
          l.records[1] = { offset: 14 * 4096, length: 8192 };
        },
        "each record region must be exactly one block",
      ],
      [(l) => (l.slots[1].length = 5 * 4096), "the two slots differ in length"],
    ];
    deepEqual(
      cases.map(([change]) => message(() => validateLayout(changed(change), status4k))),
      cases.map(([, text]) => text),
    );
    // The journal at the very end, the slots touching each other and the records: valid.
    equal(
      message(() => validateLayout(planLayout(status4k), status4k)),
      "",
    );
  });

  it("names a journal too small for a slot's blocks", () => {
    // 512-byte blocks, 16-byte entries: one journal block holds 32 entries.
    const status = { size: 70 * 512, blockLength: 512, writeAlign: 16, eraseValue: 0xff };
    const withSlots = (blocks: number): FlashLayout => ({
      ...status,
      records: [
        { offset: 0, length: 512 },
        { offset: 512, length: 512 },
      ],
      journal: { offset: 1024, length: 512 },
      slots: [
        { offset: 1536, length: blocks * 512 },
        { offset: 1536 + blocks * 512, length: blocks * 512 },
      ],
    });
    equal(
      message(() => validateLayout(withSlots(33), status)),
      "the journal holds 32 entries but a slot has 33 blocks",
    );
    equal(
      message(() => validateLayout(withSlots(32), status)),
      "",
    );
  });
});
