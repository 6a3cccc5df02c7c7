// Boot records: the persistent state of both slots, appended power-fail safe to two ping-pong blocks (seq + CRC-32).
//
// Each record slot of a record block holds one whole record. A change appends a record with seq + 1 to the
// active block; when it is full, the OTHER block is erased and the record goes to its first slot. The newest
// record with a valid magic, CRC and consistent content wins, so a torn write leaves the previous record in
// charge, and the only erase ever issued hits the block that does not hold the newest valid record.
import type { FlashPartition } from "../../hal/flash.js";
import { IMAGE_STATES, type ImageState } from "./types.js";
import {
  RECORD_BYTES,
  SEAL_BYTES,
  recordSlotLength,
  sealLength,
  type FlashLayout,
} from "../flash-format/layout.js";
import { crc32 } from "../flash-format/crc32.js";
import { getU32, putU32 } from "../flash-format/bytes.js";

export interface SlotRecord {
  state: ImageState;
  /** Trial boots still allowed while pending-test. */
  trialsLeft: number;
  size: number;
  /** The module's CRC field; recorded, never relied on. */
  crc: number;
  /** Receive session (the seq of the record that started it); binds the resume journal to this image. */
  session: number;
  /** Lower-case hex, or "" when unknown. */
  md5: string;
  /** Lower-case hex, or "" when unknown. */
  sha256: string;
  component: string;
  version: string;
  /** Why the slot reached its state (verification failure, rollback, abandon), or "". */
  reason: string;
}

export interface BootRecord {
  seq: number;
  /** The slot with the last confirmed image: what start-up falls back to. */
  confirmedSlot: number;
  slots: [SlotRecord, SlotRecord];
}

const MAGIC = 0x42544f53; // "SOTB" little-endian
const FORMAT = 1;
const SLOT_BYTES = 200;
const SLOT0 = 12;
const CRC_AT = RECORD_BYTES - 4;
export const COMPONENT_MAX = 32;
export const VERSION_MAX = 64;
export const REASON_MAX = 37;

export function emptySlot(reason = ""): SlotRecord {
  return {
    state: "empty",
    trialsLeft: 0,
    size: 0,
    crc: 0,
    session: 0,
    md5: "",
    sha256: "",
    component: "",
    version: "",
    reason,
  };
}

export function cloneRecord(record: BootRecord): BootRecord {
  return {
    seq: record.seq,
    confirmedSlot: record.confirmedSlot,
    slots: [{ ...record.slots[0] }, { ...record.slots[1] }],
  };
}

function putText(bytes: Uint8Array, at: number, text: string, max: number): void {
  const length = Math.min(text.length, max);
  bytes[at] = length;
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    bytes[at + 1 + i] = code >= 0x20 && code < 0x7f ? code : 0x3f; // records hold printable ASCII only
  }
}

function getText(bytes: Uint8Array, at: number, max: number): string | undefined {
  const length = bytes[at]!;
  if (length > max) return undefined;
  let text = "";
  for (let i = 0; i < length; i++) text += String.fromCharCode(bytes[at + 1 + i]!);
  return text;
}

function putHex(bytes: Uint8Array, at: number, hex: string, length: number): void {
  for (let i = 0; i < length; i++)
    bytes[at + i] = hex.length === length * 2 ? parseInt(hex.substr(i * 2, 2), 16) : 0;
}

function getHex(bytes: Uint8Array, at: number, length: number): string {
  let text = "";
  for (let i = 0; i < length; i++) text += (bytes[at + i]! < 16 ? "0" : "") + bytes[at + i]!.toString(16);
  return text;
}

function encodeSlot(slot: SlotRecord, into: Uint8Array, at: number): void {
  into[at] = IMAGE_STATES.indexOf(slot.state);
  into[at + 1] = Math.max(0, Math.min(255, slot.trialsLeft));
  into[at + 2] = (slot.sha256.length === 64 ? 1 : 0) | (slot.md5.length === 32 ? 2 : 0);
  putU32(into, at + 4, slot.size);
  putU32(into, at + 8, slot.crc);
  putU32(into, at + 12, slot.session);
  putHex(into, at + 16, slot.md5, 16);
  putHex(into, at + 32, slot.sha256, 32);
  putText(into, at + 64, slot.component, COMPONENT_MAX);
  putText(into, at + 97, slot.version, VERSION_MAX);
  putText(into, at + 162, slot.reason, REASON_MAX);
}

function decodeSlot(bytes: Uint8Array, at: number, slotLength: number): SlotRecord | undefined {
  const state = IMAGE_STATES[bytes[at]!];
  const component = getText(bytes, at + 64, COMPONENT_MAX);
  const version = getText(bytes, at + 97, VERSION_MAX);
  const reason = getText(bytes, at + 162, REASON_MAX);
  const size = getU32(bytes, at + 4);
  if (
    state === undefined ||
    component === undefined ||
    version === undefined ||
    reason === undefined ||
    size > slotLength
  )
    return undefined;
  return {
    state,
    trialsLeft: bytes[at + 1]!,
    size,
    crc: getU32(bytes, at + 8),
    session: getU32(bytes, at + 12),
    md5: bytes[at + 2]! & 2 ? getHex(bytes, at + 16, 16) : "",
    sha256: bytes[at + 2]! & 1 ? getHex(bytes, at + 32, 32) : "",
    component,
    version,
    reason,
  };
}

/** Encodes into `into` (RECORD_BYTES long); the rest of the record slot is left to the caller. */
export function encodeRecord(record: BootRecord, into: Uint8Array): void {
  into.fill(0, 0, RECORD_BYTES);
  putU32(into, 0, MAGIC);
  into[4] = FORMAT;
  into[5] = record.confirmedSlot;
  putU32(into, 8, record.seq);
  for (let s = 0; s < 2; s++) encodeSlot(record.slots[s]!, into, SLOT0 + s * SLOT_BYTES);
  putU32(into, CRC_AT, crc32(into, 0, CRC_AT));
}

/** Decodes a record, or undefined when its magic, CRC or content is not consistent. */
export function decodeRecord(bytes: Uint8Array, slotLength: number): BootRecord | undefined {
  if (getU32(bytes, 0) !== MAGIC || bytes[4] !== FORMAT) return undefined;
  if (getU32(bytes, CRC_AT) !== crc32(bytes, 0, CRC_AT)) return undefined;
  const confirmedSlot = bytes[5]!;
  if (confirmedSlot > 1) return undefined;
  const slots: SlotRecord[] = [];
  for (let s = 0; s < 2; s++) {
    const slot = decodeSlot(bytes, SLOT0 + s * SLOT_BYTES, slotLength);
    if (!slot) return undefined;
    slots.push(slot);
  }
  // Exactly one confirmed slot, and it is the one named: anything else is not a record this code wrote.
  if (slots[confirmedSlot]!.state !== "confirmed" || slots[1 - confirmedSlot]!.state === "confirmed")
    return undefined;
  return { seq: getU32(bytes, 8), confirmedSlot, slots: slots as [SlotRecord, SlotRecord] };
}

// Image seal: a copy of a verified image's slot record at the very end of its own slot (MCUboot keeps its image
// trailer there too). Start-up needs it only when the boot records cannot be trusted: a seal whose digests match
// the slot's bytes proves a whole image, so start-up never has to guess a slot that may hold a partial one.
const SEAL_MAGIC = 0x53544f53; // "SOTS" little-endian
const SEAL_CRC_AT = SEAL_BYTES - 4;

/** Where a slot's seal lives: the last sealLength bytes of the slot (an image must end before it to be sealed). */
export function sealOffset(layout: FlashLayout, slot: number): number {
  const region = layout.slots[slot]!;
  return region.offset + region.length - sealLength(layout);
}

/** True when an image of `size` bytes leaves room for its seal in the slot. */
export function sealFits(layout: FlashLayout, size: number): boolean {
  return (
    Math.ceil(size / layout.writeAlign) * layout.writeAlign <= layout.slots[0].length - sealLength(layout)
  );
}

/** Encodes a seal into `into` (sealLength(layout) long, the padding gets the erase value). */
export function encodeSeal(slot: SlotRecord, into: Uint8Array, eraseValue: number): void {
  into.fill(0, 0, SEAL_BYTES);
  into.fill(eraseValue, SEAL_BYTES);
  putU32(into, 0, SEAL_MAGIC);
  into[4] = FORMAT;
  encodeSlot(slot, into, 8);
  putU32(into, SEAL_CRC_AT, crc32(into, 0, SEAL_CRC_AT));
}

/** Decodes a seal, or undefined when its magic, CRC or content is not consistent (or it names no digest). */
export function decodeSeal(bytes: Uint8Array, slotLength: number): SlotRecord | undefined {
  if (getU32(bytes, 0) !== SEAL_MAGIC || bytes[4] !== FORMAT) return undefined;
  if (getU32(bytes, SEAL_CRC_AT) !== crc32(bytes, 0, SEAL_CRC_AT)) return undefined;
  const slot = decodeSlot(bytes, 8, slotLength);
  return slot && (slot.md5 || slot.sha256) ? slot : undefined;
}

/** Where records live and which record slot the next one goes to. */
export class RecordStore {
  readonly #flash: FlashPartition;
  readonly #layout: FlashLayout;
  readonly #slotLength: number;
  readonly #perBlock: number;
  readonly #scratch: Uint8Array;
  #activeBlock = -1;
  #next = 0;
  #lastUsed: [number, number] = [-1, -1];
  #seq = 0;
  #newerDamaged = false;

  constructor(flash: FlashPartition, layout: FlashLayout) {
    this.#flash = flash;
    this.#layout = layout;
    this.#slotLength = recordSlotLength(layout);
    this.#perBlock = Math.floor(layout.blockLength / this.#slotLength);
    this.#scratch = new Uint8Array(this.#slotLength);
  }

  /** Seq of the newest valid record (0 when none). */
  get seq(): number {
    return this.#seq;
  }

  /**
   * True when the record slot after the newest valid record (in append order) holds something that is not a
   * valid record: a torn write or erase, or a newer record that decayed. The newest record may then not be the
   * last state written, so start-up re-checks the image it names before trusting it.
   */
  get newerDamaged(): boolean {
    return this.#newerDamaged;
  }

  /** Makes the next commit use a seq above `seq` (after a recovery, above every session a seal names). */
  raiseSeq(seq: number): void {
    if (seq > this.#seq) this.#seq = seq;
  }

  /** Record slots per block (how many changes fit before a block switch). */
  get perBlock(): number {
    return this.#perBlock;
  }

  #offset(block: number, index: number): number {
    return this.#layout.records[block]!.offset + index * this.#slotLength;
  }

  #erased(bytes: Uint8Array): boolean {
    const value = this.#layout.eraseValue;
    for (let i = 0; i < bytes.length; i++) if (bytes[i] !== value) return false;
    return true;
  }

  /** Scans both blocks: the newest valid record, or undefined when there is none. */
  load(): BootRecord | undefined {
    let best: BootRecord | undefined;
    let bestBlock = -1;
    let bestIndex = -1;
    for (let block = 0; block < 2; block++) {
      this.#lastUsed[block] = -1;
      for (let index = 0; index < this.#perBlock; index++) {
        this.#flash.read(this.#scratch, this.#offset(block, index));
        if (this.#erased(this.#scratch)) continue;
        this.#lastUsed[block] = index;
        const record = decodeRecord(this.#scratch, this.#layout.slots[0].length);
        if (record && (!best || record.seq > best.seq)) {
          best = record;
          bestBlock = block;
          bestIndex = index;
        }
      }
    }
    this.#newerDamaged = false;
    if (best) {
      const nextBlock = bestIndex + 1 < this.#perBlock ? bestBlock : 1 - bestBlock;
      this.#flash.read(this.#scratch, this.#offset(nextBlock, nextBlock === bestBlock ? bestIndex + 1 : 0));
      this.#newerDamaged =
        !this.#erased(this.#scratch) &&
        decodeRecord(this.#scratch, this.#layout.slots[0].length) === undefined;
    }
    this.#activeBlock = bestBlock;
    this.#seq = best ? best.seq : 0;
    this.#next = bestBlock >= 0 ? this.#lastUsed[bestBlock]! + 1 : 0;
    return best;
  }

  /** Appends `record` with the next seq (set on the object) and returns it. */
  commit(record: BootRecord): number {
    record.seq = this.#seq + 1;
    encodeRecord(record, this.#scratch);
    this.#scratch.fill(this.#layout.eraseValue, RECORD_BYTES);
    let block = this.#activeBlock;
    let index = this.#next;
    if (block < 0) {
      // No valid record anywhere: block 0 holds nothing worth keeping; use its free tail or erase it.
      block = 0;
      index = this.#lastUsed[0] + 1;
      if (index >= this.#perBlock) {
        this.#flash.eraseBlock(this.#layout.records[0].offset / this.#layout.blockLength);
        this.#lastUsed[0] = -1;
        index = 0;
      }
    } else if (index >= this.#perBlock) {
      // Block switch: the erased block never holds the newest valid record (it stays in #activeBlock).
      block = 1 - block;
      this.#flash.eraseBlock(this.#layout.records[block]!.offset / this.#layout.blockLength);
      this.#lastUsed[block] = -1;
      index = 0;
    }
    // Atomic: this record write is the state change; torn, its CRC fails and the previous record stays in charge.
    try {
      this.#flash.write(this.#scratch, this.#offset(block, index));
    } catch (error) {
      // The slot may hold a partial record now: never reuse it. The write may even have landed whole (an I/O
      // error reported after programming): burn its seq, so the next record outranks it instead of tying with it.
      this.#seq = record.seq;
      this.#lastUsed[block] = index;
      if (this.#activeBlock === block) this.#next = index + 1;
      throw error;
    }
    this.#lastUsed[block] = index;
    this.#activeBlock = block;
    this.#next = index + 1;
    this.#seq = record.seq;
    return record.seq;
  }
}
