// The host device's flash: geometry, layout for a slot size, the deterministic factory image, the bytes of a new
// flash file, and a read-only status (slots, states, versions, SHA-256 of each slot's bytes) that never changes it.

import type { DigestFactory } from "../../hal/digest.js";
import type { FlashPartition, FlashStatus } from "../../hal/flash.js";
import { SimNorFlash } from "../../hal/sim/nor-flash.js";
import { formatFactory, openBoot, slotSha256 } from "../../src/boot/generic-boot.js";
import { planLayout } from "../../src/flash-format/layout.js";
import type { FlashLayout } from "../../src/flash-format/layout.js";
import type { SlotInfo } from "../../src/boot/types.js";

/** A typical serial NOR: 4 KiB sectors, 4-byte program unit, erased to 0xFF. */
export const HOST_FLASH_GEOMETRY = Object.freeze({ blockLength: 4096, writeAlign: 4, eraseValue: 0xff });
export const DEFAULT_SLOT_SIZE = 512 * 1024;
export const FACTORY_IMAGE_SIZE = 8 * 1024;

/** Smallest partition (whole blocks) whose layout has two slots of at least `slotSize` bytes. */
export function partitionSizeFor(
  slotSize: number,
  blockLength: number = HOST_FLASH_GEOMETRY.blockLength,
): number {
  if (!Number.isInteger(slotSize) || slotSize <= 0)
    throw new RangeError(`slot size ${slotSize} is not a positive integer`);
  const slotBlocks = Math.ceil(slotSize / blockLength);
  // Records (2 blocks) + journal + two slots: grow the metadata until planLayout accepts it.
  for (let extra = 3; extra < slotBlocks + 8; extra++) {
    const size = (2 * slotBlocks + extra) * blockLength;
    try {
      const layout = planLayout(
        { ...HOST_FLASH_GEOMETRY, blockLength, size },
        { slotLength: slotBlocks * blockLength },
      );
      if (layout.slots[0].length >= slotSize) return size;
    } catch {
      // Not enough metadata blocks yet.
    }
  }
  throw new RangeError(`no layout found for ${slotSize}-byte slots`);
}

/** The layout of an existing partition; a given slot size must match it (else the file was made for another). */
export function layoutOf(status: FlashStatus, slotSize?: number): FlashLayout {
  const layout = planLayout(status);
  if (
    slotSize !== undefined &&
    Math.ceil(slotSize / status.blockLength) * status.blockLength !== layout.slots[0].length
  ) {
    throw new Error(
      `the flash has ${layout.slots[0].length}-byte slots, not ${slotSize} (--slot-size only applies to a new flash file)`,
    );
  }
  return layout;
}

/** 32-bit FNV-1a of a string: the seed of the factory pattern. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i) & 0xff;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/**
 * Deterministic image bytes for (component, version): a readable header line, then an xorshift pattern
 * seeded by both, so two versions never share an image and a rerun makes the same bytes.
 */
export function patternImage(component: string, version: string, size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  const header = `SOTA-IMAGE ${component} ${version}\n`;
  for (let i = 0; i < header.length && i < size; i++) bytes[i] = header.charCodeAt(i) & 0x7f;
  let state = fnv1a(`${component}\u0000${version}`) || 1;
  for (let i = Math.min(header.length, size); i < size; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[i] = state & 0xff;
  }
  return bytes;
}

export function factoryImage(component: string, version: string): Uint8Array {
  return patternImage(component, version, FACTORY_IMAGE_SIZE);
}

/** A slot as boot control records it (digests as recorded), and what its flash holds now. */
export interface SlotStatus extends SlotInfo {
  /** SHA-256 of the slot's first `size` bytes as they are in flash now ("" for an empty slot). */
  flashSha256: string;
  /** The recorded SHA-256 (when there is one) equals the flash bytes. */
  intact: boolean;
  running: boolean;
  offset: number;
  length: number;
}

export interface FlashStatusReport {
  running: { slot: number; component: string; version: string; sha256: string };
  /** The running image is on trial (activated, not yet confirmed). */
  trial: boolean;
  rollbackReason: string;
  slots: SlotStatus[];
  geometry: FlashStatus;
}

/**
 * What a start-up would decide, without touching `flash`: the boot control is opened on an in-memory copy
 * (opening may record a trial boot), and each slot's SHA-256 is computed from the real flash bytes.
 */
export function inspectFlash(
  flash: FlashPartition,
  layout: FlashLayout,
  digests: DigestFactory,
): FlashStatusReport {
  const geometry = flash.status();
  const copy = new Uint8Array(geometry.size);
  flash.read(copy, 0);
  const boot = openBoot(new SimNorFlash({ ...geometry, initial: copy }), layout, digests);
  const report = boot.report;
  const slots = report.slots.map((info): SlotStatus => {
    const region = layout.slots[info.slot]!;
    const hasImage = info.state !== "empty" && info.size > 0 && info.size <= region.length;
    const sha = hasImage ? slotSha256(flash, layout, digests, info.slot, info.size) : "";
    return {
      slot: info.slot,
      state: info.state,
      component: info.component,
      version: info.version,
      size: info.size,
      md5: info.md5,
      sha256: info.sha256,
      flashSha256: sha,
      intact: hasImage && (info.sha256 === "" || info.sha256.toLowerCase() === sha),
      running: info.slot === report.running.slot,
      offset: region.offset,
      length: region.length,
    };
  });
  const running = slots.find((s) => s.running);
  return {
    running: {
      slot: report.running.slot,
      component: report.running.component,
      version: report.running.version,
      sha256: running?.flashSha256 ?? "",
    },
    trial: report.trial,
    rollbackReason: report.rollbackReason,
    slots,
    geometry: { ...geometry },
  };
}

/** Why a flash cannot run (no boot record and no sealed image names a version), or "" when it can. */
export function unbootableReason(report: FlashStatusReport): string {
  if (report.running.version !== "") return "";
  return report.rollbackReason || "no image with a version";
}

/** The whole content of a new flash file: slots of `slotSize` bytes, `image` confirmed in slot 0 as the factory image. */
export function factoryFlashBytes(
  slotSize: number,
  image: { component: string; version: string; bytes: Uint8Array },
  digests: DigestFactory,
): Uint8Array {
  const flash = new SimNorFlash({ ...HOST_FLASH_GEOMETRY, size: partitionSizeFor(slotSize) });
  formatFactory(flash, planLayout(flash.status(), { slotLength: slotSize }), digests, image);
  return flash.snapshot();
}
