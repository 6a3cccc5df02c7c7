// A model of what MCUboot does at reset, for the backend's tests: decide from the trailers, swap, set copy_done,
// revert an unconfirmed test swap (portable). It writes through the same FlashPartition, whole-sector erases only.
import type { FlashPartition } from "../../../../hal/flash.js";
import type { FlashLayout } from "../../../../src/flash-format/layout.js";
import { trailerBlocks } from "../../../../src/boot/mcuboot/mcuboot-boot.js";
import {
  BootFlag,
  SwapType,
  type FlashArea,
  type McubootTrailer,
} from "../../../../src/boot/mcuboot/trailer.js";

export interface ResetResult {
  /** boot_swap_type_multi's decision, or FAIL when validation refused the secondary image. */
  swapType: number;
}

export interface ResetOptions {
  /** The loader's image validation of slot 1's image (hash and signature): default valid. */
  validate?: () => boolean;
}

function areas(flash: FlashPartition, layout: FlashLayout): [FlashArea, FlashArea] {
  const size = layout.slots[0].length;
  return [
    { flash, offset: layout.slots[0].offset, size },
    { flash, offset: layout.slots[1].offset, size },
  ];
}

/** Sectors of image data the swap exchanges: everything below the trailer's sectors, less the spare sector of move
 *  and offset (scratch swaps through its own partition, which this model leaves out). */
function swapSectors(layout: FlashLayout, trailer: McubootTrailer): number {
  const [first] = trailerBlocks(layout, trailer, 1);
  return first - layout.slots[1].offset / layout.blockLength - (trailer.layout.mode === "scratch" ? 0 : 1);
}

function readSectors(flash: FlashPartition, offset: number, count: number, blockLength: number): Uint8Array {
  const bytes = new Uint8Array(count * blockLength);
  flash.read(bytes, offset);
  return bytes;
}

function writeSectors(flash: FlashPartition, offset: number, bytes: Uint8Array, blockLength: number): void {
  const first = offset / blockLength;
  flash.eraseBlock(first, first + bytes.length / blockLength);
  flash.write(bytes, offset);
}

function eraseTrailer(
  flash: FlashPartition,
  layout: FlashLayout,
  trailer: McubootTrailer,
  slot: number,
): void {
  const [first, end] = trailerBlocks(layout, trailer, slot);
  flash.eraseBlock(first, end);
}

/** One reset through MCUboot: returns what it decided after doing it. */
export function mcubootReset(
  flash: FlashPartition,
  layout: FlashLayout,
  trailer: McubootTrailer,
  options: ResetOptions = {},
): ResetResult {
  const [primary, secondary] = areas(flash, layout);
  const secondaryState = trailer.readState(secondary);
  const swapType = trailer.swapType(primary, secondary);
  if (swapType === SwapType.none) return { swapType };
  if ((swapType === SwapType.test || swapType === SwapType.perm) && !(options.validate?.() ?? true)) {
    // BOOT_SWAP_TYPE_FAIL: the secondary image is erased (trailer first) and the primary made permanent.
    eraseTrailer(flash, layout, trailer, 1);
    if (trailer.readState(primary).imageOk === BootFlag.unset) trailer.writeImageOk(primary);
    return { swapType: SwapType.fail };
  }
  const { blockLength } = layout;
  const count = swapSectors(layout, trailer);
  const offsetMode = trailer.layout.mode === "offset";
  // swap-using-offset keeps the upgrade one sector into slot 1 (the old image lands at 0); a revert undoes that.
  const incomingAt = offsetMode && swapType !== SwapType.revert ? blockLength : 0;
  const outgoingAt = offsetMode && swapType === SwapType.revert ? blockLength : 0;
  const incoming = readSectors(flash, secondary.offset + incomingAt, count, blockLength);
  const outgoing = readSectors(flash, primary.offset, count, blockLength);
  writeSectors(flash, primary.offset, incoming, blockLength);
  writeSectors(flash, secondary.offset + outgoingAt, outgoing, blockLength);
  eraseTrailer(flash, layout, trailer, 0);
  eraseTrailer(flash, layout, trailer, 1);
  // swap_status_init in the primary slot, then the end of boot_perform_update.
  trailer.writeSwapInfo(primary, swapType, 0);
  if (secondaryState.imageOk === BootFlag.set && swapType !== SwapType.revert) trailer.writeImageOk(primary);
  trailer.writeSwapSize(primary, count * blockLength);
  trailer.writeMagic(primary);
  if (swapType === SwapType.perm || swapType === SwapType.revert) {
    if (trailer.readState(primary).imageOk === BootFlag.unset) trailer.writeImageOk(primary);
  }
  trailer.writeCopyDone(primary);
  return { swapType };
}
