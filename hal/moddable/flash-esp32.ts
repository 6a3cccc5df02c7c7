// FlashPartition over ECMA-419 `embedded:storage/flash` (ESP32): a data partition by label, "nextota" or "running".

import flashStorage from "embedded:storage/flash";
import type { FlashPartition, FlashStatus } from "../flash.js";
import { FlashError, checkAccessRange, checkEraseRange, checkWriteRange } from "../flash.js";

/** The native object's shape we rely on (cast once: the SDK's and npm's typings disagree on overloads). */
export interface NativeFlash {
  eraseBlock(start: number, end?: number): void;
  read(buffer: Uint8Array, byteOffset: number): number;
  write(buffer: Uint8Array, byteOffset: number): void;
  status(): { size: number; blockLength: number; blocks: number };
  close(): void;
}

export class Esp32FlashPartition implements FlashPartition {
  /** The embedded:storage/flash object, also what embedded:update's `partition` option takes. */
  readonly native: NativeFlash;
  readonly #status: FlashStatus;

  /** `mode` "r" for the running app partition: the SDK then refuses any erase or write of it. */
  constructor(path: string, mode: "r" | "r+" = "r+") {
    this.native = flashStorage.open({ path, mode }) as unknown as NativeFlash;
    const { size, blockLength } = this.native.status();
    // esp_partition_write takes any alignment without flash encryption; erased NOR reads 0xFF.
    this.#status = { size, blockLength, writeAlign: 1, eraseValue: 0xff };
  }

  status(): FlashStatus {
    return this.#status;
  }

  eraseBlock(start: number, end: number = start + 1): void {
    checkEraseRange(this.#status, start, end);
    try {
      this.native.eraseBlock(start, end);
    } catch (error) {
      throw new FlashError(`erase failed: ${String(error)}`, "io");
    }
  }

  read(into: Uint8Array, offset: number): void {
    checkAccessRange(this.#status, offset, into.length, "read");
    if (into.length > 0) this.native.read(into, offset);
  }

  write(bytes: Uint8Array, offset: number): void {
    checkWriteRange(this.#status, offset, bytes.length);
    if (bytes.length === 0) return;
    try {
      this.native.write(bytes, offset);
    } catch (error) {
      throw new FlashError(`write failed: ${String(error)}`, "io");
    }
  }
}
