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
export function checkFlashGeometry(
  size: number,
  blockLength: number,
  writeAlign: number,
  eraseValue: number,
): Readonly<FlashStatus> {
  if (!(blockLength > 0 && Number.isInteger(blockLength)))
    throw new RangeError(`bad blockLength ${blockLength}`);
  if (!(size > 0 && size % blockLength === 0))
    throw new RangeError(`size ${size} is not a whole number of blocks`);
  if (!(writeAlign > 0 && blockLength % writeAlign === 0))
    throw new RangeError(`bad writeAlign ${writeAlign}`);
  if (!(Number.isInteger(eraseValue) && eraseValue >= 0 && eraseValue <= 0xff))
    throw new RangeError("bad eraseValue");
  return Object.freeze({ size, blockLength, writeAlign, eraseValue });
}

// The NOR rules every FlashPartition implementation enforces (simulated, file-backed, device): one copy of them,
// so all refuse the same requests with the same FlashError.

export function checkEraseRange(status: FlashStatus, start: number, end: number): void {
  const blocks = status.size / status.blockLength;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end <= start || end > blocks) {
    throw new FlashError(`erase of blocks [${start}, ${end}) outside 0..${blocks}`, "bounds");
  }
}

export function checkAccessRange(
  status: FlashStatus,
  offset: number,
  length: number,
  what: "read" | "write",
): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + length > status.size) {
    throw new FlashError(`${what} of ${length} bytes at ${offset} outside 0..${status.size}`, "bounds");
  }
}

export function checkWriteRange(status: FlashStatus, offset: number, length: number): void {
  checkAccessRange(status, offset, length, "write");
  if (offset % status.writeAlign !== 0 || length % status.writeAlign !== 0) {
    throw new FlashError(
      `write of ${length} bytes at ${offset} breaks the ${status.writeAlign}-byte alignment`,
      "align",
    );
  }
}

/** Refuses to program `count` bytes over `old` unless every changed bit still holds the erased value. */
export function checkProgrammable(
  old: Uint8Array,
  oldAt: number,
  bytes: Uint8Array,
  bytesAt: number,
  count: number,
  eraseValue: number,
  address: number,
): void {
  for (let i = 0; i < count; i++) {
    const was = old[oldAt + i]!;
    const next = bytes[bytesAt + i]!;
    // A bit may only move away from its erased value: changed bits must still hold the erased value.
    if (((was ^ next) & (was ^ eraseValue)) !== 0) {
      throw new FlashError(
        `write at ${address + i} needs bits set back (0x${was.toString(16)} -> 0x${next.toString(16)}): erase first`,
        "unerased",
      );
    }
  }
}
