// FlashPartition backed by a file, with the simulator's NOR rules (erase sets eraseValue, writes only clear bits).
import fs from "node:fs";
import path from "node:path";
import {
  FlashError,
  checkAccessRange,
  checkEraseRange,
  checkFlashGeometry,
  checkProgrammable,
  checkWriteRange,
  type FlashPartition,
  type FlashStatus,
} from "../flash.js";

export interface FileFlashOptions {
  file: string;
  size: number;
  blockLength: number;
  writeAlign: number;
  /** Default 0xFF, as on NOR. */
  eraseValue?: number;
  /**
   * fsync after every erase and write (default true): survives an OS crash or real power loss.
   * Without it each operation still reaches the file at once (pwrite), so a killed process loses nothing.
   */
  fsync?: boolean;
}

export class FileFlash implements FlashPartition {
  readonly #status: Readonly<FlashStatus>;
  readonly #blockCount: number;
  /** A RAM copy of the file, so NOR checks and reads need no file access and no allocation. */
  readonly #image: Uint8Array;
  readonly #erasedBlock: Uint8Array;
  readonly #fsync: boolean;
  #fd: number | undefined;

  constructor(options: FileFlashOptions) {
    const { file, size, blockLength, writeAlign, eraseValue = 0xff } = options;
    this.#status = checkFlashGeometry(size, blockLength, writeAlign, eraseValue);
    this.#blockCount = size / blockLength;
    this.#fsync = options.fsync ?? true;
    this.#erasedBlock = new Uint8Array(blockLength).fill(eraseValue);
    this.#image = new Uint8Array(size);
    if (!fs.existsSync(file)) createErased(file, size, eraseValue);
    this.#fd = fs.openSync(file, "r+");
    const actual = fs.fstatSync(this.#fd).size;
    if (actual !== size) {
      fs.closeSync(this.#fd);
      this.#fd = undefined;
      throw new FlashError(
        `${file} holds ${actual} bytes, the partition is ${size}: refusing to reinterpret it`,
        "io",
      );
    }
    let done = 0;
    while (done < size) {
      const n = fs.readSync(this.#fd, this.#image, done, size - done, done);
      if (n === 0) throw new FlashError(`${file}: unexpected end at ${done}`, "io");
      done += n;
    }
  }

  status(): FlashStatus {
    return this.#status;
  }

  eraseBlock(start: number, end: number = start + 1): void {
    this.#checkOpen();
    checkEraseRange(this.#status, start, end);
    const { blockLength, eraseValue } = this.#status;
    for (let block = start; block < end; block++) {
      this.#persist(this.#erasedBlock, block * blockLength);
      this.#image.fill(eraseValue, block * blockLength, (block + 1) * blockLength);
    }
  }

  read(into: Uint8Array, offset: number): void {
    this.#checkOpen();
    checkAccessRange(this.#status, offset, into.length, "read");
    into.set(this.#image.subarray(offset, offset + into.length));
  }

  write(bytes: Uint8Array, offset: number): void {
    const length = bytes.length;
    this.#checkOpen();
    checkWriteRange(this.#status, offset, length);
    const image = this.#image;
    checkProgrammable(image, offset, bytes, 0, length, this.#status.eraseValue, offset);
    if (length === 0) return;
    this.#persist(bytes, offset);
    image.set(bytes, offset);
  }

  /** Releases the file; later calls fail with FlashError "io". */
  close(): void {
    if (this.#fd !== undefined) fs.closeSync(this.#fd);
    this.#fd = undefined;
  }

  /** Writes through to the file before the RAM copy changes, so the copy never claims what the file lacks. */
  #persist(bytes: Uint8Array, offset: number): void {
    if (this.#fd === undefined) throw new FlashError("flash file is closed", "io");
    try {
      let done = 0;
      while (done < bytes.length)
        done += fs.writeSync(this.#fd, bytes, done, bytes.length - done, offset + done);
      if (this.#fsync) fs.fdatasyncSync(this.#fd);
    } catch (error) {
      throw new FlashError(`flash file write at ${offset} failed: ${(error as Error).message}`, "io");
    }
  }

  #checkOpen(): void {
    if (this.#fd === undefined) throw new FlashError("flash file is closed", "io");
  }
}

/** The temporary name a flash file is built under before its rename (same folder, so the rename is atomic). */
export function creatingName(file: string): string {
  return `${file}.creating`;
}

/**
 * Creates `file` holding exactly `contents` (or `size` erased bytes): written under a temporary name in the same
 * folder, fsynced, renamed over `file`, then the folder fsynced. A kill at any instant leaves the whole file or none
 * (a leftover temporary is overwritten by the next attempt).
 */
export function createFlashFile(
  file: string,
  contents: Uint8Array | { size: number; eraseValue: number },
): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const temporary = creatingName(file);
  const fd = fs.openSync(temporary, "w");
  try {
    if (contents instanceof Uint8Array) {
      let done = 0;
      while (done < contents.length) done += fs.writeSync(fd, contents, done, contents.length - done, done);
    } else {
      const chunk = new Uint8Array(Math.min(contents.size, 64 * 1024)).fill(contents.eraseValue);
      for (let at = 0; at < contents.size; at += chunk.length)
        fs.writeSync(fd, chunk, 0, Math.min(chunk.length, contents.size - at), at);
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  // The rename is the atomic step; the folder's fsync makes it survive a power loss too.
  fs.renameSync(temporary, file);
  syncFolder(path.dirname(path.resolve(file)));
}

function syncFolder(folder: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(folder, "r");
    fs.fsyncSync(fd);
  } catch {
    // Some file systems cannot fsync a folder; the rename itself is still atomic.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function createErased(file: string, size: number, eraseValue: number): void {
  createFlashFile(file, { size, eraseValue });
}
