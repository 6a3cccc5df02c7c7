// CRC-32 (IEEE 802.3, reflected 0xEDB88320) with a hand-written table: record and journal integrity checks.

const TABLE = /* @__PURE__ */ (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** The CRC register before any byte (pass it to crc32Update, finish with crc32Final). */
export const CRC32_START = 0xffffffff;

/** Feeds bytes[start..end) into a running CRC register; ranges instead of subarrays keep it allocation-free. */
export function crc32Update(register: number, bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = register;
  for (let i = start; i < end; i++) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return c >>> 0;
}

export function crc32Final(register: number): number {
  return (register ^ 0xffffffff) >>> 0;
}

/** CRC-32 of bytes[start..end) in one call. */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return crc32Final(crc32Update(CRC32_START, bytes, start, end));
}
