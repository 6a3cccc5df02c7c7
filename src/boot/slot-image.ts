// What every boot backend does alike with an image's bytes and description: check a descriptor before a receive,
// and write a factory image into slot 0 with its digests.
import type { FlashPartition } from "../../hal/flash.js";
import { toHex, type DigestFactory } from "../../hal/digest.js";
import type { FlashLayout } from "../flash-format/layout.js";
import type { ImageDescriptor } from "../image/types.js";
import { COMPONENT_MAX, VERSION_MAX } from "./records.js";

function isHex(text: string, length: number): boolean {
  return text.length === length && /^[0-9a-f]*$/.test(text);
}

function isPrintable(text: string, max: number): boolean {
  return text.length <= max && /^[\x20-\x7e]*$/.test(text);
}

/** The descriptor with lower-case digests and an unsigned CRC; throws RangeError naming what is wrong. */
export function checkedDescriptor(d: ImageDescriptor, maxSize: number, where: string): ImageDescriptor {
  if (!Number.isInteger(d.size) || d.size <= 0 || d.size > maxSize)
    throw new RangeError(`boot: image size ${d.size} does not fit ${where}`);
  if (!isHex(d.md5.toLowerCase(), 32)) throw new RangeError(`boot: md5 "${d.md5}" is not 32 hex digits`);
  if (d.sha256 !== "" && !isHex(d.sha256.toLowerCase(), 64))
    throw new RangeError(`boot: sha256 "${d.sha256}" is not 64 hex digits`);
  if (!isPrintable(d.component, COMPONENT_MAX))
    throw new RangeError(
      `boot: component "${d.component}" is not printable ASCII of at most ${COMPONENT_MAX}`,
    );
  if (!isPrintable(d.version, VERSION_MAX))
    throw new RangeError(`boot: version "${d.version}" is not printable ASCII of at most ${VERSION_MAX}`);
  return { ...d, md5: d.md5.toLowerCase(), sha256: d.sha256.toLowerCase(), crc: d.crc >>> 0 };
}

/** Erases the whole partition and writes `image` at slot 0 (the last write unit padded); its size and digests. */
export function writeFactoryImage(
  flash: FlashPartition,
  layout: FlashLayout,
  digests: DigestFactory,
  image: { component: string; version: string; bytes: Uint8Array },
): { size: number; md5: string; sha256: string } {
  const { bytes } = image;
  if (bytes.length > layout.slots[0].length)
    throw new RangeError(
      `factory image of ${bytes.length} bytes exceeds the ${layout.slots[0].length}-byte slot`,
    );
  if (!isPrintable(image.component, COMPONENT_MAX) || !isPrintable(image.version, VERSION_MAX))
    throw new RangeError("factory component or version is not short printable ASCII");
  flash.eraseBlock(0, layout.size / layout.blockLength);
  const whole = Math.floor(bytes.length / layout.writeAlign) * layout.writeAlign;
  if (whole > 0) flash.write(bytes.subarray(0, whole), layout.slots[0].offset);
  if (whole < bytes.length) {
    const tail = new Uint8Array(layout.writeAlign).fill(layout.eraseValue);
    tail.set(bytes.subarray(whole));
    flash.write(tail, layout.slots[0].offset + whole);
  }
  const md5 = digests.create("MD5");
  const sha = digests.create("SHA256");
  md5.write(bytes);
  sha.write(bytes);
  return { size: bytes.length, md5: toHex(md5.close()), sha256: toHex(sha.close()) };
}
