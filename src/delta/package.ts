// Delta packages: our 88-byte header (magic, version, format, sizes, source and target SHA-256, CRC) in front of a
// detools sequential patch, and a streaming applier that checks the base, applies the patch and verifies the result.
import type { Digest } from "../../hal/digest.js";
import { sameBytes } from "./bytes.js";
import { getU16, getU32, putU16, putU32 } from "../flash-format/bytes.js";
import { crc32 } from "../flash-format/crc32.js";
import { SEQUENTIAL_STATE_SIZE, SequentialPatchApplier } from "./sequential.js";
import {
  DELTA_BOUNDARY,
  DELTA_DONE,
  DELTA_FAILED,
  DELTA_NEED_MORE,
  type DeltaFailure,
  type DeltaFailureCode,
  type DeltaStatus,
  type ReadSource,
  type WriteOutput,
} from "./types.js";

/** "SDLT": SOTA delta. */
export const DELTA_MAGIC = 0x544c4453;
export const DELTA_HEADER_VERSION = 1;
export const DELTA_HEADER_SIZE = 88;
/** Patch format 1: detools sequential, heatshrink window 2^8, lookahead 2^7, no data format. */
export const DELTA_FORMAT_SEQUENTIAL_HEATSHRINK = 1;
const MAX_SIZE = 0x7fffffff;

export interface DeltaHeader {
  version: number;
  format: number;
  sourceSize: number;
  targetSize: number;
  patchSize: number;
  sourceSha256: Uint8Array;
  targetSha256: Uint8Array;
}

export type ParsedHeader =
  { ok: true; header: DeltaHeader } | { ok: false; code: DeltaFailureCode; message: string };

/** The header of a delta package made of `header` fields (version and header size are filled in). */
export function encodeDeltaHeader(header: Omit<DeltaHeader, "version">): Uint8Array {
  const bytes = new Uint8Array(DELTA_HEADER_SIZE);
  putU32(bytes, 0, DELTA_MAGIC);
  bytes[4] = DELTA_HEADER_VERSION;
  bytes[5] = header.format;
  putU16(bytes, 6, DELTA_HEADER_SIZE);
  putU32(bytes, 8, header.sourceSize);
  putU32(bytes, 12, header.targetSize);
  putU32(bytes, 16, header.patchSize);
  bytes.set(header.sourceSha256.subarray(0, 32), 20);
  bytes.set(header.targetSha256.subarray(0, 32), 52);
  putU32(bytes, 84, crc32(bytes, 0, 84));
  return bytes;
}

/** Reads the header at bytes[at..at+88); the digests returned are copies. */
export function parseDeltaHeader(bytes: Uint8Array, at = 0): ParsedHeader {
  if (bytes.length - at < DELTA_HEADER_SIZE) {
    return {
      ok: false,
      code: "header",
      message: `${bytes.length - at} bytes, a header has ${DELTA_HEADER_SIZE}`,
    };
  }
  if (getU32(bytes, at) !== DELTA_MAGIC)
    return { ok: false, code: "header", message: "not a delta package (magic)" };
  if (bytes[at + 4] !== DELTA_HEADER_VERSION) {
    return { ok: false, code: "header", message: `delta header version ${bytes[at + 4]} (only 1)` };
  }
  if (getU16(bytes, at + 6) !== DELTA_HEADER_SIZE) {
    return {
      ok: false,
      code: "header",
      message: `delta header size ${getU16(bytes, at + 6)} (version 1 has 88)`,
    };
  }
  if (getU32(bytes, at + 84) !== crc32(bytes, at, at + 84)) {
    return { ok: false, code: "header", message: "delta header CRC mismatch" };
  }
  if (bytes[at + 5] !== DELTA_FORMAT_SEQUENTIAL_HEATSHRINK) {
    return {
      ok: false,
      code: "unsupported",
      message: `patch format ${bytes[at + 5]} (only 1, sequential heatshrink)`,
    };
  }
  const header: DeltaHeader = {
    version: bytes[at + 4]!,
    format: bytes[at + 5]!,
    sourceSize: getU32(bytes, at + 8),
    targetSize: getU32(bytes, at + 12),
    patchSize: getU32(bytes, at + 16),
    sourceSha256: bytes.slice(at + 20, at + 52),
    targetSha256: bytes.slice(at + 52, at + 84),
  };
  if (header.sourceSize > MAX_SIZE || header.targetSize > MAX_SIZE || header.patchSize > MAX_SIZE) {
    return { ok: false, code: "header", message: "delta header sizes out of range" };
  }
  return { ok: true, header };
}

export interface DeltaPackageOptions {
  /** Reads the running image (the source). */
  readSource: ReadSource;
  /** Takes the new image, in order. */
  write: WriteOutput;
  /** A SHA-256 digest (the Digest port); it hashes the source (unless sourceSha256 is given), then the output. */
  sha256: Digest;
  /** Size of the running image, when known: a package for another size is refused before anything is written. */
  sourceSize?: number;
  /** SHA-256 of the running image when already known (e.g. from the boot record): skips hashing the source. */
  sourceSha256?: Uint8Array;
  /** Refuse packages that do not build this image. */
  expectTarget?: { size?: number; sha256?: Uint8Array };
  /** Buffer size of the patch applier and of the source check (default 256). */
  bufferSize?: number;
  /** Output boundary of DELTA_BOUNDARY stops (see SequentialApplierOptions.boundary). */
  boundary?: number;
}

const STATE_VERSION = 1;
/** Bytes of a checkpoint record of the package applier (version, header, patch applier state). */
export const DELTA_STATE_SIZE = 4 + DELTA_HEADER_SIZE + SEQUENTIAL_STATE_SIZE;

/**
 * Applies a delta package as it streams in: header (checked against the running image and the expectations),
 * then the patch (bounded to its declared length); DELTA_DONE comes only with the output's size and SHA-256
 * equal to the header's. Never throws.
 */
export class DeltaPackageApplier {
  header: DeltaHeader | undefined = undefined;
  failure: DeltaFailure | undefined = undefined;
  /** Bytes of the last push()'s chunk that were consumed. */
  consumed = 0;

  readonly #options: DeltaPackageOptions;
  readonly #headerBytes = new Uint8Array(DELTA_HEADER_SIZE);
  #headerLength = 0;
  readonly #scratch: Uint8Array;
  #patch: SequentialPatchApplier | undefined = undefined;
  #done = false;
  readonly #hashOutput: WriteOutput;

  constructor(options: DeltaPackageOptions) {
    this.#options = options;
    const size = options.bufferSize ?? 256;
    const sizeOk = Number.isInteger(size) && size >= 4 && size <= 0x10000;
    this.#scratch = new Uint8Array(sizeOk ? size : 256);
    if (!sizeOk) this.#fail("state", `bad options: bufferSize ${size}`);
    this.#hashOutput = (bytes, length) => {
      options.sha256.write(length === bytes.length ? bytes : bytes.subarray(0, length));
      return options.write(bytes, length);
    };
  }

  /** Package bytes consumed since the start of the package. */
  get packageOffset(): number {
    return this.#headerLength + (this.#patch?.inputOffset ?? 0);
  }

  /** Output bytes produced so far. */
  get outputOffset(): number {
    return this.#patch?.outputOffset ?? 0;
  }

  get done(): boolean {
    return this.#done;
  }

  /** Peak RAM of the buffers (header, scratch, patch applier), in bytes. */
  get bufferBytes(): number {
    return DELTA_HEADER_SIZE + this.#scratch.length + (this.#patch?.bufferBytes ?? 0);
  }

  /** Package bytes chunk[start..end); statuses as SequentialPatchApplier.push(). */
  push(chunk: Uint8Array, start = 0, end = chunk.length): DeltaStatus {
    try {
      return this.#push(chunk, start, end);
    } catch (error) {
      return this.#fail("state", `internal error: ${String(error)}`);
    }
  }

  #push(chunk: Uint8Array, start: number, end: number): DeltaStatus {
    this.consumed = 0;
    if (this.failure) return DELTA_FAILED;
    if (!(start >= 0 && end <= chunk.length && start <= end)) {
      return this.#fail("state", `push range ${start}..${end} outside a chunk of ${chunk.length}`);
    }
    let pos = start;
    if (this.#patch === undefined) {
      let n = DELTA_HEADER_SIZE - this.#headerLength;
      if (n > end - pos) n = end - pos;
      for (let i = 0; i < n; i++) this.#headerBytes[this.#headerLength++] = chunk[pos++]!;
      if (this.#headerLength < DELTA_HEADER_SIZE) {
        this.consumed = pos - start;
        return DELTA_NEED_MORE;
      }
      if (!this.#startPatch(true)) return DELTA_FAILED;
    }
    const patch = this.#patch!;
    if (this.#done) {
      if (pos !== end) return this.#fail("trailing", `${end - pos} bytes after the end of the package`);
      return DELTA_DONE;
    }
    const left = this.header!.patchSize - patch.inputOffset;
    const feedEnd = end - pos > left ? pos + left : end;
    const status = patch.push(chunk, pos, feedEnd);
    pos += patch.consumed;
    this.consumed = pos - start;
    if (status === DELTA_FAILED) return this.#fail(patch.failure!.code, patch.failure!.message);
    if (status === DELTA_BOUNDARY) return DELTA_BOUNDARY;
    if (status === DELTA_DONE) {
      if (patch.inputOffset !== this.header!.patchSize) {
        return this.#fail(
          "trailing",
          `the patch ends at byte ${patch.inputOffset} of its declared ${this.header!.patchSize}`,
        );
      }
      if (pos !== end) return this.#fail("trailing", `${end - pos} bytes after the end of the package`);
      return this.#verify();
    }
    if (patch.inputOffset === this.header!.patchSize) {
      return this.#fail(
        "too-short",
        `the patch ended at its declared ${this.header!.patchSize} bytes with output ${patch.outputOffset} of ${patch.toSize}`,
      );
    }
    return DELTA_NEED_MORE;
  }

  /** Call after the last package byte: DELTA_DONE only if the package was whole and its output verified. */
  finish(): DeltaStatus {
    if (this.failure) return DELTA_FAILED;
    if (this.#done) return DELTA_DONE;
    const where =
      this.#patch === undefined ? `in the header (${this.#headerLength} of ${DELTA_HEADER_SIZE} bytes)` : "";
    return this.#fail(
      "truncated",
      where
        ? `the package ended ${where}`
        : `the package ended at byte ${this.packageOffset} of ${DELTA_HEADER_SIZE + this.header!.patchSize}`,
    );
  }

  /**
   * Checkpoint (DELTA_STATE_SIZE bytes) after flushing the output; 0 before the header is complete (nothing to
   * keep: the package restarts from byte 0) or when failed.
   */
  save(into: Uint8Array, at = 0): number {
    if (this.failure || this.#patch === undefined) return 0;
    if (into.length - at < DELTA_STATE_SIZE) {
      this.#fail("state", `checkpoint buffer of ${into.length - at} bytes, ${DELTA_STATE_SIZE} needed`);
      return 0;
    }
    into[at] = STATE_VERSION;
    into[at + 1] = this.#done ? 1 : 0;
    into[at + 2] = 0;
    into[at + 3] = 0;
    into.set(this.#headerBytes, at + 4);
    if (this.#patch.save(into, at + 4 + DELTA_HEADER_SIZE) === 0) {
      this.#fail(this.#patch.failure!.code, this.#patch.failure!.message);
      return 0;
    }
    return DELTA_STATE_SIZE;
  }

  /**
   * Continues from a checkpoint on a fresh applier: re-reads the output written so far through `readOutput`
   * (the new slot) into the SHA-256, then expects package bytes from `packageOffset` on. The source's SHA-256
   * was checked before the checkpoint was taken and is not re-read. False (see `failure`) if it cannot.
   */
  restore(record: Uint8Array, readOutput: ReadSource, at = 0): boolean {
    try {
      if (this.failure) return false;
      if (this.#patch !== undefined || this.#headerLength !== 0) {
        this.#fail("state", "restore() on an applier that already started");
        return false;
      }
      if (record.length - at < DELTA_STATE_SIZE || record[at] !== STATE_VERSION) {
        this.#fail("state", "checkpoint record: bad length or version");
        return false;
      }
      this.#headerBytes.set(record.subarray(at + 4, at + 4 + DELTA_HEADER_SIZE));
      this.#headerLength = DELTA_HEADER_SIZE;
      if (!this.#startPatch(false)) return false;
      const patch = this.#patch!;
      if (!patch.restore(record, at + 4 + DELTA_HEADER_SIZE)) {
        this.#fail(patch.failure!.code, patch.failure!.message);
        return false;
      }
      this.#done = record[at + 1] === 1;
      if (this.#done !== patch.done) {
        this.#fail("state", "checkpoint record: inconsistent end flag");
        return false;
      }
      return this.#hashRange(readOutput, patch.outputOffset, "output");
    } catch (error) {
      this.#fail("state", `internal error: ${String(error)}`);
      return false;
    }
  }

  /** Parses the header, checks it against the options (and the source's SHA-256 when `checkSource`). */
  #startPatch(checkSource: boolean): boolean {
    const parsed = parseDeltaHeader(this.#headerBytes);
    if (!parsed.ok) {
      this.#fail(parsed.code, parsed.message);
      return false;
    }
    const header = parsed.header;
    this.header = header;
    const options = this.#options;
    if (options.sourceSize !== undefined && options.sourceSize !== header.sourceSize) {
      this.#fail(
        "wrong-base",
        `the delta is for a ${header.sourceSize}-byte image, this one has ${options.sourceSize}`,
      );
      return false;
    }
    const expect = options.expectTarget;
    if (expect?.size !== undefined && expect.size !== header.targetSize) {
      this.#fail("wrong-target", `the delta builds ${header.targetSize} bytes, ${expect.size} expected`);
      return false;
    }
    if (expect?.sha256 !== undefined && !sameBytes(expect.sha256, 0, header.targetSha256, 0, 32)) {
      this.#fail("wrong-target", "the delta builds another image (target SHA-256)");
      return false;
    }
    if (checkSource) {
      if (options.sourceSha256 !== undefined) {
        if (!sameBytes(options.sourceSha256, 0, header.sourceSha256, 0, 32)) {
          this.#fail("wrong-base", "the running image's SHA-256 is not the delta's source");
          return false;
        }
      } else {
        if (!this.#hashRange(options.readSource, header.sourceSize, "source")) return false;
        const digest = options.sha256.close();
        if (!sameBytes(digest, 0, header.sourceSha256, 0, 32)) {
          this.#fail("wrong-base", "the running image's SHA-256 is not the delta's source");
          return false;
        }
      }
    }
    options.sha256.reset();
    this.#patch = new SequentialPatchApplier({
      sourceSize: header.sourceSize,
      readSource: options.readSource,
      write: this.#hashOutput,
      bufferSize: this.#scratch.length,
      boundary: options.boundary ?? 0,
      targetSize: header.targetSize,
    });
    return true;
  }

  /** Feeds [0, size) read through `read` into a fresh SHA-256 (left open). */
  #hashRange(read: ReadSource, size: number, what: "source" | "output"): boolean {
    const digest = this.#options.sha256;
    const scratch = this.#scratch;
    digest.reset();
    for (let offset = 0; offset < size;) {
      const n = size - offset < scratch.length ? size - offset : scratch.length;
      let ok: boolean | void = false;
      try {
        ok = read(offset, n, scratch);
      } catch {
        ok = false;
      }
      if (ok === false) {
        this.#fail(what === "source" ? "source-read" : "sink", `reading the ${what} at ${offset} failed`);
        return false;
      }
      digest.write(n === scratch.length ? scratch : scratch.subarray(0, n));
      offset += n;
    }
    return true;
  }

  #verify(): DeltaStatus {
    const header = this.header!;
    const patch = this.#patch!;
    if (patch.outputOffset !== header.targetSize) {
      return this.#fail("wrong-target", `built ${patch.outputOffset} bytes, ${header.targetSize} declared`);
    }
    const digest = this.#options.sha256.close();
    if (!sameBytes(digest, 0, header.targetSha256, 0, 32)) {
      return this.#fail("wrong-target", "the built image's SHA-256 is not the declared target's");
    }
    this.#done = true;
    return DELTA_DONE;
  }

  #fail(code: DeltaFailureCode, message: string): typeof DELTA_FAILED {
    if (!this.failure) {
      this.failure = { code, message, inputOffset: this.packageOffset, outputOffset: this.outputOffset };
    }
    return DELTA_FAILED;
  }
}
