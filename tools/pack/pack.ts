// Lays out a package exactly as imgtool `sign` does (header, image, protected TLVs, TLVs); signing is a callback.
import type { DigestFactory } from "../../hal/digest.js";
import type { SignatureAlgorithm } from "../../hal/signature.js";
import {
  IMAGE_HEADER_SIZE,
  IMAGE_MAGIC,
  TLV,
  TLV_INFO_MAGIC,
  TLV_PROT_INFO_MAGIC,
  writeU16,
  writeU32,
  type ImageVersion,
} from "../../src/package/format.js";
import { MAX_VERSION_STRING, isVersionStringByte } from "../../src/package/version.js";

export interface PackOptions {
  image: Uint8Array;
  version: ImageVersion;
  /** imgtool `--header-size`: the header plus its padding (32 to 0xffff). */
  headerSize: number;
  /** imgtool `--pad-header`: prepend `headerSize` erased bytes; without it the input must start with zeros. */
  padHeader: boolean;
  /** imgtool `--align` (1, 2, 4, 8, 16 or 32): checked; it only shapes a padded slot trailer, which we never write. */
  align: number;
  securityCounter?: number;
  /** The QuecThing version string, in the protected VERSION_STRING TLV. */
  versionString?: string;
  loadAddress?: number;
  /** The signer: its algorithm, SubjectPublicKeyInfo (hashed into KEYHASH) and a sign function. */
  signer?: {
    algorithm: SignatureAlgorithm;
    spki: Uint8Array;
    /** Ed25519 signs `digest` as its message; ECDSA signs SHA-256(`hashed`), which is `digest` (imgtool's way). */
    sign(digest: Uint8Array, hashed: Uint8Array): Uint8Array;
  };
}

export class PackError extends Error {}

function tlvEntry(type: number, value: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + value.length);
  writeU16(out, 0, type);
  writeU16(out, 2, value.length);
  out.set(value, 4);
  return out;
}

function tlvArea(magic: number, entries: Uint8Array[]): Uint8Array {
  const size = 4 + entries.reduce((n, e) => n + e.length, 0);
  if (size > 0xffff) throw new PackError("TLV area larger than 65535 bytes");
  const out = new Uint8Array(size);
  writeU16(out, 0, magic);
  writeU16(out, 2, size);
  let at = 4;
  for (const e of entries) {
    out.set(e, at);
    at += e.length;
  }
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Builds the package bytes. Throws PackError on a bad option. */
export function pack(options: PackOptions, digests: DigestFactory): Uint8Array {
  const { headerSize, version } = options;
  if (!Number.isInteger(headerSize) || headerSize < IMAGE_HEADER_SIZE || headerSize > 0xffff)
    throw new PackError(`header size must be 32 to 65535, got ${headerSize}`);
  if (![1, 2, 4, 8, 16, 32].includes(options.align))
    throw new PackError(`align must be 1, 2, 4, 8, 16 or 32, got ${options.align}`);
  let payload: Uint8Array;
  if (options.padHeader) {
    payload = new Uint8Array(headerSize + options.image.length).fill(0xff, 0, headerSize);
    payload.set(options.image, headerSize);
  } else {
    if (options.image.length < headerSize || options.image.subarray(0, headerSize).some((b) => b !== 0))
      throw new PackError(
        `the input does not start with ${headerSize} zero bytes for the header: use --pad-header`,
      );
    payload = options.image.slice();
  }
  const imageSize = payload.length - headerSize;

  const protectedEntries: Uint8Array[] = [];
  if (options.securityCounter !== undefined) {
    const c = options.securityCounter;
    if (!Number.isInteger(c) || c < 0 || c > 0xffffffff)
      throw new PackError(`security counter must be 0 to 4294967295, got ${c}`);
    const value = new Uint8Array(4);
    writeU32(value, 0, c);
    protectedEntries.push(tlvEntry(TLV.SEC_CNT, value));
  }
  if (options.versionString !== undefined) {
    const text = options.versionString;
    const bytes = Uint8Array.from(text, (ch) => ch.charCodeAt(0));
    if (bytes.length === 0 || bytes.length > MAX_VERSION_STRING || !bytes.every(isVersionStringByte))
      throw new PackError(
        `version string must be 1 to ${MAX_VERSION_STRING} printable ASCII characters without spaces`,
      );
    protectedEntries.push(tlvEntry(TLV.VERSION_STRING, bytes));
  }
  const protectedArea =
    protectedEntries.length > 0 ? tlvArea(TLV_PROT_INFO_MAGIC, protectedEntries) : new Uint8Array(0);

  const header = payload.subarray(0, IMAGE_HEADER_SIZE);
  header.fill(0);
  writeU32(header, 0, IMAGE_MAGIC);
  writeU32(header, 4, options.loadAddress ?? 0);
  writeU16(header, 8, headerSize);
  writeU16(header, 10, protectedArea.length);
  writeU32(header, 12, imageSize);
  writeU32(header, 16, options.loadAddress ? 0x20 : 0); // RAM_LOAD, as imgtool sets it for --load-addr
  header[20] = version.major;
  header[21] = version.minor;
  writeU16(header, 22, version.revision);
  writeU32(header, 24, version.build);

  const hashed = concat([payload, protectedArea]);
  const digest = digests.create("SHA256");
  digest.write(hashed);
  const hash = digest.close();
  const entries = [tlvEntry(TLV.SHA256, hash)];
  if (options.signer) {
    const keyDigest = digests.create("SHA256");
    keyDigest.write(options.signer.spki);
    entries.push(tlvEntry(TLV.KEYHASH, keyDigest.close()));
    const type = options.signer.algorithm === "ecdsa-p256" ? TLV.ECDSA_SIG : TLV.ED25519;
    entries.push(tlvEntry(type, options.signer.sign(hash, hashed)));
  }
  return concat([hashed, tlvArea(TLV_INFO_MAGIC, entries)]);
}
