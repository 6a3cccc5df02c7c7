// Byte-level lexer for the module's UART stream: line mode, and exactly-N raw mode for counted payloads
// (+QIOTOTARD data and raw-byte downlink URCs), and discard mode for the rest of a payload that cannot be
// trusted. Bounded memory: one line buffer, one URC payload buffer.

export type LexerErrorKind =
  "overflow" | "garbage" | "payload-too-large" | "unexpected-payload" | "discarded";

export interface LexerHandler {
  /** A complete, printable, non-blank line that is neither echo nor a counted-payload header. */
  line(text: string): void;
  /** The line matched the echo candidate (see AtLexer.echoCandidate). */
  echo(): void;
  /**
   * A `+QIOTOTARD: <start>,<count>` header. Return the buffer whose [0, count) receives the payload,
   * or undefined when nobody claims it: then at most min(count, otaUnclaimedLimit(), MAX_UNCLAIMED)
   * bytes are consumed as payload, and if count was larger the lexer discards until endDiscard().
   */
  otaHeader(start: number, count: number): Uint8Array | undefined;
  /** How many bytes of the payload otaHeader just refused may be consumed (default: the raw URC buffer's size). */
  otaUnclaimedLimit?(): number;
  /** The lexer now drops every byte until endDiscard(): its owner ends it once the line is quiet. */
  discardStart?(): void;
  /** The counted OTA payload has been consumed entirely (stored or discarded). */
  otaPayloadEnd(): void;
  /** How many CR/LF bytes followed the OTA payload before the next other byte (its framing gap). */
  otaTrailer(gap: number): void;
  /** A raw-byte URC (+QIOTEVT: 5,10200,<len> / 5,10210,<len>) with its payload (valid only during the call). */
  rawUrc(line: string, payload: Uint8Array): void;
  /** Entering (true) or leaving (false) raw mode: the transport keeps a stall deadline while true. */
  rawMode(active: boolean, count: number): void;
  error(kind: LexerErrorKind, detail: string): void;
}

export interface LexerOptions {
  maxLineLength: number;
  /** Largest raw-byte URC payload kept; longer ones are consumed and reported. */
  maxRawUrcLength: number;
}

const CR = 0x0d;
const LF = 0x0a;
const TAB = 0x09;
const SPACE = 0x20;
const COMMA = 0x2c;
const DIGIT0 = 0x30;
const DIGIT9 = 0x39;

// Raw counts above this are treated as noise: a corrupted digit must not swallow megabytes of stream.
const MAX_COUNT = 0x7fffffff;
/** At most this many bytes of an unclaimed payload are consumed: a corrupted count must not hold raw mode. */
export const MAX_UNCLAIMED = 4096;

const OTA_PREFIX = bytesOf("+QIOTOTARD:");
const EVT_PREFIX = bytesOf("+QIOTEVT:");

function bytesOf(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

function upper(b: number): number {
  return b >= 0x61 && b <= 0x7a ? b - 0x20 : b;
}

const MODE_LINE = 0;
const MODE_OTA = 1;
const MODE_URC = 2;
const MODE_DISCARD = 3;

export class AtLexer {
  /** When set, a line equal to it (case-insensitive, trimmed) is reported as echo(), without building a string. */
  echoCandidate = "";
  /**
   * Bytes of the command in flight when it was encoded without a string (echoCandidate ""): the first echoLength
   * bytes of echoBytes are the echo candidate then.
   */
  echoBytes: Uint8Array | undefined = undefined;
  echoLength = 0;

  private readonly handler: LexerHandler;
  private readonly lineBuf: Uint8Array;
  private lineLen = 0;
  private overflowed = false;
  private garbage = false;
  private mode = MODE_LINE;
  // An LF right after a CR-terminated header belongs to the header, not to the payload.
  private skipLf = false;
  private pendingSkipLf = false;
  private rawTarget: Uint8Array | undefined;
  private rawFilled = 0;
  private rawRemaining = 0;
  // The announced count was larger than what is consumed: after the consumed part, discard until quiet.
  private discardAfterRaw = false;
  private discarded = 0;
  private readonly urcBuf: Uint8Array;
  private urcLine = "";
  private urcKeep = false;
  // Counting the CR/LF gap after an OTA payload: -1 when not counting.
  private trailerGap = -1;
  // Scratch numbers of the header parser (no per-line allocation).
  private numA = 0;
  private numB = 0;

  constructor(handler: LexerHandler, options: LexerOptions) {
    this.handler = handler;
    this.lineBuf = new Uint8Array(options.maxLineLength);
    this.urcBuf = new Uint8Array(options.maxRawUrcLength);
  }

  /** True while counted payload bytes are expected. */
  get raw(): boolean {
    return this.mode === MODE_OTA || this.mode === MODE_URC;
  }

  /** True while every byte is dropped (the rest of an abandoned or over-announced payload). */
  get discarding(): boolean {
    return this.mode === MODE_DISCARD;
  }

  /** Bytes of the current counted payload still to come (0 in line mode). */
  get rawRemainingCount(): number {
    return this.rawRemaining;
  }

  /** Abandons a payload, a discard or a partial line and returns to line mode at once. */
  reset(): void {
    this.leave(MODE_LINE);
  }

  /**
   * Abandons a payload cut short: the rest of it may still arrive and hold anything (a URC, RDY, a header),
   * so every byte is dropped until endDiscard().
   */
  abandon(): void {
    this.leave(MODE_DISCARD);
  }

  /** Ends discard mode (the line went quiet): back to line mode. Reports how many bytes were dropped. */
  endDiscard(): void {
    if (this.mode !== MODE_DISCARD) return;
    this.mode = MODE_LINE;
    const n = this.discarded;
    this.discarded = 0;
    if (n > 0) this.handler.error("discarded", `${n} bytes dropped after an abandoned payload`);
  }

  private leave(next: number): void {
    const wasRaw = this.raw;
    const wasOta = this.mode === MODE_OTA;
    const wasDiscarding = this.mode === MODE_DISCARD;
    this.mode = next;
    this.rawTarget = undefined;
    this.rawRemaining = 0;
    this.rawFilled = 0;
    this.discardAfterRaw = false;
    this.lineLen = 0;
    this.overflowed = false;
    this.garbage = false;
    this.skipLf = false;
    this.pendingSkipLf = false;
    this.trailerGap = -1;
    if (!wasDiscarding || next !== MODE_DISCARD) this.discarded = 0;
    if (wasRaw) {
      this.handler.rawMode(false, 0);
      if (wasOta) this.handler.otaPayloadEnd();
    }
    if (next === MODE_DISCARD && !wasDiscarding) this.handler.discardStart?.();
  }

  push(bytes: Uint8Array, start = 0, end = bytes.length): void {
    let i = start;
    while (i < end) {
      if (this.skipLf) {
        this.skipLf = false;
        if (bytes[i] === LF) {
          i++;
          continue;
        }
      }
      if (this.mode === MODE_DISCARD) {
        this.discarded += end - i;
        return;
      }
      if (this.mode !== MODE_LINE) {
        i = this.pushRaw(bytes, i, end);
        continue;
      }
      const b = bytes[i++]!;
      if (this.trailerGap >= 0) {
        if (b === CR || b === LF) this.trailerGap++;
        else {
          this.handler.otaTrailer(this.trailerGap);
          this.trailerGap = -1;
        }
      }
      if (b === CR || b === LF) {
        this.endLine();
        if (b === CR && this.pendingSkipLf) this.skipLf = true;
        this.pendingSkipLf = false;
        continue;
      }
      if (this.lineLen < this.lineBuf.length) this.lineBuf[this.lineLen++] = b;
      else this.overflowed = true;
      if ((b < SPACE && b !== TAB) || b > 0x7e) this.garbage = true;
    }
  }

  private pushRaw(bytes: Uint8Array, i: number, end: number): number {
    const take = Math.min(this.rawRemaining, end - i);
    const target = this.rawTarget;
    if (target !== undefined) {
      // A byte loop, not set(subarray): no view allocated per chunk.
      let at = this.rawFilled;
      for (let k = i; k < i + take; k++) target[at++] = bytes[k]!;
    }
    this.rawFilled += take;
    this.rawRemaining -= take;
    if (this.rawRemaining === 0) this.finishRaw();
    return i + take;
  }

  private finishRaw(): void {
    const mode = this.mode;
    const discard = this.discardAfterRaw;
    this.discardAfterRaw = false;
    this.mode = discard ? MODE_DISCARD : MODE_LINE;
    this.rawTarget = undefined;
    this.handler.rawMode(false, 0);
    if (mode === MODE_OTA) {
      // An empty payload has no trailer of its own: its header's line end is all there is.
      this.trailerGap = this.rawFilled > 0 && !discard ? 0 : -1;
      this.handler.otaPayloadEnd();
    } else if (this.urcKeep) {
      this.handler.rawUrc(this.urcLine, this.urcBuf.subarray(0, this.rawFilled));
    }
    this.rawFilled = 0;
    if (discard) {
      this.skipLf = false;
      this.pendingSkipLf = false;
      this.handler.discardStart?.();
    }
  }

  /** Consumes min(count, limit) bytes as payload; an announced count beyond that is not trusted. */
  private startRaw(mode: number, target: Uint8Array | undefined, count: number, limit: number): void {
    this.discardAfterRaw = count > limit;
    if (count > limit) count = limit;
    this.rawTarget = target;
    this.rawFilled = 0;
    this.rawRemaining = count;
    this.handler.rawMode(true, count);
    if (count === 0) {
      this.mode = mode;
      this.finishRaw();
      return;
    }
    this.mode = mode;
    // The terminator of the header line was seen already; the payload starts after its LF (if any).
    this.pendingSkipLf = true;
  }

  private endLine(): void {
    const len = this.lineLen;
    const overflowed = this.overflowed;
    const garbage = this.garbage;
    this.lineLen = 0;
    this.overflowed = false;
    this.garbage = false;
    if (overflowed) {
      this.handler.error("overflow", `line longer than ${this.lineBuf.length} bytes discarded`);
      return;
    }
    if (garbage) {
      this.handler.error("garbage", `line with ${len} bytes containing non-printable bytes discarded`);
      return;
    }
    let s = 0;
    let e = len;
    const buf = this.lineBuf;
    while (s < e && (buf[s] === SPACE || buf[s] === TAB)) s++;
    while (e > s && (buf[e - 1] === SPACE || buf[e - 1] === TAB)) e--;
    if (s === e) return;
    if (this.isEcho(s, e)) {
      this.handler.echo();
      return;
    }
    if (this.parseCountedHeader(OTA_PREFIX, s, e)) {
      const count = this.numB;
      const target = this.handler.otaHeader(this.numA, count);
      if (target !== undefined && count <= target.length) this.startRaw(MODE_OTA, target, count, count);
      else {
        const limit = this.handler.otaUnclaimedLimit?.() ?? this.urcBuf.length;
        this.startRaw(MODE_OTA, undefined, count, Math.min(limit, MAX_UNCLAIMED));
      }
      return;
    }
    const text = this.text(s, e);
    if (this.isRawUrcHeader(s, e)) {
      const count = this.numB;
      this.urcLine = text;
      this.urcKeep = count <= this.urcBuf.length;
      const limit = Math.min(this.urcBuf.length, MAX_UNCLAIMED);
      if (!this.urcKeep) {
        this.handler.error(
          "payload-too-large",
          `raw URC payload of ${count} bytes discarded (at most ${limit} taken, the rest until quiet): ${text}`,
        );
        this.handler.line(text);
      }
      this.startRaw(MODE_URC, this.urcKeep ? this.urcBuf : undefined, count, limit);
      return;
    }
    this.handler.line(text);
  }

  private text(s: number, e: number): string {
    const buf = this.lineBuf;
    // The two final codes of every block are interned: no string is built for them.
    if (e - s === 2 && buf[s] === 0x4f && buf[s + 1] === 0x4b) return "OK";
    if (
      e - s === 5 &&
      buf[s] === 0x45 &&
      buf[s + 1] === 0x52 &&
      buf[s + 2] === 0x52 &&
      buf[s + 3] === 0x4f &&
      buf[s + 4] === 0x52
    )
      return "ERROR";
    let out = "";
    for (let i = s; i < e; i++) out += String.fromCharCode(buf[i]!);
    return out;
  }

  private isEcho(s: number, e: number): boolean {
    const cand = this.echoCandidate;
    if (cand === "" && this.echoBytes !== undefined) return this.isEchoOfBytes(s, e);
    let cs = 0;
    let ce = cand.length;
    while (cs < ce && (cand.charCodeAt(cs) === SPACE || cand.charCodeAt(cs) === TAB)) cs++;
    while (ce > cs && (cand.charCodeAt(ce - 1) === SPACE || cand.charCodeAt(ce - 1) === TAB)) ce--;
    if (ce - cs !== e - s || ce === cs) return false;
    for (let i = 0; i < e - s; i++) {
      if (upper(this.lineBuf[s + i]!) !== upper(cand.charCodeAt(cs + i))) return false;
    }
    return true;
  }

  private isEchoOfBytes(s: number, e: number): boolean {
    const cand = this.echoBytes!;
    const n = this.echoLength;
    if (n === 0 || e - s !== n) return false;
    for (let i = 0; i < n; i++) if (upper(this.lineBuf[s + i]!) !== upper(cand[i]!)) return false;
    return true;
  }

  /** Matches `<prefix> <digits>,<digits>` (spaces allowed around numbers); sets numA, numB. */
  private parseCountedHeader(prefix: Uint8Array, s: number, e: number): boolean {
    const buf = this.lineBuf;
    if (e - s < prefix.length) return false;
    for (let k = 0; k < prefix.length; k++) if (upper(buf[s + k]!) !== prefix[k]) return false;
    let i = s + prefix.length;
    i = this.number(i, e);
    if (i < 0 || buf[i] !== COMMA) return false;
    this.numA = this.numB;
    i = this.number(i + 1, e);
    return i === e;
  }

  /** Parses spaces, digits, spaces from i; leaves the value in numB; returns the index after, or -1. */
  private number(i: number, e: number): number {
    const buf = this.lineBuf;
    while (i < e && buf[i] === SPACE) i++;
    const first = i;
    let value = 0;
    while (i < e && buf[i]! >= DIGIT0 && buf[i]! <= DIGIT9) {
      value = value * 10 + (buf[i]! - DIGIT0);
      i++;
    }
    if (i === first || i - first > 10 || value > MAX_COUNT) return -1;
    while (i < e && buf[i] === SPACE) i++;
    this.numB = value;
    return i;
  }

  /** `+QIOTEVT: 5,10200,<len>` or `+QIOTEVT: 5,10210,<len>`: sets numB to len. */
  private isRawUrcHeader(s: number, e: number): boolean {
    const buf = this.lineBuf;
    if (e - s < EVT_PREFIX.length) return false;
    for (let k = 0; k < EVT_PREFIX.length; k++) if (upper(buf[s + k]!) !== EVT_PREFIX[k]) return false;
    let i = this.number(s + EVT_PREFIX.length, e);
    const type: number = this.numB;
    if (i < 0 || type !== 5 || buf[i] !== COMMA) return false;
    i = this.number(i + 1, e);
    const code: number = this.numB;
    if (i < 0 || (code !== 10200 && code !== 10210) || buf[i] !== COMMA) return false;
    i = this.number(i + 1, e);
    return i === e;
  }
}
