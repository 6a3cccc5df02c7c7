// MCUboot's image trailer as its bootutil (bootutil_public.c) defines it: field offsets, readers, the writers of
// boot_set_pending / boot_set_confirmed (same bytes, same order, same "nothing if already set" rules) and the
// boot_swap_type_multi decision, for swap-using-move, swap-using-offset and swap-using-scratch (whose slot trailers are
// byte for byte those of swap-using-move), any write alignment up to BOOT_MAX_ALIGN.
import type { FlashPartition } from "../../../hal/flash.js";

export type SwapMode = "move" | "offset" | "scratch";

/** MCUboot's BOOT_MAGIC_* values (bootutil_public.h), so states compare with bootutil's own numbers. */
export const BootMagic = { good: 1, bad: 2, unset: 3 } as const;
/** MCUboot's BOOT_FLAG_* values: a flag counts as set only when its byte is exactly 0x01. */
export const BootFlag = { set: 1, bad: 2, unset: 3 } as const;
/** MCUboot's BOOT_SWAP_TYPE_* values. FAIL comes from the loader's image validation, never from the trailer. */
export const SwapType = { none: 1, test: 2, perm: 3, revert: 4, fail: 5, panic: 0xff } as const;
/** MCUboot's return codes for the cases the writers can meet. */
export const BootRc = { ok: 0, badImage: 3, badVector: 4 } as const;

const BOOT_MAGIC_SZ = 16;
const FLAG_SET = 0x01;
/** boot_img_magic when BOOT_MAX_ALIGN is 8. */
const MAGIC_8 = [
  0x77, 0xc2, 0x95, 0xf3, 0x60, 0xd2, 0xef, 0x7f, 0x35, 0x52, 0x50, 0x0f, 0x2c, 0xb6, 0x79, 0x80,
];
/** The last 14 bytes of boot_img_magic when BOOT_MAX_ALIGN is above 8 (the first two hold the alignment). */
const MAGIC_TAIL = [0x2d, 0xe1, 0x5d, 0x29, 0x41, 0x0b, 0x8d, 0x77, 0x67, 0x9c, 0x11, 0x0f, 0x1f, 0x8a];

/** The 16 magic bytes bootutil writes and expects: they change with BOOT_MAX_ALIGN. */
export function bootMagic(maxAlign: number): Uint8Array {
  if (maxAlign === 8) return Uint8Array.from(MAGIC_8);
  // union boot_img_magic_t { uint16_t align; uint8_t magic[14]; }: the alignment little-endian, as on Cortex-M.
  return Uint8Array.from([maxAlign & 0xff, maxAlign >>> 8, ...MAGIC_TAIL]);
}

export interface TrailerConfig {
  mode: SwapMode;
  /** BOOT_MAX_ALIGN: 8 (default) up to 32, at least the flash write alignment. */
  maxAlign: number;
  /** The flash's write block (flash_area_align), a divisor of maxAlign. */
  writeAlign: number;
  eraseValue?: number;
  /** BOOT_MAX_IMG_SECTORS: sizes the swap status area (default 128). */
  maxImgSectors?: number;
}

/** Field offsets from the start of a slot (flash area) of `slotSize` bytes, as bootutil computes them. */
export interface TrailerLayout {
  mode: SwapMode;
  slotSize: number;
  maxAlign: number;
  writeAlign: number;
  eraseValue: number;
  /** BOOT_MAGIC_ALIGN_SIZE: bytes of the magic write (the magic right-aligned, erased bytes before it). */
  magicAlignSize: number;
  magic: number;
  imageOk: number;
  copyDone: number;
  swapInfo: number;
  /** swap-using-offset only (the two slots' unprotected TLV sizes), else -1. */
  unprotectedTlvSizes: number;
  swapSize: number;
  /** Start of the swap status area (boot_status_off). */
  status: number;
  /** boot_trailer_sz(writeAlign): status area + trailer info (no encryption keys). */
  trailerSize: number;
  magicBytes: Uint8Array;
}

function alignDown(value: number, align: number): number {
  return Math.floor(value / align) * align;
}

function alignUp(value: number, align: number): number {
  return Math.ceil(value / align) * align;
}

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

export function trailerLayout(slotSize: number, config: TrailerConfig): TrailerLayout {
  const { mode, maxAlign, writeAlign } = config;
  const eraseValue = config.eraseValue ?? 0xff;
  const sectors = config.maxImgSectors ?? 128;
  if (mode !== "move" && mode !== "offset" && mode !== "scratch")
    throw new RangeError(`mcuboot: unknown swap mode ${String(mode)}`);
  if (!isPowerOfTwo(maxAlign) || maxAlign < 8 || maxAlign > 32)
    throw new RangeError(`mcuboot: BOOT_MAX_ALIGN ${maxAlign} is not 8, 16 or 32`);
  if (!isPowerOfTwo(writeAlign) || writeAlign > maxAlign)
    throw new RangeError(`mcuboot: write alignment ${writeAlign} does not divide BOOT_MAX_ALIGN ${maxAlign}`);
  const magicAlignSize = alignUp(BOOT_MAGIC_SZ, maxAlign);
  const magic = slotSize - BOOT_MAGIC_SZ;
  const imageOk = alignDown(magic - maxAlign, maxAlign);
  const copyDone = imageOk - maxAlign;
  const swapInfo = copyDone - maxAlign;
  const unprotectedTlvSizes = mode === "offset" ? swapInfo - maxAlign : -1;
  const swapSize = (mode === "offset" ? unprotectedTlvSizes : swapInfo) - maxAlign;
  // BOOT_STATUS_STATE_COUNT: 3 for move and scratch, 2 for offset.
  const stateCount = mode === "offset" ? 2 : 3;
  const trailerSize =
    sectors * stateCount * writeAlign + maxAlign * 4 + (mode === "offset" ? maxAlign : 0) + magicAlignSize;
  if (!(Number.isInteger(slotSize) && slotSize > trailerSize && slotSize % maxAlign === 0))
    throw new RangeError(`mcuboot: slot of ${slotSize} bytes cannot hold a ${trailerSize}-byte trailer`);
  return {
    mode,
    slotSize,
    maxAlign,
    writeAlign,
    eraseValue,
    magicAlignSize,
    magic,
    imageOk,
    copyDone,
    swapInfo,
    unprotectedTlvSizes,
    swapSize,
    status: slotSize - trailerSize,
    trailerSize,
    magicBytes: bootMagic(maxAlign),
  };
}

/** A flash area as bootutil sees it: `size` bytes of `flash` from `offset` (a slot). */
export interface FlashArea {
  flash: FlashPartition;
  offset: number;
  size: number;
}

/** struct boot_swap_state. */
export interface SwapState {
  magic: number;
  swapType: number;
  imageNum: number;
  copyDone: number;
  imageOk: number;
}

/** One row of boot_swap_tables; 0 stands for BOOT_MAGIC_ANY / BOOT_FLAG_ANY. */
interface SwapRow {
  magicPrimary: number;
  magicSecondary: number;
  imageOkPrimary: number;
  imageOkSecondary: number;
  copyDonePrimary: number;
  /** swap-using-offset only. */
  copyDoneSecondary: number;
  swapType: number;
}

const ANY = 0;
const { good: GOOD } = BootMagic;
const { set: SET, unset: UNSET } = BootFlag;

/** boot_swap_tables, in bootutil's order (the first match wins; the secondary slot's rows come first). */
const SWAP_ROWS: Record<SwapMode, readonly SwapRow[]> = {
  move: [
    row(ANY, GOOD, ANY, UNSET, ANY, ANY, SwapType.test),
    row(ANY, GOOD, ANY, SET, ANY, ANY, SwapType.perm),
    row(GOOD, ANY, UNSET, ANY, SET, ANY, SwapType.revert),
  ],
  offset: [
    row(ANY, GOOD, ANY, UNSET, ANY, SET, SwapType.revert),
    row(ANY, GOOD, ANY, UNSET, ANY, ANY, SwapType.test),
    row(ANY, GOOD, ANY, SET, ANY, ANY, SwapType.perm),
    row(GOOD, ANY, UNSET, ANY, SET, ANY, SwapType.revert),
  ],
  scratch: [
    row(ANY, GOOD, ANY, UNSET, ANY, ANY, SwapType.test),
    row(ANY, GOOD, ANY, SET, ANY, ANY, SwapType.perm),
    row(GOOD, ANY, UNSET, ANY, SET, ANY, SwapType.revert),
  ],
};

function row(
  magicPrimary: number,
  magicSecondary: number,
  imageOkPrimary: number,
  imageOkSecondary: number,
  copyDonePrimary: number,
  copyDoneSecondary: number,
  swapType: number,
): SwapRow {
  return {
    magicPrimary,
    magicSecondary,
    imageOkPrimary,
    imageOkSecondary,
    copyDonePrimary,
    copyDoneSecondary,
    swapType,
  };
}

/** boot_swap_type_multi as a pure function of the two slots' trailer states: NONE, TEST, PERM or REVERT. */
export function decideSwap(mode: SwapMode, primary: SwapState, secondary: SwapState): number {
  const fits = (want: number, have: number): boolean => want === ANY || want === have;
  for (const r of SWAP_ROWS[mode]) {
    if (
      fits(r.magicPrimary, primary.magic) &&
      fits(r.magicSecondary, secondary.magic) &&
      fits(r.imageOkPrimary, primary.imageOk) &&
      fits(r.imageOkSecondary, secondary.imageOk) &&
      fits(r.copyDonePrimary, primary.copyDone) &&
      fits(r.copyDoneSecondary, secondary.copyDone)
    )
      return r.swapType;
  }
  return SwapType.none;
}

/** What one writer call did: MCUboot's return code and the flash writes it made. */
export interface WriteResult {
  rc: number;
  writes: number;
}

/**
 * Reads and writes the trailer of either slot through the FlashPartition port. Buffers are allocated once here;
 * the writers make exactly bootutil's flash writes (each one write call, padded with the erased value).
 */
export class McubootTrailer {
  readonly layout: TrailerLayout;
  readonly #buffer: Uint8Array;
  readonly #magic: Uint8Array;
  readonly #byte = new Uint8Array(1);
  #writes = 0;

  constructor(slotSize: number, config: TrailerConfig) {
    this.layout = trailerLayout(slotSize, config);
    this.#buffer = new Uint8Array(this.layout.magicAlignSize);
    this.#magic = new Uint8Array(BOOT_MAGIC_SZ);
  }

  #check(area: FlashArea): void {
    const status = area.flash.status();
    if (area.size !== this.layout.slotSize)
      throw new RangeError(
        `mcuboot: area of ${area.size} bytes, trailer laid out for ${this.layout.slotSize}`,
      );
    if (status.writeAlign !== this.layout.writeAlign || status.eraseValue !== this.layout.eraseValue)
      throw new RangeError(
        `mcuboot: flash writes ${status.writeAlign}-byte units (erased 0x${status.eraseValue.toString(16)}), trailer expects ${this.layout.writeAlign}`,
      );
  }

  /** boot_read_swap_state. */
  readState(area: FlashArea): SwapState {
    this.#check(area);
    const { layout } = this;
    const magic = this.#magic;
    area.flash.read(magic, area.offset + layout.magic);
    let erased = true;
    let same = true;
    for (let i = 0; i < BOOT_MAGIC_SZ; i++) {
      if (magic[i] !== layout.eraseValue) erased = false;
      if (magic[i] !== layout.magicBytes[i]) same = false;
    }
    const info = this.#readByte(area, layout.swapInfo);
    let swapType = info & 0x0f;
    let imageNum = info >>> 4;
    if (info === layout.eraseValue || swapType > SwapType.revert) {
      swapType = SwapType.none;
      imageNum = 0;
    }
    return {
      magic: erased ? BootMagic.unset : same ? BootMagic.good : BootMagic.bad,
      swapType,
      imageNum,
      copyDone: this.#flag(area, layout.copyDone),
      imageOk: this.#flag(area, layout.imageOk),
    };
  }

  #readByte(area: FlashArea, offset: number): number {
    area.flash.read(this.#byte, area.offset + offset);
    return this.#byte[0]!;
  }

  #flag(area: FlashArea, offset: number): number {
    const value = this.#readByte(area, offset);
    return value === this.layout.eraseValue
      ? BootFlag.unset
      : value === FLAG_SET
        ? BootFlag.set
        : BootFlag.bad;
  }

  /** boot_read_swap_size: the 32-bit little-endian swap_size field (0xffffffff when erased). */
  readSwapSize(area: FlashArea): number {
    this.#check(area);
    const word = this.#magic.subarray(0, 4);
    area.flash.read(word, area.offset + this.layout.swapSize);
    return (word[0]! | (word[1]! << 8) | (word[2]! << 16) | (word[3]! << 24)) >>> 0;
  }

  /** boot_swap_type_multi over two areas. */
  swapType(primary: FlashArea, secondary: FlashArea): number {
    return decideSwap(this.layout.mode, this.readState(primary), this.readState(secondary));
  }

  /**
   * boot_set_pending(permanent) on the secondary slot (= Zephyr's boot_request_upgrade(BOOT_UPGRADE_TEST or
   * PERMANENT)): magic unset → magic, image_ok when permanent, swap_info; magic good → nothing; bad → BOOT_EBADIMAGE.
   */
  setPending(secondary: FlashArea, permanent: boolean, imageIndex = 0): WriteResult {
    const state = this.readState(secondary);
    this.#writes = 0;
    if (state.magic === BootMagic.good) return this.#result(BootRc.ok);
    if (state.magic === BootMagic.bad) return this.#result(BootRc.badImage);
    // Atomic: the magic write alone makes it a test request (magic good + image_ok unset); the rest only refines it.
    this.writeMagic(secondary);
    if (permanent) this.writeImageOk(secondary);
    this.writeSwapInfo(secondary, permanent ? SwapType.perm : SwapType.test, imageIndex);
    return this.#result(BootRc.ok);
  }

  /**
   * boot_set_confirmed() on the primary slot (= Zephyr's boot_write_img_confirmed()): image_ok only when the magic
   * is good and image_ok unset; no trailer (magic unset) → nothing; bad magic → BOOT_EBADVECT.
   */
  setConfirmed(primary: FlashArea): WriteResult {
    const state = this.readState(primary);
    this.#writes = 0;
    if (state.magic === BootMagic.bad) return this.#result(BootRc.badVector);
    // Atomic: the image_ok byte is the whole confirmation; a torn write leaves it erased (revert) or 0x01 (kept).
    if (state.magic === BootMagic.good && state.imageOk === BootFlag.unset) this.writeImageOk(primary);
    return this.#result(BootRc.ok);
  }

  #result(rc: number): WriteResult {
    return { rc, writes: this.#writes };
  }

  /** boot_write_magic: BOOT_MAGIC_ALIGN_SIZE bytes at ALIGN_DOWN(magic, BOOT_MAX_ALIGN), the magic right-aligned. */
  writeMagic(area: FlashArea): void {
    const { layout } = this;
    const buffer = this.#buffer;
    buffer.fill(layout.eraseValue);
    buffer.set(layout.magicBytes, layout.magicAlignSize - BOOT_MAGIC_SZ);
    this.#write(area, alignDown(layout.magic, layout.maxAlign), buffer);
  }

  writeImageOk(area: FlashArea): void {
    this.#byte[0] = FLAG_SET;
    this.#writeTrailer(area, this.layout.imageOk, this.#byte);
  }

  writeCopyDone(area: FlashArea): void {
    this.#byte[0] = FLAG_SET;
    this.#writeTrailer(area, this.layout.copyDone, this.#byte);
  }

  /** boot_write_swap_info: one byte, image index in the high nibble. */
  writeSwapInfo(area: FlashArea, swapType: number, imageIndex: number): void {
    this.#byte[0] = ((imageIndex & 0x0f) << 4) | (swapType & 0x0f);
    this.#writeTrailer(area, this.layout.swapInfo, this.#byte);
  }

  /** boot_write_swap_size: 32-bit little-endian. */
  writeSwapSize(area: FlashArea, size: number, into = new Uint8Array(4)): void {
    into[0] = size & 0xff;
    into[1] = (size >>> 8) & 0xff;
    into[2] = (size >>> 16) & 0xff;
    into[3] = (size >>> 24) & 0xff;
    this.#writeTrailer(area, this.layout.swapSize, into);
  }

  /** boot_write_trailer: the value padded with the erased value up to the write alignment, one write. */
  #writeTrailer(area: FlashArea, offset: number, value: Uint8Array): void {
    const { layout } = this;
    const length = alignUp(value.length, layout.writeAlign);
    const buffer = this.#buffer.subarray(0, length);
    buffer.fill(layout.eraseValue);
    buffer.set(value);
    this.#write(area, offset, buffer);
  }

  #write(area: FlashArea, offset: number, bytes: Uint8Array): void {
    this.#check(area);
    area.flash.write(bytes, area.offset + offset);
    this.#writes++;
  }
}
