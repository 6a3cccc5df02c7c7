// bsdiff-style matching for detools' sequential layout: a suffix array of the source, then the classic scan that cuts
// the target into (diff, extra, adjustment) blocks, serialized with detools' size fields.

/** Suffix array of `s` with the empty suffix first: n + 1 entries, sa[0] = n (prefix doubling with radix sorts). */
export function suffixArray(s: Uint8Array): Int32Array {
  const n = s.length + 1;
  const sa = new Int32Array(n);
  let rank = new Int32Array(n);
  let next = new Int32Array(n);
  const tmp = new Int32Array(n);
  const count = new Int32Array(Math.max(257, n) + 1);
  for (let i = 0; i < n - 1; i++) rank[i] = s[i]! + 1;
  rank[n - 1] = 0;
  // Counting sort by first byte.
  for (let i = 0; i < n; i++) count[rank[i]!]!++;
  for (let i = 1; i < count.length; i++) count[i]! += count[i - 1]!;
  for (let i = n - 1; i >= 0; i--) sa[--count[rank[i]!]!] = i;
  let classes = 0;
  {
    next[sa[0]!] = 0;
    for (let i = 1; i < n; i++)
      next[sa[i]!] = next[sa[i - 1]!]! + (rank[sa[i]!] !== rank[sa[i - 1]!] ? 1 : 0);
    classes = next[sa[n - 1]!]! + 1;
    [rank, next] = [next, rank];
  }
  for (let k = 1; classes < n; k <<= 1) {
    // Order by second key: suffixes too short for it first, then the previous order shifted by k.
    let p = 0;
    for (let i = n - k; i < n; i++) tmp[p++] = i;
    for (let i = 0; i < n; i++) if (sa[i]! >= k) tmp[p++] = sa[i]! - k;
    // Stable counting sort by first key.
    count.fill(0, 0, classes + 1);
    for (let i = 0; i < n; i++) count[rank[i]!]!++;
    for (let i = 1; i <= classes; i++) count[i]! += count[i - 1]!;
    for (let i = n - 1; i >= 0; i--) {
      const j = tmp[i]!;
      sa[--count[rank[j]!]!] = j;
    }
    next[sa[0]!] = 0;
    for (let i = 1; i < n; i++) {
      const a = sa[i]!;
      const b = sa[i - 1]!;
      const ra = a + k < n ? rank[a + k]! : -1;
      const rb = b + k < n ? rank[b + k]! : -1;
      next[a] = next[b]! + (rank[a] !== rank[b] || ra !== rb ? 1 : 0);
    }
    classes = next[sa[n - 1]!]! + 1;
    [rank, next] = [next, rank];
  }
  return sa;
}

/** Growable byte buffer with detools' size fields. */
export class ByteSink {
  bytes = new Uint8Array(1024);
  length = 0;

  #room(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < this.length + n) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }

  byte(b: number): void {
    this.#room(1);
    this.bytes[this.length++] = b;
  }

  append(data: Uint8Array, start = 0, end = data.length): void {
    this.#room(end - start);
    this.bytes.set(data.subarray(start, end), this.length);
    this.length += end - start;
  }

  /** detools' pack_size: first byte 0x80 more | 0x40 negative | 6 bits, then 0x80 more | 7 bits each. */
  size(value: number): void {
    if (value === 0) {
      this.byte(0);
      return;
    }
    let v = Math.abs(value);
    let first = (value < 0 ? 0x40 : 0) | (v & 0x3f);
    v = Math.floor(v / 64);
    if (v > 0) first |= 0x80;
    this.byte(first);
    while (v > 0) {
      const b = v & 0x7f;
      v = Math.floor(v / 128);
      this.byte(v > 0 ? b | 0x80 : b);
    }
  }

  result(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }
}

function matchLength(from: Uint8Array, fromStart: number, to: Uint8Array, toStart: number): number {
  const n = Math.min(from.length - fromStart, to.length - toStart);
  let i = 0;
  while (i < n && from[fromStart + i] === to[toStart + i]) i++;
  return i;
}

/** memcmp(from + a, to + b, min(...)) < 0. */
function lessThan(from: Uint8Array, a: number, to: Uint8Array, b: number): boolean {
  const n = Math.min(from.length - a, to.length - b);
  for (let i = 0; i < n; i++) {
    const x = from[a + i]!;
    const y = to[b + i]!;
    if (x !== y) return x < y;
  }
  return false;
}

/** Longest match of to[toStart..] in the source: [length, source position] (bsdiff's binary search). */
function search(sa: Int32Array, from: Uint8Array, to: Uint8Array, toStart: number): [number, number] {
  let begin = 0;
  let end = from.length;
  while (end - begin >= 2) {
    const x = begin + ((end - begin) >> 1);
    if (lessThan(from, sa[x]!, to, toStart)) begin = x;
    else end = x;
  }
  const a = matchLength(from, sa[begin]!, to, toStart);
  const b = matchLength(from, sa[end]!, to, toStart);
  return a > b ? [a, sa[begin]!] : [b, sa[end]!];
}

/**
 * The decompressed body of a detools sequential patch after its data-format field: repeated
 * size(diff) diff-bytes size(extra) extra-bytes size(adjustment), as detools' bsdiff.c cuts it.
 */
export function bsdiffBlocks(from: Uint8Array, to: Uint8Array, sa: Int32Array, out: ByteSink): void {
  const fromSize = from.length;
  const toSize = to.length;
  let scan = 0;
  let len = 0;
  let pos = 0;
  let lastScan = 0;
  let lastPos = 0;
  let lastOffset = 0;
  while (scan < toSize) {
    let score = 0;
    scan += len;
    let scsc = scan;
    for (; scan < toSize; scan++) {
      [len, pos] = search(sa, from, to, scan);
      for (; scsc < scan + len; scsc++) {
        if (scsc + lastOffset < fromSize && from[scsc + lastOffset] === to[scsc]) score++;
      }
      if ((len === score && len !== 0) || len > score + 8) break;
      if (scan + lastOffset < fromSize && from[scan + lastOffset] === to[scan]) score--;
    }
    if (len !== score || scan === toSize) {
      // Forward extension of the previous match.
      let s = 0;
      let sf = 0;
      let diffSize = 0;
      for (let i = 0; lastScan + i < scan && lastPos + i < fromSize;) {
        if (from[lastPos + i] === to[lastScan + i]) s++;
        i++;
        if (s * 2 - i > sf * 2 - diffSize) {
          sf = s;
          diffSize = i;
        }
      }
      // Backward extension of the new one.
      let lenb = 0;
      if (scan < toSize) {
        let sb = 0;
        s = 0;
        for (let i = 1; scan >= lastScan + i && pos >= i; i++) {
          if (from[pos - i] === to[scan - i]) s++;
          if (s * 2 - i > sb * 2 - lenb) {
            sb = s;
            lenb = i;
          }
        }
      }
      const overlap = lastScan + diffSize - (scan - lenb);
      if (overlap > 0) {
        s = 0;
        let ss = 0;
        let lens = 0;
        for (let i = 0; i < overlap; i++) {
          if (to[lastScan + diffSize - overlap + i] === from[lastPos + diffSize - overlap + i]) s++;
          if (to[scan - lenb + i] === from[pos - lenb + i]) s--;
          if (s > ss) {
            ss = s;
            lens = i + 1;
          }
        }
        diffSize += lens - overlap;
        lenb -= lens;
      }
      out.size(diffSize);
      for (let i = 0; i < diffSize; i++) out.byte((to[lastScan + i]! - from[lastPos + i]!) & 0xff);
      const extraStart = lastScan + diffSize;
      const extraSize = scan - lenb - extraStart;
      out.size(extraSize);
      out.append(to, extraStart, extraStart + extraSize);
      out.size(pos - lenb - (lastPos + diffSize));
      lastScan = scan - lenb;
      lastPos = pos - lenb;
      lastOffset = pos - scan;
    }
  }
}
