// Resume journal: one entry per completed slot sector (an erase block) with its CRC-32, bound to one receive session.
//
// Entry i sits at position i and names sector i; entries are appended only after the sector's bytes are on flash,
// so a valid entry proves the sector was fully written. The entry's check word mixes in a tag of the image
// descriptor, so entries of another image never count. Anything unexpected (a torn entry, entries of an older
// session, garbage from a torn erase) makes the journal dirty: it is then erased and the still-valid prefix is
// rewritten, before any new entry is appended.
import type { FlashPartition } from "../../hal/flash.js";
import { journalCapacity, journalEntryLength, type FlashLayout } from "../flash-format/layout.js";
import { crc32 } from "../flash-format/crc32.js";
import { getU32, putU32 } from "../flash-format/bytes.js";

export class ResumeJournal {
  readonly #flash: FlashPartition;
  readonly #layout: FlashLayout;
  readonly #entryLength: number;
  readonly #capacity: number;
  readonly #entry: Uint8Array;
  /** Next free entry position. */
  #next = 0;
  /** Next journal block to erase while clearing, or -1 when no clear is pending. */
  #eraseNext = -1;
  /** Entries to rewrite once a clear has erased every block (the verified prefix). */
  #keep: Uint32Array;
  #keepCount = 0;
  #session = 0;
  #tag = 0;

  constructor(flash: FlashPartition, layout: FlashLayout) {
    this.#flash = flash;
    this.#layout = layout;
    this.#entryLength = journalEntryLength(layout);
    this.#capacity = journalCapacity(layout, layout.journal.length);
    this.#entry = new Uint8Array(this.#entryLength);
    this.#keep = new Uint32Array(this.#capacity);
  }

  /** Entries the journal can hold (at least the sectors of one slot). */
  get capacity(): number {
    return this.#capacity;
  }

  /** Entries currently appended for this session. */
  get length(): number {
    return this.#eraseNext >= 0 ? 0 : this.#next;
  }

  /** True while a clear is pending: blocks still to erase, prefix entries still to rewrite. */
  get needsErase(): boolean {
    return this.#eraseNext >= 0;
  }

  #encode(sector: number, crc: number): void {
    const entry = this.#entry;
    entry.fill(this.#layout.eraseValue);
    putU32(entry, 0, this.#session);
    putU32(entry, 4, sector);
    putU32(entry, 8, crc);
    putU32(entry, 12, (crc32(entry, 0, 12) ^ this.#tag) >>> 0);
  }

  #position(index: number): number {
    return this.#layout.journal.offset + index * this.#entryLength;
  }

  /**
   * Reads the entries of `session` (with descriptor tag `tag`): fills `crcs` with the sector CRCs of the
   * unbroken run from sector 0 and returns its length. Sets the journal up to append after that run, or to
   * be cleared first when anything else is on flash (call `keep()` to say how many of the run survive).
   */
  scan(session: number, tag: number, maxSectors: number, crcs: Uint32Array): number {
    this.#session = session;
    this.#tag = tag >>> 0;
    const entry = this.#entry;
    const erased = this.#layout.eraseValue;
    let run = 0;
    let dirty = false;
    for (let index = 0; index < this.#capacity; index++) {
      this.#flash.read(entry, this.#position(index));
      let blank = true;
      for (let i = 0; i < entry.length; i++) if (entry[i] !== erased) blank = false;
      if (blank) continue;
      const valid =
        index === run &&
        run < maxSectors &&
        getU32(entry, 0) === session &&
        getU32(entry, 4) === index &&
        getU32(entry, 12) === (crc32(entry, 0, 12) ^ this.#tag) >>> 0;
      if (valid && !dirty) {
        crcs[run] = getU32(entry, 8);
        run++;
      } else {
        dirty = true;
      }
    }
    this.#next = run;
    this.#eraseNext = dirty ? 0 : -1;
    if (dirty) {
      this.#keep.set(crcs.subarray(0, run));
      this.#keepCount = run;
    }
    return run;
  }

  /** Keeps only the first `count` entries: anything after them is cleared before the next append. */
  keep(count: number, crcs: Uint32Array): void {
    if (count === this.#next && this.#eraseNext < 0) return;
    for (let i = 0; i < count; i++) this.#keep[i] = crcs[i]!;
    this.#keepCount = count;
    this.#eraseNext = 0;
  }

  /** Starts an empty journal for a new session (the blocks are erased by eraseStep). */
  clear(session: number, tag: number): void {
    this.#session = session;
    this.#tag = tag >>> 0;
    this.#keepCount = 0;
    this.#eraseNext = 0;
  }

  /** Binds an empty journal (no entry, none kept) to another descriptor tag of the same session, keeping its erases. */
  retag(session: number, tag: number): void {
    if ((this.#eraseNext < 0 && this.#next > 0) || this.#keepCount > 0)
      throw new Error("journal: only an empty journal can be bound to another image");
    this.#session = session;
    this.#tag = tag >>> 0;
  }

  /** Erases one journal block of a pending clear; after the last one, rewrites the kept prefix. */
  eraseStep(): boolean {
    if (this.#eraseNext < 0) return false;
    const blockLength = this.#layout.blockLength;
    const first = this.#layout.journal.offset / blockLength;
    const blocks = this.#layout.journal.length / blockLength;
    // Safe to erase: the journal only speeds up a resume; the boot record does not depend on it.
    this.#flash.eraseBlock(first + this.#eraseNext);
    this.#eraseNext++;
    if (this.#eraseNext < blocks) return true;
    this.#eraseNext = -1;
    this.#next = 0;
    for (let i = 0; i < this.#keepCount; i++) this.append(i, this.#keep[i]!);
    this.#keepCount = 0;
    return true;
  }

  /** Records that sector `sector` (the next one) is fully on flash with this CRC. */
  append(sector: number, crc: number): void {
    if (this.#eraseNext >= 0) throw new Error("journal: clear pending, call eraseStep first");
    if (sector !== this.#next) throw new Error(`journal: sector ${sector} appended, expected ${this.#next}`);
    if (this.#next >= this.#capacity) throw new Error(`journal: full at ${this.#capacity} entries`);
    this.#encode(sector, crc);
    // Atomic: this entry alone makes sector `sector` part of the resumable prefix; torn, its check word fails.
    this.#flash.write(this.#entry, this.#position(this.#next));
    this.#next++;
  }
}
