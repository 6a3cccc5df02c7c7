// Flash partition: NOR semantics, shaped like ECMA-419 `embedded:storage/flash`.
// Erase sets a whole block to `eraseValue`; a write can only clear bits and must honour `writeAlign`.

export interface FlashStatus {
  /** Partition size in bytes (a whole number of blocks). */
  size: number;
  /** Erase block (sector) length in bytes. */
  blockLength: number;
  /** Writes must start at, and have a length that is, a multiple of this. */
  writeAlign: number;
  /** Byte value of erased flash (0xFF on NOR). */
  eraseValue: number;
}

export interface FlashPartition {
  status(): FlashStatus;
  /** Erases blocks `start` up to but not including `end` (block indices; `end` defaults to start + 1). */
  eraseBlock(start: number, end?: number): void;
  /** Fills `into` with the bytes at `offset` (no allocation). */
  read(into: Uint8Array, offset: number): void;
  /** Writes `bytes` at `offset`; throws on misalignment, out of bounds, or bits that would have to be set. */
  write(bytes: Uint8Array, offset: number): void;
}

/** Thrown by a flash implementation for a request that breaks NOR rules; nothing is changed. */
export class FlashError extends Error {
  constructor(
    message: string,
    readonly code: "bounds" | "align" | "unerased" | "io",
  ) {
    super(message);
    this.name = "FlashError";
  }
}

/** Checks a NOR geometry and returns it frozen; implementations share it so they refuse the same shapes. */
export function checkFlashGeometry(size: number, blockLength: number, writeAlign: number, eraseValue: number): Readonly<FlashStatus> {
  if (!(blockLength > 0 && Number.isInteger(blockLength))) throw new RangeError(`bad blockLength ${blockLength}`);
  if (!(size > 0 && size % blockLength === 0)) throw new RangeError(`size ${size} is not a whole number of blocks`);
  if (!(writeAlign > 0 && blockLength % writeAlign === 0)) throw new RangeError(`bad writeAlign ${writeAlign}`);
  if (!(Number.isInteger(eraseValue) && eraseValue >= 0 && eraseValue <= 0xff)) throw new RangeError("bad eraseValue");
  return Object.freeze({ size, blockLength, writeAlign, eraseValue });
}
