// MCUboot's image format: the 32-byte header, the protected and unprotected TLV areas, with bounds checked everywhere.

export const IMAGE_MAGIC = 0x96f3b83d;
export const IMAGE_HEADER_SIZE = 32;
export const TLV_INFO_MAGIC = 0x6907;
export const TLV_PROT_INFO_MAGIC = 0x6908;
export const TLV_INFO_SIZE = 4;
export const TLV_ENTRY_HEADER_SIZE = 4;

/** TLV types this project reads (MCUboot `bootutil/image.h`), plus one vendor type of its own. */
export const TLV = {
  KEYHASH: 0x01,
  PUBKEY: 0x02,
  SHA256: 0x10,
  SHA384: 0x11,
  SHA512: 0x12,
  ECDSA_SIG: 0x22,
  ED25519: 0x24,
  SIG_PURE: 0x25,
  SEC_CNT: 0x50,
  /**
   * The QuecThing version string the package is for (ASCII, 1-64 bytes, protected so the signature covers it).
   * In MCUboot's vendor range 0x00a0-0xfffe; "QV" little-endian. imgtool: `--custom-tlv 0x5651 V2_0`.
   */
  VERSION_STRING: 0x5651,
} as const;

export const TLV_NAMES: Readonly<Record<number, string>> = {
  0x01: "KEYHASH",
  0x02: "PUBKEY",
  0x10: "SHA256",
  0x11: "SHA384",
  0x12: "SHA512",
  0x20: "RSA2048",
  0x22: "ECDSASIG",
  0x23: "RSA3072",
  0x24: "ED25519",
  0x25: "SIG_PURE",
  0x30: "ENCRSA2048",
  0x31: "ENCKW",
  0x32: "ENCEC256",
  0x33: "ENCX25519",
  0x40: "DEPENDENCY",
  0x50: "SEC_CNT",
  0x60: "BOOT_RECORD",
  0x70: "DECOMP_SIZE",
  0x71: "DECOMP_SHA",
  0x72: "DECOMP_SIGNATURE",
  0x73: "COMP_DEC_SIZE",
  0x74: "UUID_VID",
  0x75: "UUID_CID",
  0x5651: "VERSION_STRING",
};

/** Header flags (imgtool `IMAGE_F`). */
export const IMAGE_FLAGS = {
  PIC: 0x1,
  ENCRYPTED_AES128: 0x4,
  ENCRYPTED_AES256: 0x8,
  NON_BOOTABLE: 0x10,
  RAM_LOAD: 0x20,
  ROM_FIXED: 0x100,
  COMPRESSED_LZMA1: 0x200,
  COMPRESSED_LZMA2: 0x400,
  COMPRESSED_ARM_THUMB: 0x800,
} as const;

/** Flags whose image body is not the runnable image we hash and install: refused. */
export const UNSUPPORTED_FLAGS =
  IMAGE_FLAGS.ENCRYPTED_AES128 |
  IMAGE_FLAGS.ENCRYPTED_AES256 |
  IMAGE_FLAGS.COMPRESSED_LZMA1 |
  IMAGE_FLAGS.COMPRESSED_LZMA2 |
  IMAGE_FLAGS.COMPRESSED_ARM_THUMB;

export interface ImageVersion {
  major: number;
  minor: number;
  revision: number;
  build: number;
}

export interface ImageHeader {
  loadAddress: number;
  headerSize: number;
  /** Size of the protected TLV area including its 4-byte info header; 0 when there is none. */
  protectedTlvSize: number;
  imageSize: number;
  flags: number;
  version: ImageVersion;
}

export const readU16 = (b: Uint8Array, at: number): number => b[at]! | (b[at + 1]! << 8);
export const readU32 = (b: Uint8Array, at: number): number =>
  (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;

export function writeU16(b: Uint8Array, at: number, value: number): void {
  b[at] = value & 0xff;
  b[at + 1] = (value >>> 8) & 0xff;
}

export function writeU32(b: Uint8Array, at: number, value: number): void {
  writeU16(b, at, value & 0xffff);
  writeU16(b, at + 2, value >>> 16);
}

/** Limits a header must respect before anything else is read. */
export interface HeaderLimits {
  /** Largest image body accepted (the slot's size bounds it). */
  maxImageSize: number;
  /** Largest header (imgtool pads it to `--header-size`, usually 0x20-0x1000). */
  maxHeaderSize: number;
  /** Largest protected TLV area. */
  maxProtectedTlvSize: number;
}

/** Parses the 32 header bytes at `b[0..32)`; undefined when the magic, sizes or flags are unacceptable. */
export function parseHeader(b: Uint8Array, limits: HeaderLimits): ImageHeader | undefined {
  if (b.length < IMAGE_HEADER_SIZE || readU32(b, 0) !== IMAGE_MAGIC) return undefined;
  const header: ImageHeader = {
    loadAddress: readU32(b, 4),
    headerSize: readU16(b, 8),
    protectedTlvSize: readU16(b, 10),
    imageSize: readU32(b, 12),
    flags: readU32(b, 16),
    version: { major: b[20]!, minor: b[21]!, revision: readU16(b, 22), build: readU32(b, 24) },
  };
  if (header.headerSize < IMAGE_HEADER_SIZE || header.headerSize > limits.maxHeaderSize) return undefined;
  if (header.imageSize > limits.maxImageSize) return undefined;
  const prot = header.protectedTlvSize;
  if (prot !== 0 && (prot < TLV_INFO_SIZE || prot > limits.maxProtectedTlvSize)) return undefined;
  if ((header.flags & UNSUPPORTED_FLAGS) !== 0) return undefined;
  return header;
}

export function formatImageVersion(v: ImageVersion): string {
  return `${v.major}.${v.minor}.${v.revision}+${v.build}`;
}

/**
 * Walks one TLV area `b[start..start+size)`: checks its info header (magic, total = size) and that every entry
 * lies inside; calls `visit(type, valueStart, valueLength)` per entry. Returns false when malformed (visit may
 * have been called for the entries before the fault) or when visit returns false.
 */
export function walkTlvArea(
  b: Uint8Array,
  start: number,
  size: number,
  magic: number,
  visit: (type: number, at: number, length: number) => boolean,
): boolean {
  if (size < TLV_INFO_SIZE || start < 0 || start + size > b.length) return false;
  if (readU16(b, start) !== magic || readU16(b, start + 2) !== size) return false;
  const end = start + size;
  let at = start + TLV_INFO_SIZE;
  while (at < end) {
    if (at + TLV_ENTRY_HEADER_SIZE > end) return false;
    const type = readU16(b, at);
    const length = readU16(b, at + 2);
    const value = at + TLV_ENTRY_HEADER_SIZE;
    if (value + length > end) return false;
    if (!visit(type, value, length)) return false;
    at = value + length;
  }
  return true;
}
