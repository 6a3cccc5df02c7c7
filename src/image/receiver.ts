// Image writer: receives one image into a slot in order, with explicit erases, streaming MD5/SHA-256 and a resume journal.
import { FlashError, type FlashPartition } from "../../hal/flash.js";
import { toHex, type Digest } from "../../hal/digest.js";
import type { FlashLayout, Region } from "../flash-format/layout.js";
import { digestMismatch, type ImageDescriptor, type ImageReceiver, type VerifyResult } from "./types.js";
import { CRC32_START, crc32, crc32Final, crc32Update } from "../flash-format/crc32.js";
import type { ResumeJournal } from "./journal.js";

/** What a receiver borrows from its owner (the boot control): buffers and digests are allocated once there. */
export interface ReceiverContext {
  flash: FlashPartition;
  layout: FlashLayout;
  slot: Region;
  /** The receive session (seq of the record that started it). */
  session: number;
  journal: ResumeJournal;
  md5: Digest;
  sha256: Digest;
  /** Scratch for re-reading flash on resume (any length >= writeAlign). */
  scratch: Uint8Array;
  /** Sector CRCs of the current image (at least one per slot block). */
  sectorCrcs: Uint32Array;
  /** Absolute block index of the slot block holding the image seal when it lies past the image (erased before
   *  finish() seals the image), or -1. */
  sealBlock: number;
  /** Records the verdict of finish() (verified, or rejected with the reason). */
  onVerdict(result: VerifyResult): void;
  /** False once the owner started, abandoned or replaced this receive. */
  isCurrent(): boolean;
}

/** Binds journal entries to the descriptor, so entries of another image never count. */
export function descriptorTag(descriptor: ImageDescriptor): number {
  const text = `${descriptor.component}\n${descriptor.version}\n${descriptor.size}\n${descriptor.md5}\n${descriptor.sha256}`;
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i) & 0xff;
  return crc32(bytes);
}

/**
 * Reuses subarray views of the caller's buffer: the engine passes the same buffer with the same lengths block after
 * block, so after the first few blocks no view is allocated any more. One entry per key: the flash body's start
 * offset (below writeAlign), and writeAlign for the digests' view.
 */
class ViewCache {
  readonly #buffers: (Uint8Array | undefined)[];
  readonly #ends: Int32Array;
  readonly #views: (Uint8Array | undefined)[];

  constructor(entries: number) {
    this.#buffers = new Array<Uint8Array | undefined>(entries).fill(undefined);
    this.#ends = new Int32Array(entries);
    this.#views = new Array<Uint8Array | undefined>(entries).fill(undefined);
  }

  view(key: number, bytes: Uint8Array, start: number, end: number): Uint8Array {
    if (start === 0 && end === bytes.length) return bytes;
    let view = this.#views[key];
    if (
      this.#buffers[key] !== bytes ||
      this.#ends[key] !== end ||
      view === undefined ||
      view.byteOffset !== bytes.byteOffset + start
    ) {
      view = bytes.subarray(start, end);
      this.#buffers[key] = bytes;
      this.#ends[key] = end;
      this.#views[key] = view;
    }
    return view;
  }
}

function roundUp(value: number, multiple: number): number {
  return Math.ceil(value / multiple) * multiple;
}

export class SlotReceiver implements ImageReceiver {
  readonly descriptor: ImageDescriptor;
  readonly #ctx: ReceiverContext;
  readonly #blockLength: number;
  readonly #align: number;
  /** Bytes shorter than writeAlign waiting for the next write (or the final padded write). */
  readonly #tail: Uint8Array;
  readonly #views: ViewCache;
  #tailLength = 0;
  #received = 0;
  /** Slot bytes below this offset are erased (or written by this receive); beyond it blocks are dirty. */
  #cleanEnd = 0;
  /** Slot bytes [#aheadFrom, #aheadTo) are known erased and unwritten (erased ahead by this receive's predecessor in
   *  this MCU run): #cleanEnd skips them instead of erasing them again. */
  #aheadFrom = 0;
  #aheadTo = 0;
  #sectorCrc = CRC32_START;
  /** The seal block still needs its erase in this receive (it lies past the image, so nothing journals it). */
  #sealDirty: boolean;
  #finished = false;
  #broken = "";

  private constructor(ctx: ReceiverContext, descriptor: ImageDescriptor) {
    this.#ctx = ctx;
    this.descriptor = descriptor;
    this.#blockLength = ctx.layout.blockLength;
    this.#align = ctx.layout.writeAlign;
    this.#tail = new Uint8Array(this.#align);
    this.#views = new ViewCache(this.#align + 1);
    this.#sealDirty = ctx.sealBlock >= 0;
    ctx.md5.reset();
    ctx.sha256.reset();
  }

  /** A fresh receive: the journal is cleared and every slot block is dirty. */
  static start(ctx: ReceiverContext, descriptor: ImageDescriptor): SlotReceiver {
    const receiver = new SlotReceiver(ctx, descriptor);
    ctx.journal.clear(ctx.session, descriptorTag(descriptor));
    return receiver;
  }

  /** True if `from` is its owner's current receive and nothing was written through it (only erases). */
  static untouched(from: ImageReceiver): boolean {
    return (
      from instanceof SlotReceiver &&
      from.#ctx.isCurrent() &&
      from.#received === 0 &&
      from.#tailLength === 0 &&
      !from.#finished &&
      from.#broken === ""
    );
  }

  /**
   * The untouched receive `from` bound to the image's real descriptor (docs/protocol.md §13, decision 82): the slot
   * blocks it erased stay erased, since nothing was written after them; the empty journal takes the new tag.
   */
  static rebind(ctx: ReceiverContext, descriptor: ImageDescriptor, from: ImageReceiver): SlotReceiver {
    if (
      !(from instanceof SlotReceiver) ||
      from.#received !== 0 ||
      from.#tailLength !== 0 ||
      from.#broken !== ""
    )
      throw new Error("image receiver: only an untouched receive can be bound to another image");
    const receiver = new SlotReceiver(ctx, descriptor);
    ctx.journal.retag(ctx.session, descriptorTag(descriptor));
    receiver.#cleanEnd = from.#cleanEnd;
    receiver.#aheadFrom = from.#aheadFrom;
    receiver.#aheadTo = from.#aheadTo;
    // The seal block stays erased only if it is the same block and the earlier receive erased it.
    receiver.#sealDirty = ctx.sealBlock >= 0 && !(ctx.sealBlock === from.#ctx.sealBlock && !from.#sealDirty);
    return receiver;
  }

  /**
   * Continues a receive after a reset: the journaled sectors are re-read, re-checked and re-streamed. `previous`, the
   * same receive's object from before a module reboot in this MCU run, tells which blocks past what it wrote it had
   * erased: they are still erased (nothing else writes the slot), so they are not erased twice (decision 84).
   */
  static resume(ctx: ReceiverContext, descriptor: ImageDescriptor, previous?: ImageReceiver): SlotReceiver {
    const receiver = new SlotReceiver(ctx, descriptor);
    receiver.#resume();
    if (previous instanceof SlotReceiver) receiver.#inherit(previous);
    return receiver;
  }

  #inherit(previous: SlotReceiver): void {
    // Only the same receive left its erases to us: same session and same image (a rebind re-tags its session).
    if (
      previous.#ctx.session !== this.#ctx.session ||
      descriptorTag(previous.descriptor) !== descriptorTag(this.descriptor) ||
      previous.#broken !== ""
    )
      return;
    // Blocks the predecessor programmed into (past the journal: torn for us) are dirty; the ones after stay erased.
    this.#aheadFrom = Math.max(
      roundUp(previous.#received - previous.#tailLength, this.#blockLength),
      this.#cleanEnd,
    );
    this.#aheadTo = previous.#skipKnownErased();
    this.#skipKnownErased();
    if (!previous.#sealDirty) this.#sealDirty = false;
  }

  /** Moves #cleanEnd past blocks known erased once it reaches them; returns it. */
  #skipKnownErased(): number {
    if (this.#cleanEnd >= this.#aheadFrom) this.#cleanEnd = Math.max(this.#cleanEnd, this.#aheadTo);
    return this.#cleanEnd;
  }

  #resume(): void {
    const { flash, slot, journal, scratch, sectorCrcs } = this.#ctx;
    const size = this.descriptor.size;
    const sectors = Math.ceil(size / this.#blockLength);
    const journaled = journal.scan(this.#ctx.session, descriptorTag(this.descriptor), sectors, sectorCrcs);
    let good = 0;
    for (; good < journaled; good++) {
      const start = good * this.#blockLength;
      const end = Math.min(size, start + this.#blockLength);
      let crc = CRC32_START;
      for (let at = start; at < end; at += scratch.length) {
        const n = Math.min(scratch.length, end - at);
        flash.read(scratch, slot.offset + at);
        crc = crc32Update(crc, scratch, 0, n);
      }
      if (crc32Final(crc) !== sectorCrcs[good]) break;
      // Only a sector that matched its journal entry is streamed into the image digests.
      for (let at = start; at < end; at += scratch.length) {
        const n = Math.min(scratch.length, end - at);
        flash.read(scratch, slot.offset + at);
        const chunk = n === scratch.length ? scratch : scratch.subarray(0, n);
        this.#ctx.md5.write(chunk);
        this.#ctx.sha256.write(chunk);
      }
    }
    journal.keep(good, sectorCrcs);
    this.#received = Math.min(size, good * this.#blockLength);
    // Blocks after the verified prefix may hold torn writes: they count as dirty and are erased before reuse.
    this.#cleanEnd = good * this.#blockLength;
  }

  get received(): number {
    return this.#received;
  }

  /** Flash bytes a write up to `upTo` programs now (the tail shorter than writeAlign waits in RAM). */
  #flashEnd(upTo: number): number {
    const size = this.descriptor.size;
    return upTo >= size ? roundUp(size, this.#align) : Math.floor(upTo / this.#align) * this.#align;
  }

  /** Erased bytes wanted before writing up to `upTo`: rounded up, so the tail's later flush never waits for an erase. */
  #eraseEnd(upTo: number): number {
    return roundUp(Math.min(upTo, this.descriptor.size), this.#align);
  }

  needsErase(upTo: number): boolean {
    if (upTo <= this.#received) return false;
    return (
      this.#ctx.journal.needsErase ||
      this.#skipKnownErased() < this.#eraseEnd(upTo) ||
      (this.#sealDirty && upTo >= this.descriptor.size)
    );
  }

  eraseStep(upTo: number): boolean {
    this.#check();
    if (upTo <= this.#received) return false;
    if (this.#ctx.journal.needsErase) return this.#ctx.journal.eraseStep();
    const { flash, slot } = this.#ctx;
    if (this.#skipKnownErased() >= this.#eraseEnd(upTo)) {
      if (!this.#sealDirty || upTo < this.descriptor.size) return false;
      // Safe: the seal block lies past the image, and the record names this slot "receiving".
      flash.eraseBlock(this.#ctx.sealBlock);
      this.#sealDirty = false;
      return true;
    }
    // Safe: the boot record names this slot "receiving", so nothing trusts its bytes; no journal entry covers this block.
    flash.eraseBlock((slot.offset + this.#cleanEnd) / this.#blockLength);
    this.#cleanEnd += this.#blockLength;
    return true;
  }

  #check(): void {
    if (!this.#ctx.isCurrent()) throw new Error("image receiver: this receive was replaced or abandoned");
    if (this.#finished) throw new Error("image receiver: already finished");
    if (this.#broken) throw new Error(`image receiver: unusable after a flash error (${this.#broken})`);
  }

  write(bytes: Uint8Array, length: number): void {
    this.#check();
    if (!Number.isInteger(length) || length < 0 || length > bytes.length) {
      throw new RangeError(`image receiver: length ${length} outside the ${bytes.length}-byte buffer`);
    }
    if (length === 0) return;
    const size = this.descriptor.size;
    const end = this.#received + length;
    if (end > size) throw new RangeError(`image receiver: write up to ${end} past the image size ${size}`);
    if (this.#ctx.journal.needsErase)
      throw new FlashError("image receiver: the journal is not erased yet", "unerased");
    const flashEnd = this.#flashEnd(end);
    if (flashEnd > this.#skipKnownErased()) {
      throw new FlashError(
        `image receiver: bytes up to ${flashEnd} need an erase first (erased up to ${this.#cleanEnd})`,
        "unerased",
      );
    }
    try {
      this.#program(bytes, length, end === size);
      const chunk = this.#views.view(this.#align, bytes, 0, length);
      this.#ctx.md5.write(chunk);
      this.#ctx.sha256.write(chunk);
      this.#journal(bytes, length);
    } catch (error) {
      // Flash and digests may disagree now: only a new receive (or a resume after restart) can go on.
      this.#broken = error instanceof Error ? error.message : String(error);
      throw error;
    }
  }

  readBack(offset: number, into: Uint8Array): void {
    if (offset < 0 || offset + into.length > this.#received - this.#tailLength)
      throw new RangeError(`image receiver: read back ${offset}+${into.length} past what is in flash`);
    this.#ctx.flash.read(into, this.#ctx.slot.offset + offset);
  }

  /** Writes the bytes to flash at whole write-align units, keeping a short tail in RAM until it fills or the image ends. */
  #program(bytes: Uint8Array, length: number, last: boolean): void {
    const { flash, slot, layout } = this.#ctx;
    const align = this.#align;
    let at = this.#received - this.#tailLength;
    let i = 0;
    if (this.#tailLength > 0) {
      while (this.#tailLength < align && i < length) this.#tail[this.#tailLength++] = bytes[i++]!;
      if (this.#tailLength === align) {
        flash.write(this.#tail, slot.offset + at);
        at += align;
        this.#tailLength = 0;
      }
    }
    const body = Math.floor((length - i) / align) * align;
    if (body > 0) {
      flash.write(this.#views.view(i, bytes, i, i + body), slot.offset + at);
      at += body;
      i += body;
    }
    while (i < length) this.#tail[this.#tailLength++] = bytes[i++]!;
    if (last && this.#tailLength > 0) {
      // The image ends inside a write unit: pad with the erase value; digests and CRCs still cover `size` bytes only.
      this.#tail.fill(layout.eraseValue, this.#tailLength);
      flash.write(this.#tail, slot.offset + at);
      this.#tailLength = 0;
    }
  }

  /** Feeds the sector CRCs and appends a journal entry for every sector this write completed. */
  #journal(bytes: Uint8Array, length: number): void {
    const size = this.descriptor.size;
    let position = this.#received;
    let i = 0;
    while (i < length) {
      const sectorEnd = Math.min(size, (Math.floor(position / this.#blockLength) + 1) * this.#blockLength);
      const n = Math.min(length - i, sectorEnd - position);
      this.#sectorCrc = crc32Update(this.#sectorCrc, bytes, i, i + n);
      i += n;
      position += n;
      if (position === sectorEnd) {
        const sector = Math.floor((sectorEnd - 1) / this.#blockLength);
        this.#ctx.sectorCrcs[sector] = crc32Final(this.#sectorCrc);
        this.#sectorCrc = CRC32_START;
        this.#received = position;
        this.#ctx.journal.append(sector, this.#ctx.sectorCrcs[sector]!);
      }
    }
    this.#received = position;
  }

  finish(): VerifyResult {
    this.#check();
    this.#finished = true;
    const md5 = toHex(this.#ctx.md5.close());
    const sha256 = toHex(this.#ctx.sha256.close());
    const d = this.descriptor;
    const reason = this.#received !== d.size ? "size" : digestMismatch(d, md5, sha256);
    const result: VerifyResult = { ok: reason === "", reason, md5, sha256 };
    this.#ctx.onVerdict(result);
    return result;
  }
}
