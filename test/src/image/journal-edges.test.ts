// The resume journal's retag() (portable): only an empty journal (no entry, none kept) takes another image's tag,
// and the entries appended after it count for that tag only.
import { SimNorFlash } from "../../../hal/sim/nor-flash.js";
import { planLayout } from "../../../src/flash-format/layout.js";
import { ResumeJournal } from "../../../src/image/journal.js";
import { deepEqual, equal, ok } from "../../lib/assert.js";

const SESSION = 7;
const TAG = 0xc0ffee11;
const OTHER = 0x12345678;

function setup() {
  const flash = new SimNorFlash({ size: 12 * 4096, blockLength: 4096, writeAlign: 4 });
  const layout = planLayout(flash.status());
  return { flash, layout, journal: new ResumeJournal(flash, layout) };
}

function scan(journal: ResumeJournal, tag: number): number[] {
  const crcs = new Uint32Array(8);
  return Array.from(crcs.subarray(0, journal.scan(SESSION, tag, 8, crcs)));
}

function refused(fn: () => void): string {
  try {
    fn();
  } catch (error) {
    return (error as Error).message;
  }
  return "no error";
}

const REFUSAL = "journal: only an empty journal can be bound to another image";

describe("src/image/journal retag", () => {
  it("binds an empty journal to another tag, before or after its clear: later entries carry the new tag", () => {
    for (const clearFirst of [false, true]) {
      const { flash, layout, journal } = setup();
      journal.clear(SESSION, TAG);
      if (clearFirst) while (journal.eraseStep());
      journal.retag(SESSION, OTHER);
      while (journal.eraseStep());
      journal.append(0, 0xaaaa);
      deepEqual(scan(new ResumeJournal(flash, layout), OTHER), [0xaaaa]);
      deepEqual(scan(new ResumeJournal(flash, layout), TAG), []);
    }
  });

  it("a clear pending over old entries is empty: it may be retagged", () => {
    const { flash, layout, journal } = setup();
    journal.clear(SESSION, TAG);
    while (journal.eraseStep());
    journal.append(0, 1);
    journal.append(1, 2);
    journal.clear(SESSION, TAG);
    equal(journal.needsErase, true);
    journal.retag(SESSION, OTHER);
    while (journal.eraseStep());
    journal.append(0, 3);
    deepEqual(scan(new ResumeJournal(flash, layout), OTHER), [3]);
  });

  it("refuses with entries appended, and with a kept prefix waiting to be rewritten", () => {
    const { flash, layout, journal } = setup();
    journal.clear(SESSION, TAG);
    while (journal.eraseStep());
    journal.append(0, 1);
    equal(
      refused(() => journal.retag(SESSION, OTHER)),
      REFUSAL,
    );
    // Found on flash by a scan: the same.
    const found = new ResumeJournal(flash, layout);
    deepEqual(scan(found, TAG), [1]);
    equal(found.needsErase, false);
    equal(
      refused(() => found.retag(SESSION, OTHER)),
      REFUSAL,
    );
    // A dirty journal (entries of another tag after the run) keeps its run through the clear: not empty either.
    journal.append(1, 2);
    const kept = new ResumeJournal(flash, layout);
    const crcs = new Uint32Array(8);
    equal(kept.scan(SESSION, TAG, 1, crcs), 1);
    ok(kept.needsErase);
    equal(
      refused(() => kept.retag(SESSION, OTHER)),
      REFUSAL,
    );
    kept.keep(1, crcs);
    equal(
      refused(() => kept.retag(SESSION, OTHER)),
      REFUSAL,
    );
  });
});
