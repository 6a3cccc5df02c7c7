// A NOR FlashPartition kept in a file through Moddable `file`: the flash of the Linux simulator (it has no flash API).

import { File } from "file";
import type { FlashPartition, FlashStatus } from "../flash.js";
import { checkAccessRange, checkEraseRange, checkProgrammable, checkWriteRange } from "../flash.js";

/** The lin `file` module's File as used here (read/write take ArrayBuffers only). */
interface NativeFile {
  read(type: typeof ArrayBuffer, count: number): ArrayBuffer;
  write(buffer: ArrayBuffer): void;
  close(): void;
  readonly length: number;
  position: number;
}
interface NativeFileConstructor {
  new (path: string, write?: boolean): NativeFile;
  exists(path: string): boolean;
  delete(path: string): boolean;
  /** lin: `to` is a name in the folder of `from` (modFile.c prefixes from's folder), so the rename stays in place. */
  rename(from: string, to: string): boolean;
}

export class FileFlashPartition implements FlashPartition {
  /**
   * Opens `path`, first creating it when missing: `build` fills a partition under a temporary name in the same
   * folder, which is then renamed to `path`, so a kill leaves either no file or a whole one (a leftover temporary
   * is rebuilt). The lin `file` module flushes each write (fflush) but has no fsync: this guards against a killed
   * process, not an OS crash. Returns the partition and whether it was created.
   */
  static provision(
    path: string,
    size: number,
    build: (flash: FlashPartition) => void,
    blockLength = 4096,
  ): { flash: FileFlashPartition; created: boolean } {
    const Native = File as unknown as NativeFileConstructor;
    if (Native.exists(path))
      return { flash: new FileFlashPartition(path, size, blockLength), created: false };
    const temporary = `${path}.creating`;
    if (Native.exists(temporary)) Native.delete(temporary);
    const building = new FileFlashPartition(temporary, size, blockLength);
    try {
      build(building);
    } finally {
      building.close();
    }
    const slash = path.lastIndexOf("/");
    // The rename is the atomic step: until it lands, `path` does not exist and the next start builds again.
    if (!Native.rename(temporary, path.slice(slash + 1)))
      throw new Error(`cannot rename ${temporary} to ${path}`);
    return { flash: new FileFlashPartition(path, size, blockLength), created: true };
  }

  readonly #file: NativeFile;
  readonly #status: FlashStatus;
  readonly #erased: ArrayBuffer;

  /** Opens (or creates, all erased) a `size`-byte partition in `path`; a shorter file is extended with erased blocks. */
  constructor(path: string, size: number, blockLength = 4096) {
    if (size <= 0 || size % blockLength !== 0) throw new RangeError("size must be a whole number of blocks");
    this.#status = { size, blockLength, writeAlign: 1, eraseValue: 0xff };
    this.#erased = new Uint8Array(blockLength).fill(0xff).buffer as ArrayBuffer;
    const Constructor = File as unknown as NativeFileConstructor;
    this.#file = new Constructor(path, true);
    let length = this.#file.length - (this.#file.length % blockLength);
    for (; length < size; length += blockLength) {
      this.#file.position = length;
      this.#file.write(this.#erased);
    }
  }

  status(): FlashStatus {
    return this.#status;
  }

  eraseBlock(start: number, end: number = start + 1): void {
    checkEraseRange(this.#status, start, end);
    for (let block = start; block < end; block++) {
      this.#file.position = block * this.#status.blockLength;
      this.#file.write(this.#erased);
    }
  }

  read(into: Uint8Array, offset: number): void {
    checkAccessRange(this.#status, offset, into.length, "read");
    if (into.length === 0) return;
    this.#file.position = offset;
    into.set(new Uint8Array(this.#file.read(ArrayBuffer, into.length)));
  }

  write(bytes: Uint8Array, offset: number): void {
    checkWriteRange(this.#status, offset, bytes.length);
    if (bytes.length === 0) return;
    this.#file.position = offset;
    const old = new Uint8Array(this.#file.read(ArrayBuffer, bytes.length));
    // NOR: writing over unerased bytes is refused, as the chip would corrupt them.
    checkProgrammable(old, 0, bytes, 0, bytes.length, this.#status.eraseValue, offset);
    this.#file.position = offset;
    this.#file.write(bytes.slice().buffer as ArrayBuffer);
  }

  close(): void {
    this.#file.close();
  }
}
