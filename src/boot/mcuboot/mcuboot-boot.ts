// MCUboot boot backend: the image goes whole into slot 1, activate() writes MCUboot's test-upgrade request, the trial
// is read from the primary slot's trailer at start-up, confirm() writes image_ok as boot_write_img_confirmed() does.
//
// MCUboot decides at reset (swap, revert); its trailer is the authority. The boot records (records.ts) only remember
// what the slots hold (component, version, digests) and the receive for resuming; start-up reconciles them with the
// trailer, so a power cut between a trailer write and its record never misreports the running image.
import type { FlashPartition } from "../../../hal/flash.js";
import { FlashError } from "../../../hal/flash.js";
import type { Digest, DigestFactory } from "../../../hal/digest.js";
import type { ImageDescriptor, ImageReceiver, VerifyResult } from "../../image/types.js";
import { ResumeJournal } from "../../image/journal.js";
import { SlotReceiver, type ReceiverContext } from "../../image/receiver.js";
import { checkedDescriptor, writeFactoryImage } from "../slot-image.js";
import { validateLayout, type FlashLayout, type Region } from "../../flash-format/layout.js";
import { RecordStore, cloneRecord, emptySlot, type BootRecord, type SlotRecord } from "../records.js";
import type { BootControl, BootReport, SlotInfo } from "../types.js";
import {
  BootFlag,
  BootMagic,
  BootRc,
  McubootTrailer,
  SwapType,
  decideSwap,
  type FlashArea,
  type SwapMode,
  type SwapState,
} from "./trailer.js";

export interface McubootOptions {
  /** MCUboot's upgrade mode (CONFIG_BOOT_SWAP_USING_OFFSET / _MOVE / _SCRATCH); default "offset", Zephyr's
   *  default on boards without a scratch partition (with one, Zephyr defaults to "scratch"). */
  mode?: SwapMode;
  /** BOOT_MAX_ALIGN (CONFIG_MCUBOOT_BOOT_MAX_ALIGN): default max(8, flash write block). */
  maxAlign?: number;
  /** BOOT_MAX_IMG_SECTORS: sizes the swap status area (default 128). */
  maxImgSectors?: number;
}

export interface McubootBootReport extends BootReport {
  /** The two slots' trailers at start-up, and what MCUboot would decide at the next reset. */
  primary: SwapState;
  secondary: SwapState;
  swapType: number;
}

export interface McubootBootControl extends BootControl {
  readonly report: McubootBootReport;
  readonly trailer: McubootTrailer;
  /** The current boot record (a copy), for status output and tests. */
  record(): BootRecord;
  /** Largest image slot 1 takes (MCUboot's limit: the trailer's sectors and one spare sector left out). */
  readonly maxImageSize: number;
}

export const REASON = {
  noRecord: "no valid boot record",
  trialNotConfirmed: "trial not confirmed",
  superseded: "superseded",
  /** The bootloader runs an image on trial that no record of ours names (the records were lost). */
  unknownTrial: "unknown trial image",
} as const;

const READ_CHUNK = 1024;

/** Absolute block range [first, end) holding a slot's trailer (the last trailerSize bytes, whole sectors). */
export function trailerBlocks(layout: FlashLayout, trailer: McubootTrailer, slot: number): [number, number] {
  const region = layout.slots[slot]!;
  const end = (region.offset + region.length) / layout.blockLength;
  const first = Math.floor((region.offset + region.length - trailer.layout.trailerSize) / layout.blockLength);
  return [first, end];
}

/** Where slot 1's image starts: swap-using-offset wants it one sector in (MCUboot's docs, "Swap using offset"). */
export function secondaryImageRegion(layout: FlashLayout, mode: SwapMode): Region {
  const slot = layout.slots[1];
  const skip = mode === "offset" ? layout.blockLength : 0;
  return { offset: slot.offset + skip, length: slot.length - skip };
}

export function makeTrailer(layout: FlashLayout, options: McubootOptions = {}): McubootTrailer {
  return new McubootTrailer(layout.slots[0].length, {
    mode: options.mode ?? "offset",
    maxAlign: options.maxAlign ?? Math.max(8, layout.writeAlign),
    writeAlign: layout.writeAlign,
    eraseValue: layout.eraseValue,
    maxImgSectors: options.maxImgSectors ?? 128,
  });
}

function slotInfo(slot: number, record: SlotRecord): SlotInfo & { reason: string } {
  return {
    slot,
    state: record.state,
    component: record.component,
    version: record.version,
    size: record.size,
    md5: record.md5,
    sha256: record.sha256,
    reason: record.reason,
  };
}

/** Writes the factory image into slot 0 with a fresh record (everything else erased, no trailer: MCUboot runs it). */
export function formatMcuboot(
  flash: FlashPartition,
  layout: FlashLayout,
  digests: DigestFactory,
  image: { component: string; version: string; bytes: Uint8Array },
): void {
  validateLayout(layout, flash.status());
  const written = writeFactoryImage(flash, layout, digests, image);
  const store = new RecordStore(flash, layout);
  store.load();
  // Atomic: this record names slot 0's image; without it start-up runs slot 0 as an unknown factory image.
  store.commit({
    seq: 0,
    confirmedSlot: 0,
    slots: [
      {
        ...emptySlot(),
        state: "confirmed",
        ...written,
        component: image.component,
        version: image.version,
      },
      emptySlot(),
    ],
  });
}

/**
 * The slot receiver with slot 1's trailer sectors erased first: a stale trailer (an old request, a torn magic) is
 * gone before any image sector is touched, and activate() then finds the erased trailer bootutil expects.
 */
class TrailerFirstReceiver implements ImageReceiver {
  readonly #inner: SlotReceiver;
  readonly #flash: FlashPartition;
  #next: number;
  readonly #end: number;

  constructor(inner: SlotReceiver, flash: FlashPartition, first: number, end: number) {
    this.#inner = inner;
    this.#flash = flash;
    this.#next = first;
    this.#end = end;
  }

  get descriptor(): ImageDescriptor {
    return this.#inner.descriptor;
  }

  /** The image body's receive (a rebind or a resume after a module reboot continues from it). */
  get inner(): SlotReceiver {
    return this.#inner;
  }

  get received(): number {
    return this.#inner.received;
  }

  readBack(offset: number, into: Uint8Array): void {
    this.#inner.readBack(offset, into);
  }

  needsErase(upTo: number): boolean {
    if (upTo <= this.#inner.received) return false;
    return this.#next < this.#end || this.#inner.needsErase(upTo);
  }

  eraseStep(upTo: number): boolean {
    if (upTo <= this.#inner.received) return false;
    if (this.#next < this.#end) {
      // Safe: the record names slot 1 "receiving", so no request of ours stands; erasing the magic cancels any other.
      this.#flash.eraseBlock(this.#next++);
      return true;
    }
    return this.#inner.eraseStep(upTo);
  }

  write(bytes: Uint8Array, length: number): void {
    if (this.#next < this.#end)
      throw new FlashError("mcuboot receiver: slot 1's trailer is not erased yet", "unerased");
    this.#inner.write(bytes, length);
  }

  finish(): VerifyResult {
    return this.#inner.finish();
  }
}

class McubootBoot implements McubootBootControl {
  readonly trailer: McubootTrailer;
  readonly maxImageSize: number;
  readonly #flash: FlashPartition;
  readonly #layout: FlashLayout;
  readonly #mode: SwapMode;
  readonly #store: RecordStore;
  readonly #journal: ResumeJournal;
  readonly #md5: Digest;
  readonly #sha256: Digest;
  readonly #scratch: Uint8Array;
  readonly #sectorCrcs: Uint32Array;
  readonly #primary: FlashArea;
  readonly #secondary: FlashArea;
  readonly #image: Region;
  readonly #startState: { primary: SwapState; secondary: SwapState; swapType: number };
  #record: BootRecord;
  #trial = false;
  #rollbackReason = "";
  #generation = 0;

  constructor(flash: FlashPartition, layout: FlashLayout, digests: DigestFactory, options: McubootOptions) {
    validateLayout(layout, flash.status());
    this.#flash = flash;
    this.#layout = layout;
    this.#mode = options.mode ?? "offset";
    this.trailer = makeTrailer(layout, options);
    const slotLength = layout.slots[0].length;
    this.#primary = { flash, offset: layout.slots[0].offset, size: slotLength };
    this.#secondary = { flash, offset: layout.slots[1].offset, size: slotLength };
    this.#image = secondaryImageRegion(layout, this.#mode);
    const [first] = trailerBlocks(layout, this.trailer, 1);
    // MCUboot's limit: the image ends before the trailer's sectors; move and offset also need one spare sector.
    const spare = this.#mode === "scratch" ? 0 : layout.blockLength;
    this.maxImageSize = first * layout.blockLength - layout.slots[1].offset - spare;
    this.#store = new RecordStore(flash, layout);
    this.#journal = new ResumeJournal(flash, layout);
    this.#md5 = digests.create("MD5");
    this.#sha256 = digests.create("SHA256");
    this.#scratch = new Uint8Array(READ_CHUNK);
    this.#sectorCrcs = new Uint32Array(slotLength / layout.blockLength);

    let record = this.#store.load();
    if (!record) {
      record = {
        seq: 0,
        confirmedSlot: 0,
        slots: [{ ...emptySlot(REASON.noRecord), state: "confirmed" }, emptySlot()],
      };
      this.#rollbackReason = REASON.noRecord;
      // Atomic: one record replaces the lost state; cut before it, the next start-up does the same.
      this.#commit(record);
    }
    this.#record = record;
    const primary = this.trailer.readState(this.#primary);
    const secondary = this.trailer.readState(this.#secondary);
    this.#startState = { primary, secondary, swapType: decideSwap(this.#mode, primary, secondary) };
    this.#reconcile(primary, secondary);
  }

  /** Brings the record in line with what MCUboot did at this reset (the trailer is the authority). */
  #reconcile(primary: SwapState, secondary: SwapState): void {
    const record = this.#record;
    // MCUboot booted a test swap and nobody confirmed it yet: magic good, image_ok unset, copy_done set.
    const onTrial =
      primary.magic === BootMagic.good &&
      primary.imageOk === BootFlag.unset &&
      primary.copyDone === BootFlag.set;
    const requested = secondary.magic === BootMagic.good;
    const next = cloneRecord(record);
    if (record.confirmedSlot === 0) {
      const target = record.slots[1];
      if (onTrial) {
        const known = target.state === "pending-test" || target.state === "verified";
        next.slots = [
          known
            ? { ...target, state: "pending-test", trialsLeft: 0, reason: "" }
            : { ...emptySlot(REASON.unknownTrial), state: "pending-test" },
          { ...record.slots[0], state: "confirmed" },
        ];
        next.confirmedSlot = 1;
        this.#trial = true;
        // Atomic: this record says the swap happened (old image in slot 1); cut before it, start-up redoes it.
        this.#commit(next);
      } else if (target.state === "pending-test" && !requested) {
        // The request is gone without a trial: MCUboot reverted it before a start-up saw it, or refused the image.
        this.#rollbackReason = REASON.trialNotConfirmed;
        next.slots[1] = { ...target, state: "rejected", reason: REASON.trialNotConfirmed };
        // Atomic: one record turns the pending image into a rejected one.
        this.#commit(next);
      } else if (target.state === "verified" && requested) {
        next.slots[1] = { ...target, state: "pending-test" };
        // Atomic: the request landed before its record (a cut in activate()); this record catches up.
        this.#commit(next);
      }
      return;
    }
    // confirmedSlot 1: the last start-up ran slot 0 on trial, with the old image in slot 1.
    const trialSlot = record.slots[0];
    if (onTrial) {
      this.#trial = trialSlot.state === "pending-test";
      return;
    }
    const confirmed =
      primary.magic === BootMagic.good &&
      primary.imageOk === BootFlag.set &&
      primary.swapType !== SwapType.revert;
    if (confirmed) {
      // image_ok landed (confirm() was cut before its record): the trial image is permanent.
      next.slots = [{ ...trialSlot, state: "confirmed", reason: "" }, emptySlot(REASON.superseded)];
    } else {
      // MCUboot reverted: the old image is back in slot 0, the trial image in slot 1.
      const reason =
        trialSlot.state === "rejected" && trialSlot.reason ? trialSlot.reason : REASON.trialNotConfirmed;
      this.#rollbackReason = reason;
      next.slots = [
        { ...record.slots[1], state: "confirmed" },
        { ...trialSlot, state: "rejected", reason },
      ];
    }
    next.confirmedSlot = 0;
    // Atomic: one record follows what MCUboot did; cut before it, the next start-up reads the same trailer.
    this.#commit(next);
  }

  #commit(record: BootRecord): void {
    this.#store.commit(record);
    this.#record = record;
  }

  get report(): McubootBootReport {
    const slots = this.#record.slots.map((s, i) => slotInfo(i, s));
    return {
      running: slots[0]!,
      trial: this.#trial,
      rollbackReason: this.#rollbackReason,
      slots,
      primary: this.#startState.primary,
      secondary: this.#startState.secondary,
      swapType: this.#startState.swapType,
    };
  }

  record(): BootRecord {
    return cloneRecord(this.#record);
  }

  #ready(action: string): void {
    if (this.#trial)
      throw new Error(`boot: cannot ${action} while the trial image runs; confirm or reject it first`);
    if (this.#record.confirmedSlot !== 0)
      throw new Error(`boot: cannot ${action} before a restart lets MCUboot revert the rejected image`);
  }

  /** Cancels a standing upgrade request by erasing slot 1's trailer sectors (rare: a new receive replaces it). */
  #cancelRequest(): void {
    const [first, end] = trailerBlocks(this.#layout, this.trailer, 1);
    // Safe: erasing the magic's sector withdraws the request; the record that follows forgets the image.
    this.#flash.eraseBlock(first, end);
  }

  #trailerBlocksToErase(): [number, number] {
    const [first, end] = trailerBlocks(this.#layout, this.trailer, 1);
    const { blockLength, eraseValue } = this.#layout;
    let from = first;
    // Only sectors that hold anything need the erase (a fresh receive after a swap finds them scrambled already).
    while (from < end) {
      let erased = true;
      for (let at = 0; at < blockLength && erased; at += this.#scratch.length) {
        this.#flash.read(this.#scratch, from * blockLength + at);
        for (let i = 0; i < this.#scratch.length; i++) if (this.#scratch[i] !== eraseValue) erased = false;
      }
      if (!erased) break;
      from++;
    }
    return [from, end];
  }

  #context(session: number, size: number): ReceiverContext {
    const generation = ++this.#generation;
    return {
      flash: this.#flash,
      layout: this.#layout,
      slot: this.#image,
      session,
      journal: this.#journal,
      md5: this.#md5,
      sha256: this.#sha256,
      scratch: this.#scratch,
      sectorCrcs: this.#sectorCrcs,
      sealBlock: -1,
      isCurrent: () => this.#generation === generation,
      onVerdict: (result: VerifyResult) => this.#verdict(session, size, result),
    };
  }

  #verdict(session: number, size: number, result: VerifyResult): void {
    const slot = this.#record.slots[1];
    if (slot.state !== "receiving" || slot.session !== session || slot.size !== size)
      throw new Error("boot: the receive this verdict belongs to is gone");
    const next = cloneRecord(this.#record);
    const target = next.slots[1];
    target.state = result.ok ? "verified" : "rejected";
    target.reason = result.ok ? "" : `verify failed: ${result.reason}`;
    if (result.ok) {
      target.md5 = result.md5;
      target.sha256 = result.sha256;
    }
    // Atomic: this record alone turns the received bytes into an activatable (or refused) image.
    this.#commit(next);
  }

  #receiver(inner: SlotReceiver): ImageReceiver {
    const [first, end] = this.#trailerBlocksToErase();
    return new TrailerFirstReceiver(inner, this.#flash, first, end);
  }

  startReceive(descriptor: ImageDescriptor): ImageReceiver {
    this.#ready("receive an image");
    const d = checkedDescriptor(descriptor, this.maxImageSize, `MCUboot's ${this.maxImageSize}-byte limit`);
    if (this.#record.slots[1].state === "pending-test") this.#cancelRequest();
    const next = cloneRecord(this.#record);
    const session = this.#store.seq + 1;
    next.slots[1] = {
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
    // Atomic: this record makes slot 1 "receiving" before any of its sectors is erased.
    this.#commit(next);
    return this.#receiver(SlotReceiver.start(this.#context(session, d.size), d));
  }

  rebindReceive(receiver: ImageReceiver, descriptor: ImageDescriptor): ImageReceiver {
    const slot = this.#record.slots[1];
    // An untouched current receive implies slot 1's record says "receiving" (any other change ends the receive).
    if (!(receiver instanceof TrailerFirstReceiver) || !SlotReceiver.untouched(receiver.inner))
      throw new Error("mcuboot: no untouched receive to bind to another image");
    const d = checkedDescriptor(descriptor, this.maxImageSize, `MCUboot's ${this.maxImageSize}-byte limit`);
    const next = cloneRecord(this.#record);
    next.slots[1] = {
      ...slot,
      size: d.size,
      crc: d.crc,
      md5: d.md5,
      sha256: d.sha256,
      component: d.component,
      version: d.version,
    };
    // Atomic: this record names the real image; no byte is written in slot 1 yet, so a reset re-erases at worst.
    this.#commit(next);
    return this.#receiver(SlotReceiver.rebind(this.#context(slot.session, d.size), d, receiver.inner));
  }

  resumeReceive(previous?: ImageReceiver): ImageReceiver | undefined {
    if (this.#trial || this.#record.confirmedSlot !== 0) return undefined;
    const slot = this.#record.slots[1];
    if (slot.state !== "receiving") return undefined;
    const descriptor: ImageDescriptor = {
      component: slot.component,
      version: slot.version,
      size: slot.size,
      md5: slot.md5,
      sha256: slot.sha256,
      crc: slot.crc,
    };
    const inRam = previous instanceof TrailerFirstReceiver ? previous.inner : undefined;
    return this.#receiver(SlotReceiver.resume(this.#context(slot.session, slot.size), descriptor, inRam));
  }

  get eraseBlockLength(): number {
    return this.#layout.blockLength;
  }

  get runningSlotLength(): number {
    return this.#primary.size;
  }

  /** The running image is always MCUboot's primary slot (it swaps the new one in). */
  readRunning(offset: number, into: Uint8Array): void {
    if (offset < 0 || offset + into.length > this.#primary.size)
      throw new RangeError(`boot: read ${offset}+${into.length} outside the primary slot`);
    this.#flash.read(into, this.#primary.offset + offset);
  }

  abandonReceive(reason: string): void {
    this.#ready("abandon a receive");
    this.#generation++;
    const state = this.#record.slots[1].state;
    if (state === "empty" || state === "rejected") return;
    if (state === "pending-test") this.#cancelRequest();
    const next = cloneRecord(this.#record);
    next.slots[1] = emptySlot(reason);
    // Atomic: this record drops the partial or verified image; its bytes are simply no longer trusted.
    this.#commit(next);
  }

  activate(): void {
    this.#ready("activate");
    const slot = this.#record.slots[1];
    if (slot.state !== "verified")
      throw new Error(`boot: only a verified image can be activated (slot 1 is ${slot.state})`);
    this.#generation++;
    if (this.trailer.readState(this.#secondary).magic === BootMagic.bad) {
      // A torn magic from an earlier cut here: MCUboot ignores it (NONE), and boot_set_pending would refuse it.
      const [first, end] = trailerBlocks(this.#layout, this.trailer, 1);
      this.#flash.eraseBlock(first, end);
    }
    // Atomic: the magic write is MCUboot's switch (magic good + image_ok unset = TEST); the record follows it.
    const result = this.trailer.setPending(this.#secondary, false);
    if (result.rc !== BootRc.ok) throw new Error(`boot: boot_set_pending failed (rc ${result.rc})`);
    const next = cloneRecord(this.#record);
    next.slots[1].state = "pending-test";
    // Atomic: this record only names the request that already stands; start-up catches up if it is lost.
    this.#commit(next);
  }

  confirm(): void {
    if (!this.#trial) {
      if (this.#record.confirmedSlot === 0) return; // already permanent: confirming again is harmless
      throw new Error("boot: the running image was rejected; restart to let MCUboot revert");
    }
    // Atomic: image_ok in slot 0 makes the image permanent for MCUboot; the record after it only follows.
    const result = this.trailer.setConfirmed(this.#primary);
    if (result.rc !== BootRc.ok) throw new Error(`boot: boot_set_confirmed failed (rc ${result.rc})`);
    const next = cloneRecord(this.#record);
    next.slots = [{ ...next.slots[0], state: "confirmed", reason: "" }, emptySlot(REASON.superseded)];
    next.confirmedSlot = 0;
    this.#commit(next);
    this.#trial = false;
  }

  reject(reason: string): void {
    if (!this.#trial) throw new Error("boot: no trial image runs, nothing to reject");
    const next = cloneRecord(this.#record);
    next.slots[0] = { ...next.slots[0], state: "rejected", reason };
    // Atomic: image_ok stays unset, so MCUboot reverts at the next reset whatever happens; this record keeps the reason.
    this.#commit(next);
    this.#trial = false;
  }
}

/** Start-up after MCUboot ran: reads both trailers, reconciles the records, and returns the control for this run. */
export function openMcuboot(
  flash: FlashPartition,
  layout: FlashLayout,
  digests: DigestFactory,
  options: McubootOptions = {},
): McubootBootControl {
  return new McubootBoot(flash, layout, digests, options);
}
