// `sota-pack info`: every header field and every TLV of a package, as text lines (problems named, never thrown).
import { toHex } from "../../hal/digest.js";
import { DELTA_HEADER_SIZE, DELTA_MAGIC, parseDeltaHeader } from "../../src/delta/package.js";
import {
  IMAGE_FLAGS,
  IMAGE_HEADER_SIZE,
  IMAGE_MAGIC,
  TLV,
  TLV_INFO_MAGIC,
  TLV_INFO_SIZE,
  TLV_NAMES,
  TLV_PROT_INFO_MAGIC,
  readU16,
  readU32,
  walkTlvArea,
} from "../../src/package/format.js";

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const h = (n: number, width = 0): string => `0x${n.toString(16).padStart(width, "0")}`;

function flagNames(flags: number): string {
  const names = Object.entries(IMAGE_FLAGS)
    .filter(([, bit]) => (flags & bit) !== 0)
    .map(([name]) => name);
  return names.length > 0 ? ` (${names.join(" | ")})` : "";
}

function tlvValue(type: number, value: Uint8Array): string {
  if (type === TLV.SEC_CNT && value.length === 4) return `${readU32(value, 0)}`;
  if (type === TLV.VERSION_STRING) return JSON.stringify(String.fromCharCode(...value));
  return hex(value);
}

/** Lines describing a delta package's header at bytes[at..] (docs/delta-packages.md §1); ok false when broken. */
export function describeDelta(b: Uint8Array, at: number, length: number): { ok: boolean; lines: string[] } {
  const parsed = parseDeltaHeader(b.subarray(at, at + length));
  if (!parsed.ok) return { ok: false, lines: [`delta:              problem: ${parsed.message}`] };
  const d = parsed.header;
  const ratio =
    d.targetSize > 0
      ? ` (${((100 * (DELTA_HEADER_SIZE + d.patchSize)) / d.targetSize).toFixed(1)} % of the target)`
      : "";
  const lines = [
    `delta:              header version ${d.version}, patch format ${d.format} (detools sequential, heatshrink 8/7)`,
    `delta source:       ${d.sourceSize} bytes, SHA-256 ${toHex(d.sourceSha256)}`,
    `delta target:       ${d.targetSize} bytes, SHA-256 ${toHex(d.targetSha256)}`,
    `delta patch:        ${d.patchSize} bytes after the ${DELTA_HEADER_SIZE}-byte header${ratio}`,
  ];
  if (length !== DELTA_HEADER_SIZE + d.patchSize) {
    lines.push(
      `problem: ${length} bytes of delta package, the header declares ${DELTA_HEADER_SIZE + d.patchSize}`,
    );
    return { ok: false, lines };
  }
  return { ok: true, lines };
}

/** True when the bytes start with the delta package magic ("SDLT"). */
export function isDeltaPackage(b: Uint8Array, at = 0): boolean {
  return b.length - at >= 4 && readU32(b, at) === DELTA_MAGIC;
}

/** Lines describing the package; `ok` is false when its structure is broken (what could be read is shown). */
export function describePackage(b: Uint8Array): { ok: boolean; lines: string[] } {
  if (isDeltaPackage(b)) {
    const delta = describeDelta(b, 0, b.length);
    return {
      ok: delta.ok,
      lines: [`file size:          ${b.length} bytes (a delta package, unsigned)`, ...delta.lines],
    };
  }
  const lines: string[] = [`file size:          ${b.length} bytes`];
  if (b.length < IMAGE_HEADER_SIZE)
    return { ok: false, lines: [...lines, "problem: shorter than the 32-byte header"] };
  const magic = readU32(b, 0);
  const headerSize = readU16(b, 8);
  const protectedSize = readU16(b, 10);
  const imageSize = readU32(b, 12);
  const flags = readU32(b, 16);
  lines.push(
    `magic:              ${h(magic, 8)}${magic === IMAGE_MAGIC ? "" : " (not MCUboot's 0x96f3b83d)"}`,
    `load_addr:          ${h(readU32(b, 4))}`,
    `hdr_size:           ${h(headerSize)} (${headerSize})`,
    `protected_tlv_size: ${h(protectedSize)} (${protectedSize})`,
    `img_size:           ${h(imageSize)} (${imageSize})`,
    `flags:              ${h(flags)}${flagNames(flags)}`,
    `version:            ${b[20]}.${b[21]}.${readU16(b, 22)}+${readU32(b, 24)}`,
    `image body:         offset ${h(headerSize)}, ${imageSize} bytes`,
  );
  if (magic !== IMAGE_MAGIC) return { ok: false, lines: [...lines, "problem: bad magic"] };
  // A delta package signed as an MCUboot body: shown, though the device applies deltas between signed images.
  if (isDeltaPackage(b, headerSize) && headerSize + imageSize <= b.length) {
    const delta = describeDelta(b, headerSize, imageSize);
    lines.push(...delta.lines);
    if (!delta.ok) return { ok: false, lines };
  }
  let at = headerSize + imageSize;
  let ok = true;
  const area = (title: string, wantMagic: number, size: number): boolean => {
    lines.push(`${title} at ${h(at)}: magic ${h(readU16(b, at), 4)}, size ${size}`);
    const fine = walkTlvArea(b, at, size, wantMagic, (type, valueAt, length) => {
      const name = TLV_NAMES[type] ?? "unknown";
      lines.push(
        `  ${name} (${h(type, 2)}), ${length} bytes: ${tlvValue(type, b.subarray(valueAt, valueAt + length))}`,
      );
      return true;
    });
    if (!fine) lines.push(`  problem: the area is malformed (magic, total size or an entry out of bounds)`);
    at += size;
    return fine;
  };
  if (at + TLV_INFO_SIZE > b.length)
    return { ok: false, lines: [...lines, "problem: the file ends before the TLV area"] };
  if (protectedSize > 0) ok = area("protected TLV area", TLV_PROT_INFO_MAGIC, protectedSize) && ok;
  if (at + TLV_INFO_SIZE > b.length)
    return { ok: false, lines: [...lines, "problem: the file ends before the TLV area"] };
  ok = area("TLV area", TLV_INFO_MAGIC, readU16(b, at + 2)) && ok;
  if (ok && at !== b.length) {
    lines.push(`problem: ${b.length - at} bytes after the TLV area`);
    ok = false;
  }
  return { ok, lines };
}

/** The header version, the signed version string and the key hash of an MCUboot package, or undefined. */
export function signedImageInfo(
  b: Uint8Array,
): { version: string; versionString: string; keyHash: string } | undefined {
  if (b.length < IMAGE_HEADER_SIZE || readU32(b, 0) !== IMAGE_MAGIC) return undefined;
  const headerSize = readU16(b, 8);
  const protectedSize = readU16(b, 10);
  let at = headerSize + readU32(b, 12);
  let versionString = "";
  let keyHash = "";
  if (protectedSize > 0) {
    const fine = walkTlvArea(b, at, protectedSize, TLV_PROT_INFO_MAGIC, (type, valueAt, length) => {
      if (type === TLV.VERSION_STRING)
        versionString = String.fromCharCode(...b.subarray(valueAt, valueAt + length));
      return true;
    });
    if (!fine) return undefined;
    at += protectedSize;
  }
  if (at + TLV_INFO_SIZE > b.length) return undefined;
  const fine = walkTlvArea(b, at, readU16(b, at + 2), TLV_INFO_MAGIC, (type, valueAt, length) => {
    if (type === TLV.KEYHASH) keyHash = hex(b.subarray(valueAt, valueAt + length));
    return true;
  });
  if (!fine) return undefined;
  return { version: `${b[20]}.${b[21]}.${readU16(b, 22)}+${readU32(b, 24)}`, versionString, keyHash };
}
