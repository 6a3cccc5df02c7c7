// Heatshrink encoder (window 2^8, lookahead 2^7) with an optimal parse: the cheapest sequence of literals (9 bits)
// and back-references (16 bits, distance 1..256, length 2..128) for the whole stream; output any heatshrink decoder reads.

const WINDOW = 256;
const MAX_LENGTH = 128;
const LITERAL_BITS = 9;
const BACKREF_BITS = 16;

class BitWriter {
  bytes: Uint8Array;
  length = 0;
  #current = 0;
  #used = 0;

  constructor(capacity: number) {
    this.bytes = new Uint8Array(Math.max(16, capacity));
  }

  put(value: number, count: number): void {
    for (let i = count - 1; i >= 0; i--) {
      this.#current = (this.#current << 1) | ((value >> i) & 1);
      if (++this.#used === 8) {
        if (this.length === this.bytes.length) {
          const grown = new Uint8Array(this.bytes.length * 2);
          grown.set(this.bytes);
          this.bytes = grown;
        }
        this.bytes[this.length++] = this.#current;
        this.#current = 0;
        this.#used = 0;
      }
    }
  }

  /** Pads the last byte with zero bits, as heatshrink's encoder does. */
  finish(): Uint8Array {
    if (this.#used > 0) this.put(0, 8 - this.#used);
    return this.bytes.slice(0, this.length);
  }
}

/** Longest match length (< 2 means none) and its distance for every position, via hash chains on 3-byte prefixes. */
function findMatches(data: Uint8Array): { length: Uint8Array; distance: Uint16Array } {
  const n = data.length;
  const length = new Uint8Array(n);
  const distance = new Uint16Array(n);
  const head2 = new Int32Array(1 << 16).fill(-1);
  const prev = new Int32Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    const limit = Math.min(MAX_LENGTH, n - i);
    if (limit >= 2) {
      const key = (data[i]! << 8) | data[i + 1]!;
      let best = 0;
      let bestDistance = 0;
      for (let j = head2[key]!; j >= 0 && i - j <= WINDOW; j = prev[j]!) {
        let l = 2;
        while (l < limit && data[j + l] === data[i + l]) l++;
        if (l > best) {
          best = l;
          bestDistance = i - j;
          if (l === limit) break;
        }
      }
      length[i] = best;
      distance[i] = bestDistance;
      prev[i] = head2[key]!;
      head2[key] = i;
    }
  }
  return { length, distance };
}

/** Heatshrink-compressed `data` (no header byte; detools writes that in front). */
export function heatshrinkEncode(data: Uint8Array): Uint8Array {
  const n = data.length;
  const { length, distance } = findMatches(data);
  // cost[i]: fewest bits to encode data[i..n); choice[i]: 0 literal, else back-reference length.
  const cost = new Float64Array(n + 1);
  const choice = new Uint8Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let best = cost[i + 1]! + LITERAL_BITS;
    let pick = 0;
    const maxLength = length[i]!;
    for (let l = 2; l <= maxLength; l++) {
      const c = cost[i + l]! + BACKREF_BITS;
      if (c < best) {
        best = c;
        pick = l;
      }
    }
    cost[i] = best;
    choice[i] = pick;
  }
  const writer = new BitWriter(Math.ceil(cost[0]! / 8) + 1);
  for (let i = 0; i < n;) {
    const l = choice[i]!;
    if (l === 0) {
      writer.put(1, 1);
      writer.put(data[i]!, 8);
      i++;
    } else {
      // A shorter match than the longest keeps the same distance (its prefix matches too).
      writer.put(0, 1);
      writer.put(distance[i]! - 1, 8);
      writer.put(l - 1, 7);
      i += l;
    }
  }
  return writer.finish();
}
