// One FlashPartition made of several (Zephyr's flash-map partitions: the records' partition, slot 0, slot 1) laid
// end to end, so a backend that wants one address space (records, journal, two slots) runs on separate partitions.
// Portable: tested with simulated flash on Node and in XS.

import type { FlashPartition, FlashStatus } from "../flash.js";
import { checkAccessRange, checkEraseRange, checkWriteRange } from "../flash.js";

export interface MappedPart {
  name: string;
  flash: FlashPartition;
  /** Where it starts in the joined address space. */
  offset: number;
}

export class JoinedFlash implements FlashPartition {
  readonly parts: readonly MappedPart[];
  readonly #status: FlashStatus;

  /** Joins `parts` in order; they must share the block length and erased value (the widest write alignment wins). */
  constructor(parts: { name: string; flash: FlashPartition }[]) {
    if (parts.length === 0) throw new RangeError("no partitions to join");
    const first = parts[0]!.flash.status();
    let offset = 0;
    let writeAlign = 1;
    const mapped: MappedPart[] = [];
    for (const { name, flash } of parts) {
      const status = flash.status();
      if (status.blockLength !== first.blockLength)
        throw new RangeError(
          `partition ${name} has blocks of ${status.blockLength} bytes, ${parts[0]!.name} of ${first.blockLength}`,
        );
      if (status.eraseValue !== first.eraseValue)
        throw new RangeError(
          `partition ${name} erases to ${status.eraseValue}, ${parts[0]!.name} to ${first.eraseValue}`,
        );
      writeAlign = Math.max(writeAlign, status.writeAlign);
      mapped.push({ name, flash, offset });
      offset += status.size;
    }
    for (const { name, flash } of mapped)
      if (first.blockLength % writeAlign !== 0 || writeAlign % flash.status().writeAlign !== 0)
        throw new RangeError(
          `partition ${name}: write alignments ${writeAlign} and ${flash.status().writeAlign} do not nest`,
        );
    this.parts = mapped;
    this.#status = { size: offset, blockLength: first.blockLength, writeAlign, eraseValue: first.eraseValue };
  }

  status(): FlashStatus {
    return this.#status;
  }

  /** The part holding `offset` (an offset inside the joined space). */
  partAt(offset: number): MappedPart {
    for (let i = this.parts.length - 1; i >= 0; i--)
      if (offset >= this.parts[i]!.offset) return this.parts[i]!;
    throw new RangeError(`offset ${offset} is before the first partition`);
  }

  eraseBlock(start: number, end: number = start + 1): void {
    checkEraseRange(this.#status, start, end);
    const blockLength = this.#status.blockLength;
    let block = start;
    while (block < end) {
      const part = this.partAt(block * blockLength);
      const first = block - part.offset / blockLength;
      const count = Math.min(end - block, part.flash.status().size / blockLength - first);
      part.flash.eraseBlock(first, first + count);
      block += count;
    }
  }

  read(into: Uint8Array, offset: number): void {
    checkAccessRange(this.#status, offset, into.length, "read");
    this.#each(into, offset, (part, view, at) => part.flash.read(view, at));
  }

  write(bytes: Uint8Array, offset: number): void {
    checkWriteRange(this.#status, offset, bytes.length);
    this.#each(bytes, offset, (part, view, at) => part.flash.write(view, at));
  }

  /** Splits an access at partition ends (views, no copies). */
  #each(
    bytes: Uint8Array,
    offset: number,
    access: (part: MappedPart, view: Uint8Array, at: number) => void,
  ): void {
    let done = 0;
    while (done < bytes.length) {
      const part = this.partAt(offset + done);
      const at = offset + done - part.offset;
      const count = Math.min(bytes.length - done, part.flash.status().size - at);
      access(part, done === 0 && count === bytes.length ? bytes : bytes.subarray(done, done + count), at);
      done += count;
    }
  }
}
