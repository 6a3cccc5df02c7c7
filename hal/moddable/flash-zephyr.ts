// FlashPartition over ECMA-419 `embedded:storage/flash` on Zephyr (modules/io/flash/zephyr): a flash-map
// partition by its devicetree `label` ("image-0", "image-1", ...), with the flash driver's write block and erase value.

import flashStorage from "embedded:storage/flash";
import type { FlashPartition, FlashStatus } from "../flash.js";
import { FlashError, checkAccessRange, checkEraseRange, checkWriteRange } from "../flash.js";

/** The native object as Moddable's Zephyr port makes it (status() also gives writeAlign and eraseValue there). */
interface NativeZephyrFlash {
  eraseBlock(start: number, end: number): void;
  read(buffer: Uint8Array, byteOffset: number): number;
  write(buffer: Uint8Array, byteOffset: number): void;
  status(): { size: number; blockLength: number; writeAlign: number; eraseValue: number };
  close(): void;
}

export class ZephyrFlashPartition implements FlashPartition {
  readonly #native: NativeZephyrFlash;
  readonly #status: FlashStatus;

  constructor(label: string) {
    try {
      this.#native = flashStorage.open({ path: label, mode: "r+" }) as unknown as NativeZephyrFlash;
    } catch (error) {
      throw new FlashError(`no flash partition labelled "${label}" (${String(error)})`, "io");
    }
    const { size, blockLength, writeAlign, eraseValue } = this.#native.status();
    this.#status = { size, blockLength, writeAlign: Math.max(1, writeAlign), eraseValue };
  }

  status(): FlashStatus {
    return this.#status;
  }

  eraseBlock(start: number, end: number = start + 1): void {
    checkEraseRange(this.#status, start, end);
    try {
      // Always both arguments: the port reads a missing `end` as 0 (xsmcArgc counts the JS wrapper's undefined).
      this.#native.eraseBlock(start, end);
    } catch (error) {
      throw new FlashError(`erase failed: ${String(error)}`, "io");
    }
  }

  read(into: Uint8Array, offset: number): void {
    checkAccessRange(this.#status, offset, into.length, "read");
    if (into.length > 0) this.#native.read(into, offset);
  }

  write(bytes: Uint8Array, offset: number): void {
    checkWriteRange(this.#status, offset, bytes.length);
    if (bytes.length === 0) return;
    try {
      this.#native.write(bytes, offset);
    } catch (error) {
      throw new FlashError(`write failed: ${String(error)}`, "io");
    }
  }

  close(): void {
    this.#native.close();
  }
}
