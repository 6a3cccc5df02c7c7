// Generic boot control: start-up decides the running slot from the boot records (trial boots, confirm, rollback).
//
// There is no hardware bootloader here: "booting" is openBoot() computing which slot runs, and a restart is
// calling openBoot() again on the same flash. Every persistent change is exactly one boot record (records.ts).
import type { FlashPartition } from "../../hal/flash.js";
import { toHex, type Digest, type DigestFactory } from "../../hal/digest.js";
import type { ImageDescriptor, ImageReceiver, VerifyResult } from "../image/types.js";
import { ResumeJournal } from "../image/journal.js";
import { SlotReceiver, type ReceiverContext } from "../image/receiver.js";
import { checkedDescriptor, writeFactoryImage } from "./slot-image.js";
import { sealLength, validateLayout, type FlashLayout } from "../flash-format/layout.js";
import {
  RecordStore,
  cloneRecord,
  decodeSeal,
  emptySlot,
  encodeSeal,
  sealFits,
  sealOffset,
  type BootRecord,
  type SlotRecord,
} from "./records.js";
import type { BootControl, BootReport, SlotInfo } from "./types.js";

export interface BootOptions {
  /** Start-ups a pending image gets before it must be confirmed (default 1). */
  trialBoots?: number;
  /** Re-hash a trial image against its record before booting it; a mismatch rolls back (default true). */
  verifyOnBoot?: boolean;
  /** Also re-hash the confirmed image at every start-up, for report.integrity only (default false: costs boot time). */
  verifyConfirmed?: boolean;
}

/** How the running image compared with its record at start-up. */
export type Integrity = "ok" | "mismatch" | "unchecked";

export interface GenericBootReport extends BootReport {
  /** "unchecked" when not verified at this start-up (see BootOptions) or the record has no digest (unknown factory image). */
  integrity: Integrity;
}

export interface GenericBootControl extends BootControl {
  readonly report: GenericBootReport;
  /** The current boot record (a copy), for status output and tests. */
  record(): BootRecord;
}

/** Reasons recorded by start-up and by this module (the engine supplies its own for reject/abandon). */
export const REASON = {
  noRecord: "no valid boot record",
  trialNotConfirmed: "trial not confirmed",
  hashMismatch: "image hash mismatch",
  superseded: "superseded",
  /** The newest record was damaged and the image the surviving one names no longer matches it. */
  confirmedMismatch: "confirmed image hash mismatch",
} as const;

const READ_CHUNK = 1024;

function slotInfo(slot: number, record: SlotRecord): SlotInfo & { reason: string; trialsLeft: number } {
  return {
    slot,
    state: record.state,
    component: record.component,
    version: record.version,
    size: record.size,
    md5: record.md5,
    sha256: record.sha256,
    reason: record.reason,
    trialsLeft: record.trialsLeft,
  };
}

/** Streams `size` bytes of a slot through `digest` and returns its lower-case hex. */
function hashSlot(
  flash: FlashPartition,
  layout: FlashLayout,
  slot: number,
  size: number,
  digest: Digest,
  scratch: Uint8Array,
): string {
  const offset = layout.slots[slot]!.offset;
  digest.reset();
  for (let at = 0; at < size; at += scratch.length) {
    const n = Math.min(scratch.length, size - at);
    const chunk = n === scratch.length ? scratch : scratch.subarray(0, n);
    flash.read(chunk, offset + at);
    digest.write(chunk);
  }
  return toHex(digest.close());
}

/** Copy of the first `size` bytes of a slot (for `status` and tests; allocates `size` bytes). */
export function readSlotImage(
  flash: FlashPartition,
  layout: FlashLayout,
  slot: number,
  size: number,
): Uint8Array {
  const region = layout.slots[slot];
  if (!region || size < 0 || size > region.length) throw new RangeError(`slot ${slot} has no ${size} bytes`);
  const bytes = new Uint8Array(size);
  flash.read(bytes, region.offset);
  return bytes;
}

/** SHA-256 (lower-case hex) of the first `size` bytes of a slot. */
export function slotSha256(
  flash: FlashPartition,
  layout: FlashLayout,
  digests: DigestFactory,
  slot: number,
  size: number,
): string {
  return hashSlot(flash, layout, slot, size, digests.create("SHA256"), new Uint8Array(READ_CHUNK));
}

/** The records as they are, without a start-up decision (no writes, no trial consumed): for `status`. */
export function inspectBoot(
  flash: FlashPartition,
  layout: FlashLayout,
): { record: BootRecord | undefined; slots: SlotInfo[] } {
  validateLayout(layout, flash.status());
  const record = new RecordStore(flash, layout).load();
  return { record, slots: record ? record.slots.map((s, i) => slotInfo(i, s)) : [] };
}

/** Writes a confirmed factory image into slot 0 with fresh records (everything else erased). */
export function formatFactory(
  flash: FlashPartition,
  layout: FlashLayout,
  digests: DigestFactory,
  image: { component: string; version: string; bytes: Uint8Array },
): void {
  validateLayout(layout, flash.status());
  const written = writeFactoryImage(flash, layout, digests, image);
  const factorySlot: SlotRecord = {
    ...emptySlot(),
    state: "confirmed",
    ...written,
    component: image.component,
    version: image.version,
  };
  // The seal lets start-up find this image even if every boot record is lost later.
  if (sealFits(layout, written.size))
    writeSeal(flash, layout, 0, factorySlot, new Uint8Array(sealLength(layout)));
  const store = new RecordStore(flash, layout);
  store.load();
  // Atomic: this first record makes slot 0 the confirmed image; without it start-up treats slot 0 as factory anyway.
  store.commit({ seq: 0, confirmedSlot: 0, slots: [factorySlot, emptySlot()] });
}

/**
 * Writes the seal of a verified image at the end of its slot, unless the same seal is there already. Returns
 * false when the seal area holds something else and shares its block with the image (a torn seal of this
 * receive): it is then left unsealed, and only the boot records vouch for it.
 */
function writeSeal(
  flash: FlashPartition,
  layout: FlashLayout,
  slot: number,
  record: SlotRecord,
  scratch: Uint8Array,
): boolean {
  const at = sealOffset(layout, slot);
  const length = sealLength(layout);
  const seal = scratch.subarray(0, length);
  flash.read(seal, at);
  const existing = decodeSeal(seal, layout.slots[0].length);
  if (existing && sameImage(existing, record)) return true;
  let erased = true;
  for (let i = 0; i < length; i++) if (seal[i] !== layout.eraseValue) erased = false;
  if (!erased) {
    const sealBlock = Math.floor(at / layout.blockLength);
    const imageEnd =
      layout.slots[slot]!.offset + Math.ceil(record.size / layout.writeAlign) * layout.writeAlign;
    if (imageEnd > sealBlock * layout.blockLength) return false;
    // Safe: the slot is still "receiving" in the boot record and this block lies wholly past the image.
    flash.eraseBlock(sealBlock);
  }
  encodeSeal({ ...record, state: "verified", trialsLeft: 0, reason: "" }, seal, layout.eraseValue);
  flash.write(seal, at);
  return true;
}

function sameImage(a: SlotRecord, b: SlotRecord): boolean {
  return (
    a.size === b.size &&
    a.md5 === b.md5 &&
    a.sha256 === b.sha256 &&
    a.component === b.component &&
    a.version === b.version &&
    a.session === b.session
  );
}

class GenericBoot implements GenericBootControl {
  readonly #flash: FlashPartition;
  readonly #layout: FlashLayout;
  readonly #store: RecordStore;
  readonly #journal: ResumeJournal;
  readonly #md5: Digest;
  readonly #sha256: Digest;
  readonly #scratch: Uint8Array;
  readonly #sectorCrcs: Uint32Array;
  readonly #trialBoots: number;
  #record: BootRecord;
  #running: number;
  #trial: boolean;
  #rollbackReason = "";
  #integrity: Integrity = "unchecked";
  /** Bumped whenever the receive is replaced or dropped, so stale receivers refuse to write. */
  #generation = 0;

  constructor(flash: FlashPartition, layout: FlashLayout, digests: DigestFactory, options: BootOptions) {
    validateLayout(layout, flash.status());
    this.#flash = flash;
    this.#layout = layout;
    this.#store = new RecordStore(flash, layout);
    this.#journal = new ResumeJournal(flash, layout);
    this.#md5 = digests.create("MD5");
    this.#sha256 = digests.create("SHA256");
    this.#scratch = new Uint8Array(Math.max(READ_CHUNK, sealLength(layout)));
    this.#sectorCrcs = new Uint32Array(layout.slots[0].length / layout.blockLength);
    this.#trialBoots = Math.max(1, Math.min(255, Math.floor(options.trialBoots ?? 1)));
    const verify = options.verifyOnBoot ?? true;

    let record = this.#store.load();
    let verifiedTrial = -1;
    if (record && this.#store.newerDamaged) {
      // A newer record may have been lost: the surviving one may name an image that has since been overwritten.
      const confirmed = record.slots[record.confirmedSlot]!;
      if (confirmed.sha256 || confirmed.md5) {
        const matches = this.#matches(record.confirmedSlot, confirmed);
        this.#integrity = matches ? "ok" : "mismatch";
        if (!matches) {
          this.#rollbackReason = REASON.confirmedMismatch;
          record = undefined;
        }
      }
    }
    if (!record) {
      if (!this.#rollbackReason) this.#rollbackReason = REASON.noRecord;
      const recovered = this.#recover(this.#rollbackReason);
      record = recovered.record;
      verifiedTrial = recovered.verifiedTrial;
      // Atomic: this one record replaces the lost state; cut before it, the next start-up recovers the same way.
      this.#commit(record);
    }
    this.#record = record;
    const confirmed = record.confirmedSlot;
    const other = 1 - confirmed;
    this.#running = confirmed;
    this.#trial = false;
    const pending = record.slots[other]!;
    if (pending.state === "pending-test") {
      const next = cloneRecord(record);
      const nextSlot = next.slots[other]!;
      const rollback =
        pending.trialsLeft <= 0
          ? REASON.trialNotConfirmed
          : verify && verifiedTrial !== other && !this.#matches(other, pending)
            ? REASON.hashMismatch
            : "";
      if (rollback) {
        this.#rollbackReason = rollback;
        nextSlot.state = "rejected";
        nextSlot.trialsLeft = 0;
        nextSlot.reason = rollback;
      } else {
        nextSlot.trialsLeft--;
        this.#running = other;
        this.#trial = true;
        this.#integrity = verify || verifiedTrial === other ? "ok" : "unchecked";
      }
      // Atomic: one record either spends a trial boot or rejects the image; cut before it, this start-up repeats.
      this.#commit(next);
    }
    if (!this.#trial && options.verifyConfirmed) {
      const slot = this.#record.slots[this.#running]!;
      if (slot.sha256 || slot.md5) this.#integrity = this.#matches(this.#running, slot) ? "ok" : "mismatch";
    }
  }

  /**
   * Rebuilds the state from the image seals when no record can be trusted: only a slot whose sealed digests match
   * its bytes counts. Two whole images: the older (by receive session) becomes the confirmed fallback and the newer
   * gets a trial, so a rejected or never-confirmed image cannot become permanent. One: it is confirmed. None (blank
   * flash, or images flashed without seals): slot 0 runs as the factory image with unknown digests.
   */
  #recover(reason: string): { record: BootRecord; verifiedTrial: number } {
    const whole: (SlotRecord | undefined)[] = [undefined, undefined];
    const seal = this.#scratch.subarray(0, sealLength(this.#layout));
    for (let slot = 0; slot < 2; slot++) {
      this.#flash.read(seal, sealOffset(this.#layout, slot));
      const sealed = decodeSeal(seal, this.#layout.slots[0].length);
      if (sealed && sealFits(this.#layout, sealed.size) && this.#matches(slot, sealed)) whole[slot] = sealed;
      if (sealed) this.#store.raiseSeq(sealed.session);
    }
    const [a, b] = whole;
    const confirmedSlot = a && b ? (b.session < a.session ? 1 : 0) : b ? 1 : 0;
    const slots: [SlotRecord, SlotRecord] = [emptySlot(reason), emptySlot(reason)];
    const confirmed = whole[confirmedSlot];
    slots[confirmedSlot] = confirmed
      ? { ...confirmed, state: "confirmed", trialsLeft: 0, reason }
      : { ...emptySlot(reason), state: "confirmed" };
    this.#integrity = confirmed ? "ok" : "unchecked";
    const newer = whole[1 - confirmedSlot];
    if (newer)
      slots[1 - confirmedSlot] = { ...newer, state: "pending-test", trialsLeft: this.#trialBoots, reason };
    return { record: { seq: 0, confirmedSlot, slots }, verifiedTrial: newer ? 1 - confirmedSlot : -1 };
  }

  #matches(slot: number, record: SlotRecord): boolean {
    if (record.size > this.#layout.slots[slot]!.length) return false;
    if (record.sha256)
      return (
        hashSlot(this.#flash, this.#layout, slot, record.size, this.#sha256, this.#scratch) === record.sha256
      );
    if (record.md5)
      return hashSlot(this.#flash, this.#layout, slot, record.size, this.#md5, this.#scratch) === record.md5;
    return false;
  }

  #commit(record: BootRecord): void {
    this.#store.commit(record);
    this.#record = record;
  }

  get report(): GenericBootReport {
    const slots = this.#record.slots.map((s, i) => slotInfo(i, s));
    return {
      running: slots[this.#running]!,
      trial: this.#trial,
      rollbackReason: this.#rollbackReason,
      slots,
      integrity: this.#integrity,
    };
  }

  record(): BootRecord {
    return cloneRecord(this.#record);
  }

  get #target(): number {
    return 1 - this.#record.confirmedSlot;
  }

  #notOnTrial(action: string): void {
    if (this.#trial)
      throw new Error(`boot: cannot ${action} while the trial image runs; confirm or reject it first`);
  }

  #context(session: number, size: number): ReceiverContext {
    const generation = ++this.#generation;
    const target = this.#target;
    const layout = this.#layout;
    const sealBlock = Math.floor(sealOffset(layout, target) / layout.blockLength);
    const imageEndBlock = Math.ceil((layout.slots[target]!.offset + size) / layout.blockLength);
    return {
      flash: this.#flash,
      layout: this.#layout,
      slot: this.#layout.slots[target]!,
      session,
      journal: this.#journal,
      md5: this.#md5,
      sha256: this.#sha256,
      scratch: this.#scratch,
      sectorCrcs: this.#sectorCrcs,
      // The seal's block, when it lies past the image: erased by eraseStep before the seal is written at finish().
      sealBlock: sealFits(layout, size) && sealBlock >= imageEndBlock ? sealBlock : -1,
      isCurrent: () => this.#generation === generation,
      onVerdict: (result: VerifyResult) => this.#verdict(target, session, result),
    };
  }

  #verdict(target: number, session: number, result: VerifyResult): void {
    const slot = this.#record.slots[target]!;
    if (slot.state !== "receiving" || slot.session !== session)
      throw new Error("boot: the receive this verdict belongs to is gone");
    const next = cloneRecord(this.#record);
    const nextSlot = next.slots[target]!;
    nextSlot.state = result.ok ? "verified" : "rejected";
    nextSlot.reason = result.ok ? "" : `verify failed: ${result.reason}`;
    if (result.ok) {
      nextSlot.md5 = result.md5;
      nextSlot.sha256 = result.sha256;
      // Before the record: a seal is only ever written for bytes that verified, and re-hashed before any use.
      if (sealFits(this.#layout, nextSlot.size))
        writeSeal(this.#flash, this.#layout, target, nextSlot, this.#scratch);
    }
    // Atomic: this record alone turns the received bytes into an activatable (or refused) image.
    this.#commit(next);
  }

  startReceive(descriptor: ImageDescriptor): ImageReceiver {
    this.#notOnTrial("receive an image");
    const slotLength = this.#layout.slots[0].length;
    const d = checkedDescriptor(descriptor, slotLength, `the ${slotLength}-byte slot`);
    const next = cloneRecord(this.#record);
    const session = this.#store.seq + 1;
    next.slots[this.#target] = {
      ...emptySlot(),
      state: "receiving",
      size: d.size,
      crc: d.crc,
      session,
      md5: d.md5,
      sha256: d.sha256,
      component: d.component,
      version: d.version,
    };
    // Atomic: this record makes the target slot "receiving" before any of its blocks is erased.
    this.#commit(next);
    return SlotReceiver.start(this.#context(session, d.size), d);
  }

  rebindReceive(receiver: ImageReceiver, descriptor: ImageDescriptor): ImageReceiver {
    const slot = this.#record.slots[this.#target]!;
    if (this.#trial || slot.state !== "receiving" || !SlotReceiver.untouched(receiver))
      throw new Error("boot: no untouched receive to bind to another image");
    const slotLength = this.#layout.slots[0].length;
    const d = checkedDescriptor(descriptor, slotLength, `the ${slotLength}-byte slot`);
    const next = cloneRecord(this.#record);
    next.slots[this.#target] = {
      ...slot,
      size: d.size,
      crc: d.crc,
      md5: d.md5,
      sha256: d.sha256,
      component: d.component,
      version: d.version,
    };
    // Atomic: this record names the real image; no byte is written in the slot yet, so a reset re-erases at worst.
    this.#commit(next);
    return SlotReceiver.rebind(this.#context(slot.session, d.size), d, receiver);
  }

  resumeReceive(previous?: ImageReceiver): ImageReceiver | undefined {
    if (this.#trial) return undefined;
    const slot = this.#record.slots[this.#target]!;
    if (slot.state !== "receiving") return undefined;
    const descriptor: ImageDescriptor = {
      component: slot.component,
      version: slot.version,
      size: slot.size,
      md5: slot.md5,
      sha256: slot.sha256,
      crc: slot.crc,
    };
    return SlotReceiver.resume(this.#context(slot.session, slot.size), descriptor, previous);
  }

  get eraseBlockLength(): number {
    return this.#layout.blockLength;
  }

  get runningSlotLength(): number {
    return this.#layout.slots[this.#running]!.length;
  }

  readRunning(offset: number, into: Uint8Array): void {
    const region = this.#layout.slots[this.#running]!;
    if (offset < 0 || offset + into.length > region.length)
      throw new RangeError(`boot: read ${offset}+${into.length} outside the running slot`);
    this.#flash.read(into, region.offset + offset);
  }

  abandonReceive(reason: string): void {
    this.#notOnTrial("abandon a receive");
    this.#generation++;
    const state = this.#record.slots[this.#target]!.state;
    if (state === "empty" || state === "rejected") return;
    const next = cloneRecord(this.#record);
    next.slots[this.#target] = emptySlot(reason);
    // Atomic: this record drops the partial/verified/pending image; its bytes are simply no longer trusted.
    this.#commit(next);
  }

  activate(): void {
    this.#notOnTrial("activate");
    const slot = this.#record.slots[this.#target]!;
    if (slot.state !== "verified")
      throw new Error(`boot: only a verified image can be activated (slot ${this.#target} is ${slot.state})`);
    this.#generation++;
    const next = cloneRecord(this.#record);
    next.slots[this.#target]!.state = "pending-test";
    next.slots[this.#target]!.trialsLeft = this.#trialBoots;
    // Atomic: this record makes the next start-up boot the image as a trial.
    this.#commit(next);
  }

  confirm(): void {
    if (!this.#trial) {
      if (this.#running === this.#record.confirmedSlot) return; // already permanent: confirming again is harmless
      throw new Error("boot: the running image was rejected; restart to return to the confirmed image");
    }
    const next = cloneRecord(this.#record);
    const old = next.confirmedSlot;
    next.slots[this.#running]!.state = "confirmed";
    next.slots[this.#running]!.trialsLeft = 0;
    next.slots[old] = emptySlot(REASON.superseded);
    next.confirmedSlot = this.#running;
    // Atomic: this record swaps the confirmed slot; until it lands the old image stays the fallback.
    this.#commit(next);
    this.#trial = false;
  }

  reject(reason: string): void {
    if (!this.#trial) throw new Error("boot: no trial image runs, nothing to reject");
    const next = cloneRecord(this.#record);
    const slot = next.slots[this.#running]!;
    slot.state = "rejected";
    slot.trialsLeft = 0;
    slot.reason = reason;
    // Atomic: this record rejects the trial image; the next start-up runs the confirmed slot.
    this.#commit(next);
    this.#trial = false;
  }
}

/** Start-up: reads the records, spends a trial boot or rolls back, and returns the control for this run. */
export function openBoot(
  flash: FlashPartition,
  layout: FlashLayout,
  digests: DigestFactory,
  options: BootOptions = {},
): GenericBootControl {
  return new GenericBoot(flash, layout, digests, options);
}
