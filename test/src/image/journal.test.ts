// The resume journal on its own: which entries count (this session, this image, an unbroken run from sector 0),
// and how anything else is cleared while the verified prefix survives. Portable (runs in the XS lane too).
import { SimNorFlash } from "../../../hal/sim/nor-flash.js";
import { planLayout, type FlashLayout } from "../../../src/flash-format/layout.js";
import { putU32 } from "../../../src/flash-format/bytes.js";
import { crc32 } from "../../../src/flash-format/crc32.js";
import { ResumeJournal } from "../../../src/image/journal.js";
import { deepEqual, equal, ok, throws } from "../../lib/assert.js";

const SESSION = 7;
const TAG = 0xc0ffee11;
const CRCS = [0x11111111, 0x22222222, 0x33333333, 0x44444444, 0x55555555];

function setup(writeAlign = 4): { flash: SimNorFlash; layout: FlashLayout; journal: ResumeJournal } {
  const flash = new SimNorFlash({ size: 12 * 4096, blockLength: 4096, writeAlign });
  const layout = planLayout(flash.status());
  return { flash, layout, journal: new ResumeJournal(flash, layout) };
}

/** A journal of `count` entries of SESSION/TAG, written through a fresh clear. */
function written(count: number, writeAlign = 4) {
  const parts = setup(writeAlign);
  parts.journal.clear(SESSION, TAG);
  while (parts.journal.eraseStep());
  for (let i = 0; i < count; i++) parts.journal.append(i, CRCS[i]!);
  return parts;
}

function scan(journal: ResumeJournal, session = SESSION, tag = TAG, maxSectors = 8): number[] {
  const crcs = new Uint32Array(8);
  const run = journal.scan(session, tag, maxSectors, crcs);
  return Array.from(crcs.subarray(0, run));
}

/** A copy of the flash with one byte of entry `index` flipped (as a torn write or bit rot would leave it). */
function damaged(flash: SimNorFlash, layout: FlashLayout, index: number, byte: number): SimNorFlash {
  const image = flash.snapshot();
  image[layout.journal.offset + index * 16 + byte]! ^= 0x01;
  return new SimNorFlash({ ...flash.status(), initial: image });
}

describe("src/image/journal", () => {
  it("reads back the run it appended, entry i naming sector i, for the same session and image", () => {
    const { flash, layout } = written(3);
    const again = new ResumeJournal(flash, layout);
    deepEqual(scan(again), CRCS.slice(0, 3));
    equal(again.length, 3);
    equal(again.needsErase, false, "a clean run needs no clear");
    again.append(3, CRCS[3]!);
    deepEqual(scan(new ResumeJournal(flash, layout)), CRCS.slice(0, 4));
  });

  it("never counts entries of another download (session) or another image (tag), and clears them", () => {
    for (const [session, tag] of [
      [SESSION + 1, TAG],
      [SESSION, TAG ^ 1],
    ] as const) {
      const { flash, layout } = written(3);
      const other = new ResumeJournal(flash, layout);
      deepEqual(scan(other, session, tag), [], `session ${session}, tag ${tag.toString(16)}`);
      equal(other.length, 0);
      ok(other.needsErase, "foreign entries make the journal dirty");
      throws(() => other.append(0, 1), /clear pending/);
      while (other.eraseStep());
      equal(other.needsErase, false);
      deepEqual(scan(new ResumeJournal(flash, layout), SESSION, TAG), [], "the foreign entries are gone");
    }
  });

  it("stops the run at an entry with a bad check word, then keeps the prefix before it through the clear", () => {
    for (const byte of [0, 4, 8, 12, 15]) {
      const written4 = written(4);
      const layout = written4.layout;
      const flash = damaged(written4.flash, layout, 2, byte);
      const journal = new ResumeJournal(flash, layout);
      deepEqual(scan(journal), CRCS.slice(0, 2), `byte ${byte} of entry 2`);
      ok(journal.needsErase, "the bad entry and what follows are cleared");
      equal(journal.length, 0, "nothing to append to while the clear is pending");
      let steps = 0;
      while (journal.eraseStep()) steps++;
      equal(steps, layout.journal.length / layout.blockLength, "one step per journal block");
      equal(journal.length, 2, "the prefix is rewritten after the last erase");
      journal.append(2, CRCS[2]!);
      deepEqual(scan(new ResumeJournal(flash, layout)), CRCS.slice(0, 3));
    }
  });

  it("takes only an unbroken run from sector 0, within maxSectors", () => {
    const { flash, layout } = written(4);
    const limited = new ResumeJournal(flash, layout);
    deepEqual(scan(limited, SESSION, TAG, 2), CRCS.slice(0, 2));
    ok(limited.needsErase, "entries past the image's sectors are cleared");
    const journal = new ResumeJournal(damaged(flash, layout, 0, 12), layout);
    deepEqual(scan(journal), [], "a bad entry 0 leaves no run");
    ok(journal.needsErase);
  });

  it("does not count an entry whose sector is not its position, even with a valid check word", () => {
    const { flash, layout } = written(1);
    // Entry 1 claims sector 5: well formed and checked, but out of place (a journal of another layout).
    const entry = new Uint8Array(16).fill(0xff);
    putU32(entry, 0, SESSION);
    putU32(entry, 4, 5);
    putU32(entry, 8, CRCS[1]!);
    putU32(entry, 12, (crc32(entry, 0, 12) ^ TAG) >>> 0);
    flash.write(entry, layout.journal.offset + 16);
    const journal = new ResumeJournal(flash, layout);
    deepEqual(scan(journal), CRCS.slice(0, 1));
    ok(journal.needsErase);
  });

  it("starts idle: nothing to erase and no entries before the first scan or clear", () => {
    const { journal } = setup();
    equal(journal.needsErase, false);
    equal(journal.length, 0);
    equal(journal.eraseStep(), false);
  });

  it("stops the run at a gap: an entry after a blank position does not count, however well formed", () => {
    const { flash, layout } = written(2);
    const entry = new Uint8Array(16).fill(0xff);
    putU32(entry, 0, SESSION);
    putU32(entry, 4, 3);
    putU32(entry, 8, CRCS[3]!);
    putU32(entry, 12, (crc32(entry, 0, 12) ^ TAG) >>> 0);
    flash.write(entry, layout.journal.offset + 3 * 16);
    const journal = new ResumeJournal(flash, layout);
    deepEqual(scan(journal), CRCS.slice(0, 2));
    ok(journal.needsErase, "the stray entry is cleared");
  });

  it("clears a journal of several blocks block by block, then rewrites the kept prefix", () => {
    // 1 KiB blocks and 64-byte entries: 16 entries per block, so 20-block slots need a 2-block journal.
    const flash = new SimNorFlash({ size: 44 * 1024, blockLength: 1024, writeAlign: 64 });
    const layout = planLayout(flash.status());
    equal(layout.journal.length, 2 * 1024, "a two-block journal");
    const journal = new ResumeJournal(flash, layout);
    journal.clear(SESSION, TAG);
    while (journal.eraseStep());
    const crcs = Uint32Array.from({ length: 20 }, (_, i) => 0x1000 + i);
    for (let i = 0; i < 20; i++) journal.append(i, crcs[i]!);
    journal.keep(3, crcs);
    const before = flash.stats.erases.slice();
    equal(journal.eraseStep(), true);
    equal(journal.length, 0, "still clearing after the first block");
    equal(journal.eraseStep(), true);
    equal(journal.eraseStep(), false, "two blocks, two steps");
    const first = layout.journal.offset / layout.blockLength;
    deepEqual(
      [
        flash.stats.erases[first]! - (before[first] ?? 0),
        flash.stats.erases[first + 1]! - (before[first + 1] ?? 0),
      ],
      [1, 1],
      "each journal block erased once",
    );
    const again = new Uint32Array(20);
    const reread = new ResumeJournal(flash, layout);
    equal(reread.scan(SESSION, TAG, 20, again), 3);
    deepEqual(Array.from(again.subarray(0, 3)), [0x1000, 0x1001, 0x1002]);
    equal(reread.needsErase, false, "nothing of the old entries 3..19 is left");
  });

  it("keep() truncates the run: the rest is cleared before the next append", () => {
    const { flash, layout, journal } = written(4);
    const crcs = Uint32Array.from(CRCS);
    journal.keep(4, crcs);
    equal(journal.needsErase, false, "keeping the whole run changes nothing");
    journal.keep(1, crcs);
    ok(journal.needsErase);
    while (journal.eraseStep());
    deepEqual(scan(new ResumeJournal(flash, layout)), CRCS.slice(0, 1));
  });

  it("refuses an append out of order, during a clear, or past its capacity", () => {
    const { journal } = written(2);
    throws(() => journal.append(3, 0), /sector 3 appended, expected 2/);
    throws(() => journal.append(1, 0), /sector 1 appended, expected 2/);
    journal.clear(SESSION + 1, TAG);
    throws(() => journal.append(0, 0), /clear pending, call eraseStep first/);
    while (journal.eraseStep());
    equal(journal.eraseStep(), false, "nothing left to erase");
    for (let i = 0; i < journal.capacity; i++) journal.append(i, i);
    throws(() => journal.append(journal.capacity, 0), new RegExp(`full at ${journal.capacity} entries`));
  });

  it("lays entries out as session, sector, CRC and a check word mixing in the image tag, padded to the write unit", () => {
    const { flash, layout } = written(2, 32);
    const entry = new Uint8Array(32);
    flash.read(entry, layout.journal.offset + 32);
    const word = (at: number) =>
      (entry[at]! | (entry[at + 1]! << 8) | (entry[at + 2]! << 16) | (entry[at + 3]! << 24)) >>> 0;
    deepEqual([word(0), word(4), word(8)], [SESSION, 1, CRCS[1]!]);
    ok(
      entry.subarray(16).every((b) => b === 0xff),
      "padding keeps the erase value",
    );
    deepEqual(scan(new ResumeJournal(flash, layout)), CRCS.slice(0, 2));
  });
});
