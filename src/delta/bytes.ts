// Ranged byte comparison for the delta package and checkpoint checks (fields and CRC-32 come from src/flash-format).

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
