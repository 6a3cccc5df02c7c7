// Little-endian fields and a table-less CRC-32 for the delta package header and checkpoint records
// (both short and rare, so the delta folder stays free of other core folders).

export function put32(into: Uint8Array, at: number, value: number): void {
  into[at] = value & 0xff;
  into[at + 1] = (value >>> 8) & 0xff;
  into[at + 2] = (value >>> 16) & 0xff;
  into[at + 3] = (value >>> 24) & 0xff;
}

export function get32(from: Uint8Array, at: number): number {
  return (from[at]! | (from[at + 1]! << 8) | (from[at + 2]! << 16) | (from[at + 3]! << 24)) >>> 0;
}

export function put16(into: Uint8Array, at: number, value: number): void {
  into[at] = value & 0xff;
  into[at + 1] = (value >>> 8) & 0xff;
}

export function get16(from: Uint8Array, at: number): number {
  return from[at]! | (from[at + 1]! << 8);
}

/** CRC-32 (IEEE, reflected 0xEDB88320) of bytes[start..end), bit by bit. */
export function crc32(bytes: Uint8Array, start: number, end: number): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) {
    c ^= bytes[i]!;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

/** Constant-length comparison of a[aStart..aStart+length) and b[bStart..bStart+length). */
export function sameBytes(
  a: Uint8Array,
  aStart: number,
  b: Uint8Array,
  bStart: number,
  length: number,
): boolean {
  let diff = 0;
  for (let i = 0; i < length; i++) diff |= a[aStart + i]! ^ b[bStart + i]!;
  return diff === 0;
}
