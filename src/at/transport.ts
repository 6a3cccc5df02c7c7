// AT transport: one command in flight (FIFO queue), per-command deadlines, final codes, counted OTA
// reads into the caller's buffer, and the bus of unsolicited lines. Knows bytes and lines, not QuecThing.

import type { SerialPort } from "../../hal/serial.js";
import type { Clock, TimerHandle } from "../../hal/clock.js";
import { AtLexer } from "./lexer.js";
import type { LexerErrorKind, LexerHandler } from "./lexer.js";

export interface TransportOptions {
  baud: number;
  commandTimeoutMs?: number;
  /**
   * Reply time allowed for AT+QIOTOTARD before its payload's transfer time is added (docs/protocol.md §6: about
   * 3 s); default 3000. A read's deadline is max(this, commandTimeoutMs) + 2 x the line time of n + 64 bytes.
   */
  readTimeoutMs?: number;
  maxLineLength?: number;
  /** Largest raw-byte URC payload (5,10200/10210,<len>) delivered; default 1024. */
  maxRawUrcLength?: number;
  /**
   * Silence required before the first command (default 0; an engine uses 400 ms, beyond the module's documented
   * 300 ms reply time): a transport made after an MCU reset must not take the reply to its predecessor's command.
   */
  startQuietMs?: number;
}

export type FinalCode = "OK" | "ERROR" | "CME ERROR" | "TIMEOUT";

export interface AtResponse {
  final: FinalCode;
  cmeError: number;
  lines: string[];
}

export interface OtaReadResult {
  final: FinalCode;
  start: number;
  length: number;
  /**
   * The header does not match the request: start differs, or n exceeds the requested length or the
   * buffer (then nothing was stored). The caller must discard the data.
   */
  headerMismatch: boolean;
  /**
   * The CR/LF gap after the payload is shorter than this module's usual one (or absent): a byte was
   * dropped or duplicated inside the payload and the count ate into the trailer. Discard the data.
   */
  framingError: boolean;
}

export type LineErrorKind = LexerErrorKind | "late-reply";

/** Called once with the result of a read made with readOtaThen (the result object is reused: copy what you keep). */
export type OtaReadDone = (result: OtaReadResult) => void;

type LineListener = (line: string) => void;
type RawListener = (line: string, payload: Uint8Array) => void;
type ErrorListener = (kind: LineErrorKind, detail: string) => void;

interface Pending {
  command: string;
  prefix: string;
  timeoutMs: number;
  ota: boolean;
  otaStart: number;
  otaLength: number;
  into: Uint8Array | undefined;
  resolve: ((r: AtResponse) => void) | undefined;
  resolveOta: ((r: OtaReadResult) => void) | undefined;
  /** readOtaThen's callback: called after the port is drained, outside the lexer. */
  done: OtaReadDone | undefined;
  lines: string[];
  headerSeen: boolean;
}

const READ_PREFIX = [0x41, 0x54, 0x2b, 0x51, 0x49, 0x4f, 0x54, 0x4f, 0x54, 0x41, 0x52, 0x44, 0x3d]; // AT+QIOTOTARD=

/** Lines that are reports from the module whatever command is in flight. */
const URC_WORDS = [
  "RDY",
  "APP RDY",
  "POWERED DOWN",
  "NORMAL POWER DOWN",
  "UNDER-VOLTAGE POWER DOWN",
  "UNDER-VOLTAGE WARNING",
  "OVER-VOLTAGE POWER DOWN",
  "OVER-VOLTAGE WARNING",
];

const RX_CHUNK = 256;
// Commands are encoded into one reusable buffer (the port copies before write() returns); longer ones get their own.
const TX_BUFFER = 128;

/** Response prefix of a command: "AT+QIOTSTATE?" → "+QIOTSTATE:", "ATE0" → "". */
export function responsePrefix(command: string): string {
  const c = command.trim().toUpperCase();
  if (!c.startsWith("AT+") && !c.startsWith("AT$") && !c.startsWith("AT%")) return "";
  let end = 3;
  while (end < c.length) {
    const ch = c.charCodeAt(end);
    const alnum = (ch >= 0x30 && ch <= 0x39) || (ch >= 0x41 && ch <= 0x5a) || ch === 0x5f;
    if (!alnum) break;
    end++;
  }
  return "+" + c.slice(3, end) + ":";
}

function isUrcWord(line: string): boolean {
  for (const w of URC_WORDS) if (line === w) return true;
  return false;
}

export class AtTransport {
  private readonly serial: SerialPort;
  private readonly clock: Clock;
  private readonly baud: number;
  private readonly commandTimeoutMs: number;
  private readonly readTimeoutMs: number;
  private readonly maxRawUrcLength: number;
  private readonly lexer: AtLexer;
  private readonly rx = new Uint8Array(RX_CHUNK);
  private readonly tx = new Uint8Array(TX_BUFFER);
  // One view of tx per command length, made once: a read writes the same few lengths over and over.
  private readonly txViews: Uint8Array[] = [];
  private readonly queue: Pending[] = [];
  private current: Pending | undefined;
  private deadline: TimerHandle | undefined;
  // The command in flight times out at deadlineAt (-1: none). One timer serves many commands: it is set again
  // only when it fires early or a shorter deadline comes, so a read does not make a timer.
  private deadlineAt = -1;
  private deadlineTimerAt = -1;
  private readonly onDeadlineTimer = (): void => this.onDeadline();
  // The one record of readOtaThen reads, reused; its result waits here until the port is drained.
  private readonly otaPending: Pending = {
    command: "",
    prefix: "+QIOTOTARD:",
    timeoutMs: 0,
    ota: true,
    otaStart: 0,
    otaLength: 0,
    into: undefined,
    resolve: undefined,
    resolveOta: undefined,
    done: undefined,
    lines: [],
    headerSeen: false,
  };
  private otaDone: OtaReadDone | undefined;
  private guardTimer: TimerHandle | undefined;
  private rawTimer: TimerHandle | undefined;
  private quietTimer: TimerHandle | undefined;
  private rawCount = 0;
  // The payload about to start was claimed by the read in flight (onOtaHeader returned its buffer).
  private otaClaimed = false;
  private discardSince = 0;
  // When the queue head first had to wait (guard, raw payload, discard): -1 when it is not waiting.
  private holdSince = -1;
  // How many bytes of a refused +QIOTOTARD payload may be taken as payload (set by onOtaHeader).
  private unclaimedLimit = 0;
  private guardNeeded = false;
  private lateCommand = "";
  private latePrefix = "";
  private lastRxAt: number;
  private timedOutAt = 0;
  // Extra guard for the very first command of this transport (see startQuietMs).
  private startQuietMs: number;
  private closed = false;
  private draining = false;
  private sentAny = false;
  private readonly otaResult: OtaReadResult = {
    final: "OK",
    start: -1,
    length: 0,
    headerMismatch: false,
    framingError: false,
  };
  // How often each trailer gap (0..7 CR/LF bytes after a payload) was seen: the most common one is this module's framing.
  private readonly trailerGaps = new Uint32Array(8);
  private readonly unsolicited: LineListener[] = [];
  private readonly rawUnsolicited: RawListener[] = [];
  private readonly lineErrors: ErrorListener[] = [];

  constructor(serial: SerialPort, clock: Clock, options: TransportOptions) {
    this.serial = serial;
    this.clock = clock;
    this.baud = options.baud;
    this.commandTimeoutMs = options.commandTimeoutMs ?? 1000;
    this.readTimeoutMs = options.readTimeoutMs ?? 3000;
    this.maxRawUrcLength = options.maxRawUrcLength ?? 1024;
    this.lastRxAt = clock.now();
    this.startQuietMs = options.startQuietMs ?? 0;
    // Treated like a timed-out predecessor: the late-reply guard then discards its stray final code.
    this.guardNeeded = this.startQuietMs > 0;
    this.timedOutAt = clock.now();
    const handler: LexerHandler = {
      line: (text) => this.onLine(text),
      echo: () => undefined,
      otaHeader: (start, count) => this.onOtaHeader(start, count),
      otaUnclaimedLimit: () => this.unclaimedLimit,
      discardStart: () => this.onDiscardStart(),
      otaPayloadEnd: () => undefined,
      otaTrailer: (gap) => this.onOtaTrailer(gap),
      rawUrc: (line, payload) => this.onRawUrc(line, payload),
      rawMode: (active, count) => this.onRawMode(active, count),
      error: (kind, detail) => this.emitError(kind, detail),
    };
    this.lexer = new AtLexer(handler, {
      maxLineLength: options.maxLineLength ?? 512,
      maxRawUrcLength: this.maxRawUrcLength,
    });
    serial.onReadable = () => this.drain();
  }

  /** Queues a command (text without CR; the transport appends "\r"). One in flight at a time. */
  send(command: string, timeoutMs?: number): Promise<AtResponse> {
    return new Promise<AtResponse>((resolve) => {
      this.enqueue({
        command,
        prefix: responsePrefix(command),
        timeoutMs: timeoutMs ?? this.commandTimeoutMs,
        ota: false,
        otaStart: 0,
        otaLength: 0,
        into: undefined,
        resolve,
        resolveOta: undefined,
        done: undefined,
        lines: [],
        headerSeen: false,
      });
    });
  }

  /**
   * A counted read (`command` is AT+QIOTOTARD=<start>,<length>, built by the caller): the n raw bytes of the
   * reply land in into[0..n) (n <= length <= into.length).
   */
  readOta(command: string, start: number, length: number, into: Uint8Array): Promise<OtaReadResult> {
    // The payload is UART-bound: allow twice its transfer time (plus header and OK) on top of the reply time.
    const timeoutMs = this.holdLimitMs() + Math.ceil((((length + 64) * 10 * 1000) / this.baud) * 2);
    return new Promise<OtaReadResult>((resolveOta) => {
      this.enqueue({
        command,
        prefix: "+QIOTOTARD:",
        timeoutMs,
        ota: true,
        otaStart: start,
        otaLength: length,
        into,
        resolve: undefined,
        resolveOta,
        done: undefined,
        lines: [],
        headerSeen: false,
      });
    });
  }

  /**
   * The same read without a Promise or a string: the command is encoded from the numbers into the transmit buffer,
   * one record is reused, and `done` is called once the port has been drained (never from inside the lexer). Made
   * for the download loop: nothing is allocated per read. One readOtaThen at a time.
   */
  readOtaThen(start: number, length: number, into: Uint8Array, done: OtaReadDone): void {
    const p = this.otaPending;
    if (p.done !== undefined || this.otaDone !== undefined)
      throw new Error("transport: a readOtaThen is still in flight");
    p.timeoutMs = this.holdLimitMs() + Math.ceil((((length + 64) * 10 * 1000) / this.baud) * 2);
    p.otaStart = start;
    p.otaLength = length;
    p.into = into;
    p.done = done;
    p.lines.length = 0;
    p.headerSeen = false;
    this.enqueue(p);
  }

  onUnsolicited(listener: LineListener): () => void {
    return subscribe(this.unsolicited, listener);
  }

  onRawUnsolicited(listener: RawListener): () => void {
    return subscribe(this.rawUnsolicited, listener);
  }

  onLineError(listener: ErrorListener): () => void {
    return subscribe(this.lineErrors, listener);
  }

  /** Reads and handles what waits in the port now, without waiting for onReadable (after a busy stretch). */
  poll(): void {
    this.drain();
  }

  /** When bytes last came from the port (the clock's time). */
  get lastReceiveAt(): number {
    return this.lastRxAt;
  }

  /** Quiet, and no reply to a timed-out command may still come: a successor on this port needs no quiet time. */
  get settled(): boolean {
    return this.quiet && !this.guardNeeded;
  }

  /** Some command went out on the line: a module reboot after this one may have lost something of ours. */
  get hasSent(): boolean {
    return this.sentAny;
  }

  get quiet(): boolean {
    return this.current === undefined && this.queue.length === 0 && !this.lexer.raw && !this.lexer.discarding;
  }

  /** Fails every queued and in-flight command with TIMEOUT and detaches from the port.
   *  The port stays open: it belongs to its owner, and a restarted engine reuses it. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.clearTimer("deadline");
    this.clearTimer("guard");
    this.clearTimer("raw");
    this.clearTimer("quiet");
    this.serial.onReadable = undefined;
    this.deadlineAt = -1;
    const pending = this.current;
    this.current = undefined;
    if (pending) this.complete(pending, "TIMEOUT", -1);
    while (this.queue.length > 0) this.complete(this.queue.shift()!, "TIMEOUT", -1);
    this.deliverOta();
  }

  private enqueue(p: Pending): void {
    if (this.closed) {
      this.complete(p, "TIMEOUT", -1);
      this.deliverOta();
      return;
    }
    // Nothing to wait for: straight on the line, past the queue (an array push and shift per read is garbage).
    if (
      this.current === undefined &&
      this.queue.length === 0 &&
      !this.guardNeeded &&
      !this.lexer.discarding
    ) {
      this.clearTimer("guard");
      this.start(p);
      return;
    }
    this.queue.push(p);
    this.pump();
  }

  private pump(): void {
    if (this.current !== undefined || this.queue.length === 0 || this.closed) return;
    // Re-evaluated on every call: the end of a raw payload or of a discard pumps as soon as it happens.
    this.clearTimer("guard");
    const now = this.clock.now();
    const quietAt = Math.max(this.lastRxAt, this.timedOutAt) + this.guardMs();
    // Bytes being discarded may hold anything, and a late reply to a timed-out command must not complete
    // the next one: the next command waits for a silent line.
    const lexerBusy = this.lexer.discarding || (this.guardNeeded && this.lexer.raw);
    if (lexerBusy || (this.guardNeeded && now < quietAt)) {
      if (this.holdSince < 0) this.holdSince = now;
      const limitAt = this.holdSince + this.holdLimitMs();
      if (now < limitAt) {
        const until = lexerBusy ? limitAt : Math.min(limitAt, quietAt);
        this.guardTimer = this.clock.setTimer(() => {
          this.guardTimer = undefined;
          this.pump();
        }, until - now);
        return;
      }
      // A line that never goes quiet must not hold the queue forever: send, the command's deadline bounds it.
      this.guardNeeded = false;
      if (this.lexer.raw || this.lexer.discarding) {
        this.clearTimer("quiet");
        this.emitError(
          "discarded",
          `line busy for ${now - this.holdSince} ms: back to line mode to send the next command`,
        );
        this.lexer.reset();
        // reset() reports the end of raw mode, which pumps: the command may be on its way already.
        if (this.current !== undefined || this.queue.length === 0) return;
      }
    }
    this.start(this.queue.shift()!);
  }

  private start(p: Pending): void {
    this.sentAny = true;
    this.holdSince = -1;
    this.guardNeeded = false;
    this.startQuietMs = 0;
    this.lateCommand = "";
    this.latePrefix = "";
    this.current = p;
    this.armDeadline(p.timeoutMs);
    if (p.done !== undefined) {
      const bytes = this.encodeRead(p.otaStart, p.otaLength);
      this.lexer.echoCandidate = "";
      this.lexer.echoBytes = this.tx;
      this.lexer.echoLength = bytes.length - 1;
      this.serial.write(bytes);
      return;
    }
    this.lexer.echoCandidate = p.command;
    this.lexer.echoBytes = undefined;
    this.serial.write(this.encodeCommand(p.command));
  }

  /** AT+QIOTOTARD=<start>,<length> CR into the transmit buffer, digit by digit. */
  private encodeRead(start: number, length: number): Uint8Array {
    const out = this.tx;
    let n = 0;
    // An index loop: for-of would make an iterator per read.
    for (let i = 0; i < READ_PREFIX.length; i++) out[n++] = READ_PREFIX[i]!;
    n = writeDecimal(out, n, start);
    out[n++] = 0x2c;
    n = writeDecimal(out, n, length);
    out[n++] = 0x0d;
    return (this.txViews[n] ??= this.tx.subarray(0, n));
  }

  private armDeadline(ms: number): void {
    const at = this.clock.now() + ms;
    this.deadlineAt = at;
    if (this.deadline !== undefined && this.deadlineTimerAt <= at) return;
    this.clearTimer("deadline");
    this.deadlineTimerAt = at;
    this.deadline = this.clock.setTimer(this.onDeadlineTimer, ms);
  }

  private encodeCommand(command: string): Uint8Array {
    const n = command.length + 1;
    const out = n <= this.tx.length ? this.tx : new Uint8Array(n);
    for (let i = 0; i < command.length; i++) out[i] = command.charCodeAt(i) & 0xff;
    out[n - 1] = 0x0d;
    if (out !== this.tx) return out;
    return (this.txViews[n] ??= this.tx.subarray(0, n));
  }

  /** Reply time of a read, and the longest the queue waits for a quiet line. */
  private holdLimitMs(): number {
    return Math.max(this.readTimeoutMs, this.commandTimeoutMs);
  }

  /** A payload stalls when no byte arrives for this long (a corrupted count must not arm a timer of days). */
  private rawIdleMs(): number {
    return Math.max(200, Math.ceil((50 * 10 * 1000) / this.baud));
  }

  private guardMs(): number {
    return Math.max(50, this.startQuietMs, Math.ceil((20 * 10 * 1000) / this.baud));
  }

  private onDeadline(): void {
    this.deadline = undefined;
    this.deadlineTimerAt = -1;
    if (this.deadlineAt < 0 || this.closed) return;
    if (this.clock.now() < this.deadlineAt) {
      // Set for an earlier command: the one in flight has time left.
      this.armDeadline(this.deadlineAt - this.clock.now());
      return;
    }
    // A busy CPU may have left the reply waiting in the port while this timer was due.
    this.drain();
    const p = this.current;
    if (!p || this.deadlineAt < 0) return;
    if (this.clock.now() < this.deadlineAt) {
      // The drain completed it, and the next command is on its way with a deadline of its own.
      if (this.deadline === undefined) this.armDeadline(this.deadlineAt - this.clock.now());
      return;
    }
    this.timeOut(p);
    this.deliverOta();
  }

  private timeOut(p: Pending): void {
    this.deadlineAt = -1;
    this.current = undefined;
    this.timedOutAt = this.clock.now();
    this.lateCommand = p.command !== "" || !p.ota ? p.command : `AT+QIOTOTARD=${p.otaStart},${p.otaLength}`;
    this.latePrefix = p.prefix;
    this.guardNeeded = true;
    // The rest of a payload cut short may still come and hold anything: it is discarded until quiet.
    if (this.lexer.raw) this.lexer.abandon();
    this.complete(p, "TIMEOUT", -1);
    this.pump();
    this.deliverOta();
  }

  private onDiscardStart(): void {
    this.discardSince = this.clock.now();
    this.clearTimer("quiet");
    this.armQuietCheck(this.guardMs());
  }

  private armQuietCheck(ms: number): void {
    this.quietTimer = this.clock.setTimer(() => {
      this.quietTimer = undefined;
      this.drain();
      this.checkQuiet();
    }, ms);
  }

  private checkQuiet(): void {
    if (this.closed || !this.lexer.discarding || this.quietTimer !== undefined) return;
    const now = this.clock.now();
    // Silence counts from the abandonment too: the rest of a payload may resume after a pause.
    const quietAt = Math.max(this.lastRxAt, this.discardSince) + this.guardMs();
    const limitAt = this.discardSince + this.holdLimitMs();
    if (now < quietAt && now < limitAt) {
      this.armQuietCheck(Math.min(quietAt, limitAt) - now);
      return;
    }
    this.lexer.endDiscard();
    const p = this.current;
    // A read whose payload was cut lost its final code among the dropped bytes: waiting on is pointless.
    if (p !== undefined && p.ota && p.headerSeen) this.timeOut(p);
    else this.pump();
  }

  private complete(p: Pending, final: FinalCode, cme: number): void {
    if (p.resolveOta) {
      const r = this.otaResult;
      r.final = final;
      if (!p.headerSeen) {
        r.start = -1;
        r.length = 0;
        r.headerMismatch = false;
        r.framingError = false;
      } else if (final === "TIMEOUT") {
        // Bytes may be missing: nothing in the buffer can be trusted.
        r.headerMismatch = true;
      }
      p.resolveOta(r);
    } else if (p.done) {
      const r = this.otaResult;
      r.final = final;
      if (!p.headerSeen) {
        r.start = -1;
        r.length = 0;
        r.headerMismatch = false;
        r.framingError = false;
      } else if (final === "TIMEOUT") r.headerMismatch = true;
      // Called after the drain: the caller may send, erase and poll the port from its callback.
      this.otaDone = p.done;
      p.done = undefined;
      p.into = undefined;
    } else if (p.resolve) {
      p.resolve({ final, cmeError: cme, lines: p.lines });
    }
  }

  private drain(): void {
    // A port may signal readable from inside write() (sent from a line handler): the outer loop reads on.
    if (this.draining) return;
    this.draining = true;
    try {
      for (;;) {
        if (this.closed) return;
        const n = this.serial.read(this.rx);
        if (n <= 0) return;
        this.lastRxAt = this.clock.now();
        this.lexer.push(this.rx, 0, n);
      }
    } finally {
      this.draining = false;
      this.deliverOta();
    }
  }

  /** Hands a finished readOtaThen to its callback, outside the lexer and the drain loop. */
  private deliverOta(): void {
    const done = this.otaDone;
    if (done === undefined || this.draining) return;
    this.otaDone = undefined;
    done(this.otaResult);
  }

  private onLine(line: string): void {
    const final = parseFinal(line);
    const p = this.current;
    if (final !== undefined) {
      if (!p) {
        this.emitError("late-reply", `final code with no command in flight: ${line}`);
        return;
      }
      this.deadlineAt = -1;
      this.current = undefined;
      this.lexer.echoCandidate = "";
      this.lexer.echoBytes = undefined;
      this.complete(p, final.code, final.cme);
      this.pump();
      return;
    }
    if (line.charCodeAt(0) === 0x2b /* + */) {
      if (p && p.prefix !== "" && startsWithIgnoreCase(line, p.prefix)) {
        p.lines.push(line);
        return;
      }
      if (!p && this.guardNeeded && this.latePrefix !== "" && startsWithIgnoreCase(line, this.latePrefix)) {
        this.emitError("late-reply", `information line of a timed-out command: ${line}`);
        return;
      }
      this.emitLine(line);
      return;
    }
    if (isUrcWord(line)) {
      if (line.endsWith("RDY") && this.guardNeeded && !p) {
        // A module that just booted owes no reply to anything sent before: the start-up or late-reply guard ends.
        this.guardNeeded = false;
        // Heard before the held command goes out, so that the client knows whether it had sent anything yet.
        this.emitLine(line);
        this.pump();
        return;
      }
      this.emitLine(line);
      return;
    }
    if (!p && this.guardNeeded && sameCommand(line, this.lateCommand)) {
      this.emitError("late-reply", `echo of a timed-out command: ${line}`);
      return;
    }
    if (p && !p.ota) {
      p.lines.push(line);
      return;
    }
    this.emitLine(line);
  }

  /**
   * The protocol has no per-block checksum; a short trailer gap is the one trace a lost payload byte leaves:
   * the count then ate the trailer's first CR or LF. A doubled byte leaves no gap at all.
   */
  private onOtaTrailer(gap: number): void {
    const p = this.current;
    const gaps = this.trailerGaps;
    const seen = Math.min(gap, gaps.length - 1);
    let usual = 0;
    for (let g = 1; g < gaps.length; g++) if (gaps[g]! >= gaps[usual]!) usual = g;
    gaps[seen]!++;
    if (!p?.ota || !p.headerSeen || p.into === undefined || this.otaResult.headerMismatch) return;
    const last = this.otaResult.length > 0 ? p.into[this.otaResult.length - 1]! : 0;
    const ateTrailer = (last === 0x0d || last === 0x0a) && gaps[usual]! > 0 && seen < usual;
    if (gap === 0 || ateTrailer) {
      this.otaResult.framingError = true;
      this.emitError(
        "garbage",
        `payload followed by ${gap} CR/LF bytes, not ${usual}: a payload byte was lost or doubled`,
      );
    }
  }

  private onOtaHeader(start: number, count: number): Uint8Array | undefined {
    const p = this.current;
    // Nothing asked for these bytes: take no more than a raw URC could be, the rest is discarded until quiet.
    this.unclaimedLimit = this.maxRawUrcLength;
    if (!p || !p.ota || p.headerSeen) {
      this.emitError(
        "unexpected-payload",
        `+QIOTOTARD: ${start},${count} with no read in flight; ${count} bytes discarded`,
      );
      return undefined;
    }
    p.headerSeen = true;
    const r = this.otaResult;
    r.framingError = false;
    r.start = start;
    r.length = count;
    const into = p.into!;
    const tooLarge = count > p.otaLength || count > into.length;
    r.headerMismatch = start !== p.otaStart || tooLarge;
    if (tooLarge) {
      // The module never sends more than was asked: the count is corrupt, trust at most the request.
      this.unclaimedLimit = p.otaLength;
      this.emitError(
        "payload-too-large",
        `+QIOTOTARD: ${start},${count} for a read of ${p.otaLength} into ${into.length} bytes; discarded`,
      );
      return undefined;
    }
    this.otaClaimed = true;
    return into;
  }

  private onRawUrc(line: string, payload: Uint8Array): void {
    this.emitLine(line);
    for (const l of this.rawUnsolicited.slice()) l(line, payload);
  }

  private onRawMode(active: boolean, count: number): void {
    this.clearTimer("raw");
    const claimed = this.otaClaimed;
    this.otaClaimed = false;
    if (active) {
      this.rawCount = count;
      // A claimed payload is bounded by its read's deadline; any other one by the idle time of the line.
      if (!claimed) this.armRawCheck(this.rawIdleMs());
    } else if (this.current === undefined) {
      this.pump();
    }
  }

  /** One timer per idle period, not per chunk: it re-arms itself for the time left since the last byte. */
  private armRawCheck(ms: number): void {
    this.rawTimer = this.clock.setTimer(() => {
      this.rawTimer = undefined;
      this.drain();
      // The drain may have ended this payload and started another, with its own timer.
      if (this.closed || !this.lexer.raw || this.rawTimer !== undefined) return;
      const idleUntil = this.lastRxAt + this.rawIdleMs();
      const now = this.clock.now();
      if (now < idleUntil) {
        this.armRawCheck(idleUntil - now);
        return;
      }
      this.emitError(
        "payload-too-large",
        `payload stalled with ${this.lexer.rawRemainingCount} of ${this.rawCount} bytes missing; discarding until quiet`,
      );
      this.lexer.abandon();
    }, ms);
  }

  private emitLine(line: string): void {
    for (const l of this.unsolicited.slice()) l(line);
  }

  private emitError(kind: LineErrorKind, detail: string): void {
    for (const l of this.lineErrors.slice()) l(kind, detail);
  }

  private clearTimer(which: "deadline" | "guard" | "raw" | "quiet"): void {
    if (which === "deadline" && this.deadline !== undefined) {
      this.clock.clearTimer(this.deadline);
      this.deadline = undefined;
    } else if (which === "guard" && this.guardTimer !== undefined) {
      this.clock.clearTimer(this.guardTimer);
      this.guardTimer = undefined;
    } else if (which === "raw" && this.rawTimer !== undefined) {
      this.clock.clearTimer(this.rawTimer);
      this.rawTimer = undefined;
    } else if (which === "quiet" && this.quietTimer !== undefined) {
      this.clock.clearTimer(this.quietTimer);
      this.quietTimer = undefined;
    }
  }
}

/** Writes `value` in decimal at out[n..]; returns the index after it. */
function writeDecimal(out: Uint8Array, n: number, value: number): number {
  let digits = 1;
  for (let v = value; v >= 10; v = Math.floor(v / 10)) digits++;
  for (let i = digits - 1, v = value; i >= 0; i--, v = Math.floor(v / 10)) out[n + i] = 0x30 + (v % 10);
  return n + digits;
}

function subscribe<T>(list: T[], listener: T): () => void {
  list.push(listener);
  return () => {
    const i = list.indexOf(listener);
    if (i >= 0) list.splice(i, 1);
  };
}

function startsWithIgnoreCase(line: string, prefix: string): boolean {
  if (line.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) {
    let a = line.charCodeAt(i);
    if (a >= 0x61 && a <= 0x7a) a -= 0x20;
    if (a !== prefix.charCodeAt(i)) return false;
  }
  return true;
}

function sameCommand(line: string, command: string): boolean {
  return command !== "" && line.trim().toUpperCase() === command.trim().toUpperCase();
}

const FINAL_OK = { code: "OK" as FinalCode, cme: -1 };
const FINAL_ERROR = { code: "ERROR" as FinalCode, cme: -1 };

function parseFinal(line: string): { code: FinalCode; cme: number } | undefined {
  if (line === "OK") return FINAL_OK;
  if (line === "ERROR") return FINAL_ERROR;
  if (startsWithIgnoreCase(line, "+CME ERROR:")) {
    const text = line.slice(11).trim();
    const n = /^\d{1,9}$/.test(text) ? Number(text) : -1;
    return { code: "CME ERROR", cme: n };
  }
  return undefined;
}
