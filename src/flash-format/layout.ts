// Flash layout of the bootloader-swap module: two image slots, two record blocks and a resume journal in one partition.
import type { FlashStatus } from "../../hal/flash.js";

/** A byte range of the partition; offsets and lengths are whole blocks. */
export interface Region {
  offset: number;
  length: number;
}

export interface FlashLayout {
  /** Partition size in bytes. */
  size: number;
  blockLength: number;
  writeAlign: number;
  eraseValue: number;
  /** Two blocks that hold the boot records (append-only, ping-pong). */
  records: [Region, Region];
  /** Blocks that hold the resume journal of the image being received. */
  journal: Region;
  /** The two image slots, equal length. */
  slots: [Region, Region];
}

export interface LayoutOptions {
  /** Where the metadata blocks (records + journal) go; default "last". */
  metadata?: "first" | "last";
  /** Slot length in bytes (rounded up to whole blocks); default: the largest that fits. */
  slotLength?: number;
}

/** Encoded boot record size before write-alignment padding (see records.ts). */
export const RECORD_BYTES = 512;
/** Encoded image seal size before write-alignment padding (see records.ts). */
export const SEAL_BYTES = 256;
/** Encoded journal entry size before write-alignment padding (see journal.ts). */
export const JOURNAL_ENTRY_BYTES = 16;

export class LayoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LayoutError";
  }
}

function roundUp(value: number, multiple: number): number {
  return Math.ceil(value / multiple) * multiple;
}

/** Bytes one boot record occupies in a record block. */
export function recordSlotLength(layout: Pick<FlashLayout, "writeAlign">): number {
  return roundUp(RECORD_BYTES, layout.writeAlign);
}

/** Bytes a slot's image seal occupies at the end of the slot. */
export function sealLength(layout: Pick<FlashLayout, "writeAlign">): number {
  return roundUp(SEAL_BYTES, layout.writeAlign);
}

/** Bytes one journal entry occupies. */
export function journalEntryLength(layout: Pick<FlashLayout, "writeAlign">): number {
  return roundUp(JOURNAL_ENTRY_BYTES, layout.writeAlign);
}

/** The journal records one entry per erase block of the slot (a journal sector is an erase block). */
export function journalCapacity(layout: Pick<FlashLayout, "writeAlign">, journalLength: number): number {
  return Math.floor(journalLength / journalEntryLength(layout));
}

function checkGeometry(status: FlashStatus): void {
  const { size, blockLength, writeAlign, eraseValue } = status;
  const positive = (n: number): boolean => Number.isInteger(n) && n > 0;
  if (!positive(blockLength)) throw new LayoutError(`blockLength ${blockLength} is not a positive integer`);
  if (!positive(writeAlign)) throw new LayoutError(`writeAlign ${writeAlign} is not a positive integer`);
  if (blockLength % writeAlign !== 0)
    throw new LayoutError(`blockLength ${blockLength} is not a multiple of writeAlign ${writeAlign}`);
  if (!positive(size) || size % blockLength !== 0)
    throw new LayoutError(`partition size ${size} is not a whole number of ${blockLength}-byte blocks`);
  if (!Number.isInteger(eraseValue) || eraseValue < 0 || eraseValue > 255)
    throw new LayoutError(`eraseValue ${eraseValue} is not a byte`);
  if (recordSlotLength(status) > blockLength) {
    throw new LayoutError(
      `a ${blockLength}-byte block cannot hold one ${recordSlotLength(status)}-byte boot record`,
    );
  }
}

/** Splits one partition: records and journal together at one end, then two equal block-aligned slots. */
export function planLayout(status: FlashStatus, options: LayoutOptions = {}): FlashLayout {
  checkGeometry(status);
  const { size, blockLength, writeAlign, eraseValue } = status;
  const totalBlocks = size / blockLength;
  const perJournalBlock = journalCapacity(status, blockLength);
  const wantedSlotBlocks =
    options.slotLength === undefined ? undefined : Math.ceil(options.slotLength / blockLength);
  let slotBlocks = 0;
  let journalBlocks = 1;
  for (; journalBlocks < totalBlocks; journalBlocks++) {
    const fit = Math.floor((totalBlocks - 2 - journalBlocks) / 2);
    slotBlocks = wantedSlotBlocks === undefined ? fit : Math.min(wantedSlotBlocks, fit);
    if (slotBlocks <= journalBlocks * perJournalBlock) break;
  }
  if (slotBlocks < 1)
    throw new LayoutError(
      `a partition of ${totalBlocks} blocks cannot hold 2 record blocks, a journal and two slots`,
    );
  if (wantedSlotBlocks !== undefined && slotBlocks < wantedSlotBlocks) {
    throw new LayoutError(
      `slots of ${wantedSlotBlocks} blocks do not fit: at most ${slotBlocks} blocks each in ${totalBlocks} blocks`,
    );
  }
  const metaBlocks = 2 + journalBlocks;
  const metaStart = options.metadata === "first" ? 0 : totalBlocks - metaBlocks;
  const slotStart = options.metadata === "first" ? metaBlocks : 0;
  const block = (index: number, count = 1): Region => ({
    offset: index * blockLength,
    length: count * blockLength,
  });
  const layout: FlashLayout = {
    size,
    blockLength,
    writeAlign,
    eraseValue,
    records: [block(metaStart), block(metaStart + 1)],
    journal: block(metaStart + 2, journalBlocks),
    slots: [block(slotStart, slotBlocks), block(slotStart + slotBlocks, slotBlocks)],
  };
  validateLayout(layout, status);
  return layout;
}

/** Throws a LayoutError naming the first problem of a layout on this partition. */
export function validateLayout(layout: FlashLayout, status: FlashStatus): void {
  checkGeometry(status);
  for (const key of ["size", "blockLength", "writeAlign", "eraseValue"] as const) {
    if (layout[key] !== status[key])
      throw new LayoutError(`layout ${key} ${layout[key]} differs from the flash's ${status[key]}`);
  }
  const named: [string, Region][] = [
    ["records[0]", layout.records[0]],
    ["records[1]", layout.records[1]],
    ["journal", layout.journal],
    ["slots[0]", layout.slots[0]],
    ["slots[1]", layout.slots[1]],
  ];
  for (const [name, region] of named) {
    if (!region || !Number.isInteger(region.offset) || !Number.isInteger(region.length))
      throw new LayoutError(`${name} is not a region`);
    if (region.offset % status.blockLength !== 0 || region.length % status.blockLength !== 0) {
      throw new LayoutError(
        `${name} (offset ${region.offset}, length ${region.length}) is not block-aligned to ${status.blockLength}`,
      );
    }
    if (region.length <= 0) throw new LayoutError(`${name} is empty`);
    if (region.offset < 0 || region.offset + region.length > status.size) {
      throw new LayoutError(
        `${name} (offset ${region.offset}, length ${region.length}) lies outside the ${status.size}-byte partition`,
      );
    }
  }
  for (let i = 0; i < named.length; i++) {
    for (let j = i + 1; j < named.length; j++) {
      const [a, ra] = named[i]!;
      const [b, rb] = named[j]!;
      if (ra.offset < rb.offset + rb.length && rb.offset < ra.offset + ra.length)
        throw new LayoutError(`${a} overlaps ${b}`);
    }
  }
  if (layout.records[0].length !== status.blockLength || layout.records[1].length !== status.blockLength) {
    throw new LayoutError("each record region must be exactly one block");
  }
  if (layout.slots[0].length !== layout.slots[1].length)
    throw new LayoutError("the two slots differ in length");
  const sectors = layout.slots[0].length / status.blockLength;
  const capacity = journalCapacity(status, layout.journal.length);
  if (capacity < sectors)
    throw new LayoutError(`the journal holds ${capacity} entries but a slot has ${sectors} blocks`);
}
