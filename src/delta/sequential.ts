// Streaming applier of detools "sequential" patches with heatshrink (2^8 window, 2^7 lookahead): patch bytes in
// chunks of any size, the source read through a callback, the output written through a sink, fixed buffers only.
import { HEATSHRINK_HEADER, HEATSHRINK_STATE_SIZE, HeatshrinkDecoder } from "./heatshrink.js";
import { getU32, putU32 } from "../flash-format/bytes.js";
import { crc32 } from "../flash-format/crc32.js";
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

/** detools' first patch byte: patch type sequential (0) << 4 | compression heatshrink (4). */
export const SEQUENTIAL_HEATSHRINK = 0x04;

// Phases, in the order the patch presents its fields.
const P_TYPE = 0;
const P_TO_SIZE = 1;
const P_HS_HEADER = 2;
const P_DF_SIZE = 3;
const P_DIFF_SIZE = 4;
const P_DIFF = 5;
const P_EXTRA_SIZE = 6;
const P_EXTRA = 7;
const P_ADJUST = 8;
const P_DONE = 9;
const P_FAILED = 10;

const STATE_VERSION = 1;
const STATE_DECODER = 32;
const STATE_CRC = STATE_DECODER + HEATSHRINK_STATE_SIZE;
/** Bytes of a checkpoint record written by save(). */
export const SEQUENTIAL_STATE_SIZE = STATE_CRC + 4;

/** Largest size field accepted: detools' C applier refuses a fourth continuation byte (27 bits). */
const MAX_SHIFT = 25;
const MAX_FROM_OFFSET = 0x7fffffff;

export interface SequentialApplierOptions {
  /** Bytes of the source image; the patch may read only inside it. */
  sourceSize: number;
  readSource: ReadSource;
  write: WriteOutput;
  /** Output and source read buffer size in bytes (default 256). */
  bufferSize?: number;
  /** push() stops with DELTA_BOUNDARY each time the output reaches a multiple of this (0, the default: never).
   *  A multiple of bufferSize keeps every sink write full-sized. */
  boundary?: number;
  /** When set, a patch declaring another output size is refused ("wrong-target"). */
  targetSize?: number;
}

export class SequentialPatchApplier {
  readonly sourceSize: number;
  readonly bufferSize: number;
  readonly boundary: number;
  /** Declared output size (-1 until the patch header was read). */
  toSize = -1;
  /** Output bytes produced (all written to the sink, except what waits in the output buffer). */
  outputOffset = 0;
  /** Patch bytes consumed since the start of the patch. */
  inputOffset = 0;
  /** Bytes of the last push()'s chunk that were consumed (all of them unless it returned BOUNDARY). */
  consumed = 0;
  failure: DeltaFailure | undefined = undefined;

  readonly #decoder = new HeatshrinkDecoder();
  readonly #readSource: ReadSource;
  readonly #write: WriteOutput;
  readonly #targetSize: number;
  readonly #out: Uint8Array;
  readonly #src: Uint8Array;
  // Word views of the same buffers for the diff additions.
  readonly #out32: Uint32Array;
  readonly #src32: Uint32Array;
  readonly #one = new Uint8Array(1);
  #phase = P_TYPE;
  #outLen = 0;
  #nextFlush: number;
  #nextBoundary: number;
  #fromOffset = 0;
  #chunkLeft = 0;
  #srcStart = 0;
  #srcLen = 0;
  // Size field being read: value so far, bit position of the next byte (0 = first byte), sign.
  #value = 0;
  #shift = 0;
  #negative = false;

  constructor(options: SequentialApplierOptions) {
    this.sourceSize = options.sourceSize;
    const size = options.bufferSize ?? 256;
    // A bad size would make the buffers throw; fall back to the default and refuse at the first push().
    const sizeOk = Number.isInteger(size) && size >= 4 && size <= 0x10000;
    this.bufferSize = sizeOk ? size : 256;
    this.boundary = options.boundary ?? 0;
    this.#readSource = options.readSource;
    this.#write = options.write;
    this.#targetSize = options.targetSize ?? -1;
    this.#out = new Uint8Array(this.bufferSize);
    this.#src = new Uint8Array(this.bufferSize);
    this.#out32 = new Uint32Array(this.#out.buffer, 0, this.bufferSize >> 2);
    this.#src32 = new Uint32Array(this.#src.buffer, 0, this.bufferSize >> 2);
    this.#nextFlush = this.bufferSize;
    this.#nextBoundary = this.boundary > 0 ? this.boundary : Infinity;
    if (!sizeOk || !(this.sourceSize >= 0 && this.sourceSize <= MAX_FROM_OFFSET) || !(this.boundary >= 0)) {
      this.#fail(
        "state",
        `bad options: bufferSize ${size}, sourceSize ${this.sourceSize}, boundary ${this.boundary}`,
      );
    }
  }

  get done(): boolean {
    return this.#phase === P_DONE;
  }

  /** Peak RAM of the buffers this applier owns (output, source cache, decoder window), in bytes. */
  get bufferBytes(): number {
    return this.#out.length + this.#src.length + this.#decoder.window.length + 1;
  }

  /**
   * Applies patch bytes chunk[start..end). Returns DELTA_NEED_MORE (all consumed), DELTA_BOUNDARY (stopped at an
   * output boundary after `consumed` bytes: push the rest after saving a checkpoint), DELTA_DONE (the output is
   * complete and written) or DELTA_FAILED (see `failure`). Never throws.
   */
  push(chunk: Uint8Array, start = 0, end = chunk.length): DeltaStatus {
    try {
      return this.#push(chunk, start, end);
    } catch (error) {
      // Only a bug could get here; it still must not escape to the engine.
      return this.#fail("state", `internal error: ${String(error)}`);
    }
  }

  #push(chunk: Uint8Array, start: number, end: number): DeltaStatus {
    this.consumed = 0;
    if (this.#phase === P_FAILED) return DELTA_FAILED;
    if (!(start >= 0 && end <= chunk.length && start <= end)) {
      return this.#fail("state", `push range ${start}..${end} outside a chunk of ${chunk.length}`);
    }
    let pos = start;
    const decoder = this.#decoder;
    const one = this.#one;
    for (;;) {
      switch (this.#phase) {
        case P_TYPE: {
          if (pos === end) return this.#needMore(pos, start);
          const b = chunk[pos++]!;
          this.inputOffset++;
          if ((b & 0x70) !== 0)
            return this.#fail("unsupported", `patch type ${(b >> 4) & 7} (only sequential, 0)`);
          if ((b & 0x0f) !== 4)
            return this.#fail("unsupported", `compression ${b & 0x0f} (only heatshrink, 4)`);
          if (b & 0x80) return this.#fail("corrupt", "reserved bit set in the patch header");
          this.#phase = P_TO_SIZE;
          this.#shift = 0;
          break;
        }
        case P_TO_SIZE: {
          if (pos === end) return this.#needMore(pos, start);
          this.inputOffset++;
          const r = this.#sizeByte(chunk[pos++]!);
          if (r < 0) return DELTA_FAILED;
          if (r === 0) break;
          if (this.#negative) return this.#fail("corrupt", "negative output size");
          this.toSize = this.#value;
          if (this.#targetSize >= 0 && this.toSize !== this.#targetSize) {
            return this.#fail(
              "wrong-target",
              `the patch builds ${this.toSize} bytes, ${this.#targetSize} expected`,
            );
          }
          this.#phase = this.toSize === 0 ? P_DONE : P_HS_HEADER;
          break;
        }
        case P_HS_HEADER: {
          if (pos === end) return this.#needMore(pos, start);
          const b = chunk[pos++]!;
          this.inputOffset++;
          if (b !== HEATSHRINK_HEADER) {
            return this.#fail(
              "unsupported",
              `heatshrink window 2^${(b >> 4) + 4}, lookahead 2^${(b & 15) + 3} (only 2^8 and 2^7)`,
            );
          }
          decoder.reset();
          this.#phase = P_DF_SIZE;
          this.#shift = 0;
          break;
        }
        case P_DF_SIZE:
        case P_DIFF_SIZE:
        case P_EXTRA_SIZE:
        case P_ADJUST: {
          decoder.feed(chunk, pos, end);
          const n = decoder.produce(one, 0, 1);
          this.inputOffset += decoder.inPos - pos;
          pos = decoder.inPos;
          if (n === 0) return this.#needMore(pos, start);
          const r = this.#sizeByte(one[0]!);
          if (r < 0) return DELTA_FAILED;
          if (r === 0) break;
          const value = this.#negative ? -this.#value : this.#value;
          if (this.#sizeDone(value) === DELTA_FAILED) return DELTA_FAILED;
          if ((this.#phase as number) === P_DONE) {
            if (!decoder.atCleanEnd())
              return this.#fail("corrupt", "nonzero padding after the last patch field");
            if (!this.#flush()) return DELTA_FAILED;
          }
          this.#shift = 0;
          break;
        }
        case P_DIFF:
        case P_EXTRA: {
          let n = this.#chunkLeft;
          const stop = this.#nextFlush < this.#nextBoundary ? this.#nextFlush : this.#nextBoundary;
          if (n > stop - this.outputOffset) n = stop - this.outputOffset;
          const out = this.#out;
          const at = this.#outLen;
          decoder.feed(chunk, pos, end);
          const got = decoder.produce(out, at, n);
          this.inputOffset += decoder.inPos - pos;
          pos = decoder.inPos;
          if (got === 0) return this.#needMore(pos, start);
          if (this.#phase === P_DIFF && !this.#addSource(out, at, got)) return DELTA_FAILED;
          this.#outLen += got;
          this.outputOffset += got;
          this.#chunkLeft -= got;
          if (this.#chunkLeft === 0) {
            this.#phase = this.#phase === P_DIFF ? P_EXTRA_SIZE : P_ADJUST;
            this.#shift = 0;
          }
          if (this.outputOffset === this.#nextFlush) {
            this.#nextFlush += this.bufferSize;
            if (!this.#flush()) return DELTA_FAILED;
          }
          if (this.outputOffset === this.#nextBoundary) {
            this.#nextBoundary += this.boundary;
            if (!this.#flush()) return DELTA_FAILED;
            decoder.release();
            this.consumed = pos - start;
            return DELTA_BOUNDARY;
          }
          break;
        }
        case P_DONE:
          decoder.release();
          this.consumed = pos - start;
          if (pos !== end) return this.#fail("trailing", `${end - pos} bytes after the end of the patch`);
          return DELTA_DONE;
        default:
          return DELTA_FAILED;
      }
    }
  }

  /** Call after the last byte: DELTA_DONE if the patch was complete, else DELTA_FAILED ("truncated"). */
  finish(): DeltaStatus {
    if (this.#phase === P_FAILED) return DELTA_FAILED;
    if (this.#phase !== P_DONE) {
      const at = this.toSize < 0 ? "in the header" : `at output byte ${this.outputOffset} of ${this.toSize}`;
      return this.#fail("truncated", `the patch ended ${at}`);
    }
    return DELTA_DONE;
  }

  /** Writes buffered output to the sink (save() does it too); false on failure. */
  flush(): boolean {
    return this.#phase !== P_FAILED && this.#flush();
  }

  /**
   * Writes a checkpoint (SEQUENTIAL_STATE_SIZE bytes) at into[at..] after flushing buffered output, so that
   * the output [0, outputOffset) is all with the sink and the patch continues at byte inputOffset. Returns the
   * record length, or 0 when failed.
   */
  save(into: Uint8Array, at = 0): number {
    if (this.#phase === P_FAILED) return 0;
    if (into.length - at < SEQUENTIAL_STATE_SIZE) {
      this.#fail("state", `checkpoint buffer of ${into.length - at} bytes, ${SEQUENTIAL_STATE_SIZE} needed`);
      return 0;
    }
    if (!this.#flush()) return 0;
    into[at] = STATE_VERSION;
    into[at + 1] = this.#phase;
    into[at + 2] = this.#shift;
    into[at + 3] = this.#negative ? 1 : 0;
    putU32(into, at + 4, this.#value);
    putU32(into, at + 8, this.toSize);
    putU32(into, at + 12, this.outputOffset);
    putU32(into, at + 16, this.#fromOffset);
    putU32(into, at + 20, this.#chunkLeft);
    putU32(into, at + 24, this.inputOffset);
    putU32(into, at + 28, this.sourceSize);
    this.#decoder.save(into, at + STATE_DECODER);
    putU32(into, at + STATE_CRC, crc32(into, at, at + STATE_CRC));
    return SEQUENTIAL_STATE_SIZE;
  }

  /**
   * Continues from a checkpoint: the next push() must bring the patch from byte `inputOffset` on, and the next
   * output byte written is byte `outputOffset`. False (with failure "state") if the record is not a valid one
   * for this source size.
   */
  restore(from: Uint8Array, at = 0): boolean {
    if (this.#phase === P_FAILED) return false;
    if (
      from.length - at < SEQUENTIAL_STATE_SIZE ||
      getU32(from, at + STATE_CRC) !== crc32(from, at, at + STATE_CRC)
    ) {
      this.#fail("state", "checkpoint record: bad length or CRC");
      return false;
    }
    const phase = from[at + 1]!;
    const shift = from[at + 2]!;
    const toSize = getU32(from, at + 8);
    const outputOffset = getU32(from, at + 12);
    const chunkLeft = getU32(from, at + 20);
    const inputOffset = getU32(from, at + 24);
    const fromOffset = getU32(from, at + 16) | 0;
    const valid =
      from[at] === STATE_VERSION &&
      phase <= P_DONE &&
      shift <= MAX_SHIFT + 7 &&
      getU32(from, at + 28) === this.sourceSize &&
      (phase <= P_TO_SIZE || (toSize <= MAX_FROM_OFFSET && outputOffset <= toSize)) &&
      chunkLeft <= toSize - outputOffset &&
      inputOffset <= MAX_FROM_OFFSET &&
      (this.#targetSize < 0 || phase <= P_TO_SIZE || toSize === this.#targetSize) &&
      ((phase !== P_DIFF && phase !== P_EXTRA) || chunkLeft > 0) &&
      // A diff in progress must still read inside the source: readSource is never asked for anything else.
      (phase !== P_DIFF || (fromOffset >= 0 && fromOffset + chunkLeft <= this.sourceSize)) &&
      this.#decoder.restore(from, at + STATE_DECODER);
    if (!valid) {
      this.#fail("state", "checkpoint record: values out of range or for another source");
      return false;
    }
    this.#phase = phase;
    this.#shift = shift;
    this.#negative = from[at + 3] === 1;
    this.#value = getU32(from, at + 4);
    this.toSize = phase <= P_TO_SIZE ? -1 : toSize;
    this.outputOffset = outputOffset;
    this.#fromOffset = fromOffset;
    this.#chunkLeft = chunkLeft;
    this.inputOffset = inputOffset;
    this.#outLen = 0;
    this.#srcLen = 0;
    // Sink writes realign to bufferSize multiples (a boundary multiple of it resumes aligned already).
    this.#nextFlush = (Math.floor(outputOffset / this.bufferSize) + 1) * this.bufferSize;
    this.#nextBoundary =
      this.boundary > 0 ? (Math.floor(outputOffset / this.boundary) + 1) * this.boundary : Infinity;
    return true;
  }

  /** Reads one size byte (detools' format: 6 bits, sign, then 7 bits per byte); 1 done, 0 more, -1 failed. */
  #sizeByte(b: number): number {
    if (this.#shift === 0) {
      this.#negative = (b & 0x40) !== 0;
      this.#value = b & 0x3f;
      this.#shift = 6;
    } else {
      if (this.#shift > MAX_SHIFT) {
        this.#fail("corrupt", "size field longer than 4 bytes");
        return -1;
      }
      this.#value |= (b & 0x7f) << this.#shift;
      this.#shift += 7;
    }
    return b & 0x80 ? 0 : 1;
  }

  /** Acts on a complete size field of the current phase. */
  #sizeDone(value: number): DeltaStatus {
    switch (this.#phase) {
      case P_DF_SIZE:
        if (value !== 0) return this.#fail("unsupported", "a data format section (detools --data-format)");
        this.#phase = P_DIFF_SIZE;
        return DELTA_NEED_MORE;
      case P_DIFF_SIZE:
      case P_EXTRA_SIZE: {
        const diff = this.#phase === P_DIFF_SIZE;
        if (value < 0) return this.#fail("corrupt", `negative ${diff ? "diff" : "extra"} length ${value}`);
        if (value > this.toSize - this.outputOffset) {
          return this.#fail(
            "too-long",
            `${diff ? "diff" : "extra"} of ${value} bytes at output byte ${this.outputOffset} of ${this.toSize}`,
          );
        }
        if (diff && value > 0 && (this.#fromOffset < 0 || this.#fromOffset + value > this.sourceSize)) {
          return this.#fail(
            "source-range",
            `diff reads source bytes ${this.#fromOffset}..${this.#fromOffset + value} of ${this.sourceSize}`,
          );
        }
        this.#chunkLeft = value;
        this.#phase = value > 0 ? (diff ? P_DIFF : P_EXTRA) : diff ? P_EXTRA_SIZE : P_ADJUST;
        return DELTA_NEED_MORE;
      }
      default: {
        // P_ADJUST: move the source position.
        const from = this.#fromOffset + value;
        if (from > MAX_FROM_OFFSET || from < -MAX_FROM_OFFSET) {
          return this.#fail("corrupt", `source position ${from} out of range`);
        }
        this.#fromOffset = from;
        this.#phase = this.outputOffset === this.toSize ? P_DONE : P_DIFF_SIZE;
        return DELTA_NEED_MORE;
      }
    }
  }

  /** Adds the source bytes at the source position to out[at..at+count) (diff data), through the source cache. */
  #addSource(out: Uint8Array, at: number, count: number): boolean {
    const src = this.#src;
    let from = this.#fromOffset;
    let i = at;
    const stop = at + count;
    while (i < stop) {
      if (from < this.#srcStart || from >= this.#srcStart + this.#srcLen) {
        // Cache from a multiple of 4 (still inside the source) so that word additions can line up.
        const first = from - (from & 3);
        let length = this.sourceSize - first;
        if (length > src.length) length = src.length;
        let ok: boolean | void = false;
        try {
          ok = this.#readSource(first, length, src);
        } catch (error) {
          this.#fail("source-read", `reading ${length} source bytes at ${first}: ${String(error)}`);
          return false;
        }
        if (ok === false) {
          this.#fail("source-read", `reading ${length} source bytes at ${first} failed`);
          return false;
        }
        this.#srcStart = first;
        this.#srcLen = length;
      }
      let k = from - this.#srcStart;
      let n = this.#srcStart + this.#srcLen - from;
      if (n > stop - i) n = stop - i;
      from += n;
      const e = i + n;
      if (((i ^ k) & 3) === 0 && n >= 8) {
        // Same alignment: bytes up to a word boundary, then 4 byte-wise additions per word (SWAR), then the tail.
        for (; i & 3; i++) out[i] = out[i]! + src[k++]!;
        const out32 = this.#out32;
        const src32 = this.#src32;
        let w = i >> 2;
        let v = k >> 2;
        const words = (e - i) >> 2;
        for (const we = w + words; w < we; w++, v++) {
          const a = out32[w]!;
          const b = src32[v]!;
          out32[w] = ((a & 0x7f7f7f7f) + (b & 0x7f7f7f7f)) ^ ((a ^ b) & 0x80808080);
        }
        i += words << 2;
        k += words << 2;
      }
      for (; i < e; i++) out[i] = out[i]! + src[k++]!;
    }
    this.#fromOffset = from;
    return true;
  }

  #flush(): boolean {
    const length = this.#outLen;
    if (length === 0) return true;
    this.#outLen = 0;
    let ok: boolean | void = false;
    try {
      ok = this.#write(this.#out, length);
    } catch (error) {
      this.#fail("sink", `writing ${length} bytes at ${this.outputOffset - length}: ${String(error)}`);
      return false;
    }
    if (ok === false) {
      this.#fail("sink", `writing ${length} bytes at ${this.outputOffset - length} failed`);
      return false;
    }
    return true;
  }

  #needMore(pos: number, start: number): DeltaStatus {
    this.#decoder.release();
    this.consumed = pos - start;
    return DELTA_NEED_MORE;
  }

  #fail(code: DeltaFailureCode, message: string): typeof DELTA_FAILED {
    this.#decoder.release();
    if (this.#phase !== P_FAILED) {
      this.#phase = P_FAILED;
      this.failure = { code, message, inputOffset: this.inputOffset, outputOffset: this.outputOffset };
    }
    return DELTA_FAILED;
  }
}
