// Flash areas of data and mod components: a window on a partition, the whole-area copy that backs up and
// restores, and the receiver that writes a download in place, a sector at a time, streaming its digests.

import { checkAccessRange, checkEraseRange, checkWriteRange } from "../../hal/flash.js";
import type { FlashPartition, FlashStatus } from "../../hal/flash.js";
import { toHex } from "../../hal/digest.js";
import type { Digest, DigestFactory } from "../../hal/digest.js";
import type { ImageDescriptor, ImageReceiver, VerifyResult } from "../image/types.js";
import type { KeyValueStore } from "../../hal/kv.js";
import { descriptorTag } from "../image/receiver.js";
import { CRC32_START, crc32Final, crc32Update } from "../flash-format/crc32.js";

/** Blocks [first, first + count) of a partition, seen as a partition of their own. */
export class FlashWindow implements FlashPartition {
  readonly #flash: FlashPartition;
  readonly #first: number;
  readonly #status: FlashStatus;

  constructor(flash: FlashPartition, firstBlock: number, blockCount: number) {
    const outer = flash.status();
    if (firstBlock < 0 || blockCount < 1 || (firstBlock + blockCount) * outer.blockLength > outer.size)
      throw new RangeError(`window of ${blockCount} blocks at block ${firstBlock} outside the partition`);
    this.#flash = flash;
    this.#first = firstBlock;
    this.#status = { ...outer, size: blockCount * outer.blockLength };
  }

  status(): FlashStatus {
    return this.#status;
  }

  eraseBlock(start: number, end = start + 1): void {
    checkEraseRange(this.#status, start, end);
    this.#flash.eraseBlock(this.#first + start, this.#first + end);
  }

  read(into: Uint8Array, offset: number): void {
    checkAccessRange(this.#status, offset, into.length, "read");
    this.#flash.read(into, this.#first * this.#status.blockLength + offset);
  }

  write(bytes: Uint8Array, offset: number): void {
    checkWriteRange(this.#status, offset, bytes.length);
    this.#flash.write(bytes, this.#first * this.#status.blockLength + offset);
  }
}

/**
 * Copies the whole of `from` over `to`, a sector at a time through `scratch` (one block long). Idempotent: a copy
 * cut by a power loss is simply done again from the start, since `from` is never written here.
 */
export function copyArea(from: FlashPartition, to: FlashPartition, scratch: Uint8Array): void {
  const { size, blockLength } = from.status();
  if (scratch.length !== blockLength) throw new RangeError("scratch must be one block long");
  for (let block = 0; block < size / blockLength; block++) {
    from.read(scratch, block * blockLength);
    to.eraseBlock(block);
    to.write(scratch, block * blockLength);
  }
}

/** SHA-256 of the first `length` bytes of an area (for checks and for `sota-device status`). */
export function areaSha256(area: FlashPartition, length: number, digests: DigestFactory): string {
  const { blockLength } = area.status();
  const digest = digests.create("SHA256");
  const buffer = new Uint8Array(blockLength);
  for (let at = 0; at < length; at += blockLength) {
    const view = at + blockLength <= length ? buffer : buffer.subarray(0, length - at);
    area.read(view, at);
    digest.write(view);
  }
  return toHex(digest.close());
}

/**
 * A data or mod area's resume journal: one key-value record per component, `tag:sectors:crc` (the descriptor's tag,
 * the whole sectors on flash, the CRC-32 of those bytes). It is written after each sector's bytes are on flash, so
 * the record alone proves that prefix; an area has no spare block for a flash journal like a slot's.
 */
export class AreaJournal {
  readonly #kv: KeyValueStore;
  readonly #key: string;

  constructor(kv: KeyValueStore, id: string) {
    this.#kv = kv;
    this.#key = `sota.comp.j.${id}`;
  }

  /** The sectors journaled for the download with this tag, and their CRC (0 sectors when none or another's). */
  load(tag: number): { sectors: number; crc: number } {
    const parts = (this.#kv.get(this.#key) ?? "").split(":");
    const sectors = Number(parts[1]);
    if (
      parts.length !== 3 ||
      parseInt(parts[0]!, 16) !== tag >>> 0 ||
      !Number.isInteger(sectors) ||
      sectors < 0
    )
      return { sectors: 0, crc: 0 };
    return { sectors, crc: parseInt(parts[2]!, 16) >>> 0 };
  }

  save(tag: number, sectors: number, crc: number): void {
    // Atomic: this one record makes `sectors` sectors the resumable prefix; a cut leaves the previous count.
    this.#kv.set(this.#key, `${(tag >>> 0).toString(16)}:${sectors}:${(crc >>> 0).toString(16)}`);
  }

  clear(): void {
    this.#kv.delete(this.#key);
  }
}

/**
 * Receives a data or mod download into its area, in order: bytes gather in one sector buffer, each full sector
 * is written once (its block erased first if erasing ahead has not), and the digests see each sector as it goes.
 * Nothing is allocated per block. Each written sector is journaled (AreaJournal), so after an MCU reset the same
 * download resumes after its verified prefix, which is re-read once for the digests and checked by its CRC.
 */
export class AreaReceiver implements ImageReceiver {
  readonly descriptor: ImageDescriptor;
  readonly #area: FlashPartition;
  readonly #status: FlashStatus;
  readonly #sector: Uint8Array;
  readonly #md5: Digest;
  readonly #sha256: Digest;
  readonly #journal: AreaJournal | undefined;
  readonly #tag: number;
  #received = 0;
  #fill = 0;
  #erased = 0;
  /** The area block the sector buffer belongs to. */
  #sectorIndex = 0;
  /** CRC-32 register over every byte of the journaled sectors. */
  #crc = CRC32_START;

  constructor(
    area: FlashPartition,
    descriptor: ImageDescriptor,
    digests: DigestFactory,
    journal?: AreaJournal,
  ) {
    this.#area = area;
    this.#status = area.status();
    if (descriptor.size > this.#status.size)
      throw new RangeError(`${descriptor.size} bytes do not fit the ${this.#status.size}-byte area`);
    this.descriptor = descriptor;
    this.#sector = new Uint8Array(this.#status.blockLength);
    this.#md5 = digests.create("MD5");
    this.#sha256 = digests.create("SHA256");
    this.#journal = journal;
    this.#tag = descriptorTag(descriptor);
    if (journal) this.#resume(journal);
  }

  /** Sectors resumed from the journal (0: a fresh download). */
  get resumedSectors(): number {
    return this.#sectorIndex;
  }

  /** Goes on after the journaled prefix if its bytes still match; else starts over with an empty journal. */
  #resume(journal: AreaJournal): void {
    const { sectors, crc } = journal.load(this.#tag);
    const { blockLength } = this.#status;
    const size = this.descriptor.size;
    const end = Math.min(size, sectors * blockLength);
    const sector = this.#sector;
    let register = CRC32_START;
    for (let at = 0; at < end; at += blockLength) {
      const n = Math.min(blockLength, end - at);
      this.#area.read(n === blockLength ? sector : sector.subarray(0, n), at);
      register = crc32Update(register, sector, 0, n);
    }
    if (sectors === 0 || sectors > Math.ceil(size / blockLength) || crc32Final(register) !== crc) {
      // Before the first erase: a stale record must never vouch for sectors this download rewrites.
      journal.clear();
      return;
    }
    // Only a prefix that matched its CRC goes into the digests; its sectors are never erased or written again.
    for (let at = 0; at < end; at += blockLength) {
      const n = Math.min(blockLength, end - at);
      const view = n === blockLength ? sector : sector.subarray(0, n);
      this.#area.read(view, at);
      this.#md5.write(view);
      this.#sha256.write(view);
    }
    this.#crc = register;
    this.#received = end;
    this.#erased = sectors;
    this.#sectorIndex = sectors;
  }

  get received(): number {
    return this.#received;
  }

  needsErase(upTo: number): boolean {
    return this.#erased * this.#status.blockLength < Math.min(upTo, this.descriptor.size);
  }

  eraseStep(upTo: number): boolean {
    if (!this.needsErase(upTo)) return false;
    // Safe: blocks from #erased on are past the journaled prefix, and the backup holds the old contents.
    this.#area.eraseBlock(this.#erased);
    this.#erased++;
    return true;
  }

  write(bytes: Uint8Array, length: number): void {
    if (this.#received + length > this.descriptor.size)
      throw new RangeError(`write past the ${this.descriptor.size}-byte image`);
    const sector = this.#sector;
    for (let i = 0; i < length; i++) {
      sector[this.#fill++] = bytes[i]!;
      if (this.#fill === sector.length) this.#writeSector(sector.length);
    }
    this.#received += length;
    // The last bytes go to flash at once: readBack sees the whole image before finish().
    if (this.#received === this.descriptor.size && this.#fill > 0) this.#writeSector(this.#fill);
  }

  readBack(offset: number, into: Uint8Array): void {
    this.#area.read(into, offset);
  }

  finish(): VerifyResult {
    if (this.#fill > 0) this.#writeSector(this.#fill);
    const md5 = toHex(this.#md5.close());
    const sha256 = toHex(this.#sha256.close());
    const d = this.descriptor;
    const reason =
      this.#received !== d.size
        ? "size"
        : md5 !== d.md5.toLowerCase()
          ? "md5"
          : d.sha256 !== "" && sha256 !== d.sha256.toLowerCase()
            ? "sha256"
            : "";
    return { ok: reason === "", reason, md5, sha256 };
  }

  /** Writes the first `count` bytes of the sector buffer at its place (padded to the write unit with erased bytes). */
  #writeSector(count: number): void {
    const { blockLength, writeAlign, eraseValue } = this.#status;
    const sector = this.#sector;
    const index = this.#sectorIndex;
    // Erasing ahead normally did this while the line was quiet; never write unerased flash.
    while (this.#erased <= index) this.#area.eraseBlock(this.#erased++);
    const digestView = count === blockLength ? sector : sector.subarray(0, count);
    this.#md5.write(digestView);
    this.#sha256.write(digestView);
    this.#crc = crc32Update(this.#crc, sector, 0, count);
    const padded = Math.ceil(count / writeAlign) * writeAlign;
    sector.fill(eraseValue, count, padded);
    this.#area.write(padded === blockLength ? sector : sector.subarray(0, padded), index * blockLength);
    this.#fill = 0;
    this.#sectorIndex++;
    // After the sector's bytes are on flash: the journal record then vouches for them.
    this.#journal?.save(this.#tag, this.#sectorIndex, crc32Final(this.#crc));
  }
}
