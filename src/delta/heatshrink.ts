// Streaming heatshrink (LZSS) decoder for window 2^8 and lookahead 2^7, the parameters of detools' patches:
// a resumable state machine over fixed buffers that decodes exactly as the reference C decoder does.

/** Window size exponent (backref index bits) and lookahead exponent (backref count bits). */
export const HEATSHRINK_WINDOW_BITS = 8;
export const HEATSHRINK_LOOKAHEAD_BITS = 7;
/** detools' heatshrink header byte: (window - 4) << 4 | (lookahead - 3). */
export const HEATSHRINK_HEADER = ((HEATSHRINK_WINDOW_BITS - 4) << 4) | (HEATSHRINK_LOOKAHEAD_BITS - 3);

const WINDOW = 1 << HEATSHRINK_WINDOW_BITS;
const MASK = WINDOW - 1;

/** Decoder states (the C decoder's, minus the MSB states that exist only for windows above 8 bits). */
export const HS_TAG = 0;
export const HS_LITERAL = 1;
export const HS_INDEX = 2;
export const HS_COUNT = 3;
export const HS_BACKREF = 4;

/** Bytes of decoder state in a checkpoint (see save/restore). */
export const HEATSHRINK_STATE_SIZE = 8 + WINDOW;

const EMPTY = new Uint8Array(0);

export class HeatshrinkDecoder {
  /** The last 256 output bytes (a ring, zero-filled at reset as in the C decoder). */
  readonly window = new Uint8Array(WINDOW);
  state = HS_TAG;
  head = 0;
  /** Unread bits of the last input byte (bitCount < 8 between calls), most significant first. */
  bits = 0;
  bitCount = 0;
  /** Current backref: distance 1..256 and bytes still to copy 0..128. */
  distance = 0;
  count = 0;
  #input: Uint8Array = EMPTY;
  /** Next input byte to read; the caller reads it back after produce() to know how much was consumed. */
  inPos = 0;
  #inEnd = 0;

  reset(): void {
    this.window.fill(0);
    this.state = HS_TAG;
    this.head = 0;
    this.bits = 0;
    this.bitCount = 0;
    this.distance = 0;
    this.count = 0;
  }

  /** Offers input bytes[start..end); produce() consumes them only as far as it needs. */
  feed(bytes: Uint8Array, start: number, end: number): void {
    this.#input = bytes;
    this.inPos = start;
    this.#inEnd = end;
  }

  /** Drops the reference to the caller's buffer (so it can be reused or collected). */
  release(): void {
    this.#input = EMPTY;
    this.inPos = 0;
    this.#inEnd = 0;
  }

  /**
   * Decodes up to `max` bytes into dst[pos..pos+max); returns how many (0 when the input ran out first).
   * The input position moves only over bytes whose bits were taken.
   */
  produce(dst: Uint8Array, pos: number, max: number): number {
    const input = this.#input;
    const inEnd = this.#inEnd;
    const window = this.window;
    let inPos = this.inPos;
    let bits = this.bits;
    let bitCount = this.bitCount;
    let state = this.state;
    let head = this.head;
    let out = pos;
    const stop = pos + max;
    loop: while (out < stop) {
      switch (state) {
        case HS_TAG:
          if (bitCount === 0) {
            if (inPos === inEnd) break loop;
            bits = input[inPos++]!;
            bitCount = 8;
          }
          bitCount--;
          state = (bits >> bitCount) & 1 ? HS_LITERAL : HS_INDEX;
          bits &= (1 << bitCount) - 1;
          break;
        case HS_LITERAL: {
          if (bitCount < 8) {
            if (inPos === inEnd) break loop;
            bits = (bits << 8) | input[inPos++]!;
            bitCount += 8;
          }
          bitCount -= 8;
          const c = (bits >> bitCount) & 0xff;
          bits &= (1 << bitCount) - 1;
          window[head] = c;
          head = (head + 1) & MASK;
          dst[out++] = c;
          state = HS_TAG;
          break;
        }
        case HS_INDEX:
          if (bitCount < HEATSHRINK_WINDOW_BITS) {
            if (inPos === inEnd) break loop;
            bits = (bits << 8) | input[inPos++]!;
            bitCount += 8;
          }
          bitCount -= HEATSHRINK_WINDOW_BITS;
          this.distance = ((bits >> bitCount) & MASK) + 1;
          bits &= (1 << bitCount) - 1;
          state = HS_COUNT;
          break;
        case HS_COUNT:
          if (bitCount < HEATSHRINK_LOOKAHEAD_BITS) {
            if (inPos === inEnd) break loop;
            bits = (bits << 8) | input[inPos++]!;
            bitCount += 8;
          }
          bitCount -= HEATSHRINK_LOOKAHEAD_BITS;
          this.count = ((bits >> bitCount) & ((1 << HEATSHRINK_LOOKAHEAD_BITS) - 1)) + 1;
          bits &= (1 << bitCount) - 1;
          state = HS_BACKREF;
          break;
        default: {
          // HS_BACKREF: copy from `distance` back; the copy may overlap itself (runs).
          let n = this.count;
          if (n > stop - out) n = stop - out;
          const distance = this.distance;
          if (distance === 1 && head + n <= WINDOW) {
            // A run of one byte (zero diff bytes mostly): native fills instead of a byte loop.
            const c = window[(head - 1) & MASK]!;
            window.fill(c, head, head + n);
            dst.fill(c, out, out + n);
            head = (head + n) & MASK;
            out += n;
          } else {
            for (let i = 0; i < n; i++) {
              const c = window[(head - distance) & MASK]!;
              window[head] = c;
              head = (head + 1) & MASK;
              dst[out++] = c;
            }
          }
          this.count -= n;
          if (this.count === 0) state = HS_TAG;
          break;
        }
      }
    }
    this.inPos = inPos;
    this.bits = bits;
    this.bitCount = bitCount;
    this.state = state;
    this.head = head;
    return out - pos;
  }

  /** True when the stream may end here: no backref or literal half-read and only zero padding bits left. */
  atCleanEnd(): boolean {
    return this.state === HS_TAG && this.bits === 0;
  }

  /** Writes the decoder state (HEATSHRINK_STATE_SIZE bytes) at into[at..]. */
  save(into: Uint8Array, at: number): void {
    into[at] = this.state;
    into[at + 1] = this.head;
    into[at + 2] = this.bits;
    into[at + 3] = this.bitCount;
    into[at + 4] = (this.distance - 1) & 0xff;
    into[at + 5] = this.count;
    into[at + 6] = 0;
    into[at + 7] = 0;
    into.set(this.window, at + 8);
  }

  /** Restores a state written by save(); false (state unchanged) if the bytes cannot be a decoder state. */
  restore(from: Uint8Array, at: number): boolean {
    const state = from[at]!;
    const bitCount = from[at + 3]!;
    const bits = from[at + 2]!;
    const count = from[at + 5]!;
    if (
      state > HS_BACKREF ||
      bitCount > 7 ||
      bits >> bitCount !== 0 ||
      count > 1 << HEATSHRINK_LOOKAHEAD_BITS
    ) {
      return false;
    }
    if ((state === HS_BACKREF) !== count > 0) return false;
    this.state = state;
    this.head = from[at + 1]!;
    this.bits = bits;
    this.bitCount = bitCount;
    this.distance = from[at + 4]! + 1;
    this.count = count;
    this.window.set(from.subarray(at + 8, at + 8 + WINDOW));
    return true;
  }
}
