// Layout planning and validation: exact regions and a clear error for each broken rule (portable).
import { deepEqual, equal, ok, throws } from "../../lib/assert.js";
import {
  LayoutError,
  planLayout,
  validateLayout,
  type FlashLayout,
} from "../../../src/flash-format/layout.js";

const status4k = { size: 16 * 4096, blockLength: 4096, writeAlign: 4, eraseValue: 0xff };

describe("src/flash-format/layout", () => {
  it("puts records and journal last and splits the rest into two equal slots", () => {
    const layout = planLayout(status4k);
    deepEqual(layout.records, [
      { offset: 13 * 4096, length: 4096 },
      { offset: 14 * 4096, length: 4096 },
    ]);
    deepEqual(layout.journal, { offset: 15 * 4096, length: 4096 });
    deepEqual(layout.slots, [
      { offset: 0, length: 6 * 4096 },
      { offset: 6 * 4096, length: 6 * 4096 },
    ]);
  });

  it("puts the metadata first when asked, and honours a slot length", () => {
    const layout = planLayout(status4k, { metadata: "first", slotLength: 3 * 4096 - 100 });
    deepEqual(layout.records[0], { offset: 0, length: 4096 });
    deepEqual(layout.journal, { offset: 2 * 4096, length: 4096 });
    deepEqual(layout.slots, [
      { offset: 3 * 4096, length: 3 * 4096 },
      { offset: 6 * 4096, length: 3 * 4096 },
    ]);
  });

  it("grows the journal when one block cannot hold an entry per slot block", () => {
    // 16-byte entries: one 512-byte block holds 32; slots of ~500 blocks need 16 journal blocks.
    const layout = planLayout({ size: 1024 * 512, blockLength: 512, writeAlign: 1, eraseValue: 0xff });
    equal(layout.journal.length / 512, 16);
    ok(layout.slots[0].length / 512 <= layout.journal.length / 16);
    equal(layout.slots[0].length / 512, 503);
  });

  it("rejects geometries and layouts that break a rule, naming it", () => {
    throws(() => planLayout({ ...status4k, size: 4 * 4096 }), /cannot hold/);
    throws(
      () => planLayout({ ...status4k, blockLength: 4096, writeAlign: 3 }),
      /not a multiple of writeAlign/,
    );
    throws(() => planLayout({ ...status4k, size: 4096 * 3 + 5 }), /whole number/);
    throws(
      () => planLayout({ size: 8 * 256, blockLength: 256, writeAlign: 1, eraseValue: 0xff }),
      /cannot hold one 512-byte boot record/,
    );
    throws(() => planLayout(status4k, { slotLength: 10 * 4096 }), /do not fit/);
    const good = planLayout(status4k);
    const broken = (change: (l: FlashLayout) => void): FlashLayout => {
      const copy = JSON.parse(JSON.stringify(good)) as FlashLayout;
      change(copy);
      return copy;
    };
    throws(
      () =>
        validateLayout(
          broken((l) => (l.slots[1].offset = 5 * 4096)),
          status4k,
        ),
      /overlaps/,
    );
    throws(
      () =>
        validateLayout(
          broken((l) => (l.slots[1].offset += 100)),
          status4k,
        ),
      /not block-aligned/,
    );
    throws(
      () =>
        validateLayout(
          broken((l) => (l.slots[1].length -= 4096)),
          status4k,
        ),
      /differ in length/,
    );
    throws(
      () =>
        validateLayout(
          broken((l) => (l.journal.offset = 16 * 4096)),
          status4k,
        ),
      /outside/,
    );
    throws(
      () =>
        validateLayout(
          broken((l) => (l.records[0].length = 8192)),
          status4k,
        ),
      /overlaps|exactly one block/,
    );
    throws(() => validateLayout(good, { ...status4k, writeAlign: 16 }), /writeAlign 4 differs/);
    throws(() => validateLayout(good, { ...status4k, writeAlign: 16 }), LayoutError);
  });
});
