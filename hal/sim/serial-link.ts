// Simulated UART cable (two SerialPort ends): baud-paced delivery on a Clock, bounded receive FIFOs that drop on overflow,
// transcript. Bytes keep arriving while the MCU is busy; only the MCU's reading waits.
import type { Clock, TimerHandle } from "../clock.js";
import type { SerialPort } from "../serial.js";

export type LinkDirection = "a>b" | "b>a";

/** Bytes of one write as they arrived at the other end (`t`: first byte, `end`: last byte arrived so far). */
export interface TranscriptBytes {
  t: number;
  end: number;
  dir: LinkDirection;
  bytes: Uint8Array;
}

/** Bytes that reached a full receive FIFO and were lost (`t`..`end`: deliveries that noticed; consecutive drops merge). */
export interface TranscriptDrop {
  t: number;
  end: number;
  dir: LinkDirection;
  dropped: number;
}

export type TranscriptEntry = TranscriptBytes | TranscriptDrop;

export interface TranscriptFormatOptions {
  /** Non-text runs longer than this render as "<N bytes>" (default 16). */
  binaryThreshold?: number;
  /** Printable runs shorter than this inside binary data count as binary (default 4). */
  minTextRun?: number;
}

export interface SerialLinkOptions {
  clock: Clock;
  baud: number;
  /** Receive FIFO size of both ends in bytes; undefined = unbounded (no loss). */
  fifoSize?: number;
  fifoSizeA?: number;
  fifoSizeB?: number;
  transcript?: boolean;
  /** Bytes per delivery timer (default min(16, fifoSize/4), at least 1): larger is faster, coarser. */
  chunkBytes?: number;
  /** Line-noise hook: sees (and may change in place, or replace) each write's copy before it goes on the wire. */
  onWire?: (dir: LinkDirection, bytes: Uint8Array) => Uint8Array | void;
  /**
   * The end read by code outside the MCU (the module): it is told of bytes even while the MCU is busy. The other
   * end's reader is the MCU: while the clock's device is busy its bytes fill the FIFO (and overflow) unread.
   */
  worldEnd?: "a" | "b";
}

/** A clock whose device can be busy while the world runs on (VirtualClock). */
interface WorldAwareClock extends Clock {
  readonly deviceBusy: boolean;
  readonly world: Clock & { setTimerAt(callback: () => void, atMs: number): TimerHandle };
}

function worldAware(clock: Clock): WorldAwareClock | undefined {
  const c = clock as Partial<WorldAwareClock>;
  return typeof c.deviceBusy === "boolean" && typeof c.world?.setTimerAt === "function"
    ? (clock as WorldAwareClock)
    : undefined;
}

export interface SerialLink {
  a: SimSerialEnd;
  b: SimSerialEnd;
  transcript: SerialTranscript;
}

/** Duration on the line of `bytes` bytes at `baud`, 8N1 (10 bit times per byte), in ms. */
export function lineTimeMs(bytes: number, baud: number): number {
  return (bytes * 10 * 1000) / baud;
}

/** Arrival of the k-th byte (1-based) of a run that started at `epoch`: one multiplication, so no drift over long runs. */
function arrivalTime(epoch: number, k: number, baud: number): number {
  return epoch + (k * 10000) / baud;
}

/** Nominal count passed to onWritable when the transmit queue drains (the simulated port buffers without limit). */
export const SIM_TX_WINDOW = 256;

/** Arrival of byte k (1-based, counted within a run of back-to-back bytes) is epoch + k * 10000 / baud: no drift. */
interface InFlightWrite {
  bytes: Uint8Array;
  /** Time the line went busy for the run this write belongs to. */
  epoch: number;
  /** Bytes of the same run that were sent before this write. */
  firstIndex: number;
  delivered: number;
  entry: TranscriptBytes | undefined;
}

function isText(byte: number): boolean {
  return (byte >= 0x20 && byte < 0x7f) || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

function escapeByte(byte: number): string {
  if (byte === 0x0d) return "\\r";
  if (byte === 0x0a) return "\\n";
  if (byte === 0x09) return "\\t";
  if (byte === 0x5c) return "\\\\";
  if (byte >= 0x20 && byte < 0x7f) return String.fromCharCode(byte);
  return "\\x" + (byte < 16 ? "0" : "") + byte.toString(16);
}

/** Printable ASCII as text, CR/LF/TAB as \r \n \t, other bytes as \xNN, long binary runs as "<N bytes>". */
export function formatBytes(bytes: Uint8Array, options: TranscriptFormatOptions = {}): string {
  const threshold = options.binaryThreshold ?? 16;
  const minText = options.minTextRun ?? 4;
  let out = "";
  let i = 0;
  while (i < bytes.length) {
    let textEnd = i;
    while (textEnd < bytes.length && isText(bytes[textEnd]!)) textEnd++;
    if (textEnd > i) {
      for (let k = i; k < textEnd; k++) out += escapeByte(bytes[k]!);
      i = textEnd;
      continue;
    }
    // A binary region: non-text bytes plus text runs too short to be meant as text.
    let end = i;
    while (end < bytes.length) {
      if (!isText(bytes[end]!)) {
        end++;
        continue;
      }
      let run = end;
      while (run < bytes.length && isText(bytes[run]!)) run++;
      if (run - end >= minText || run === bytes.length) break;
      end = run;
    }
    if (end - i > threshold) out += `<${end - i} bytes>`;
    else for (let k = i; k < end; k++) out += escapeByte(bytes[k]!);
    i = end;
  }
  return out;
}

/** What crossed the link, in order of arrival (entries are appended when a write's first bytes arrive). */
export class SerialTranscript {
  readonly entries: TranscriptEntry[] = [];
  constructor(readonly enabled: boolean) {}

  clear(): void {
    this.entries.length = 0;
  }

  /** One line per entry: "   12.345 ms a>b AT+QIOTREG=1\r\n". */
  format(options: TranscriptFormatOptions = {}): string {
    const lines: string[] = [];
    for (const entry of this.entries) {
      const time = entry.t.toFixed(3).padStart(10) + " ms " + entry.dir + " ";
      if ("dropped" in entry) lines.push(`${time}!! ${entry.dropped} bytes dropped (receive FIFO full)`);
      else lines.push(time + formatBytes(entry.bytes, options));
    }
    return lines.join("\n");
  }
}

/** Shared by both ends of one link. */
interface LinkContext {
  clock: Clock;
  /** Set when the clock knows a busy device: deliveries are world timers, the MCU's reading waits. */
  aware: WorldAwareClock | undefined;
  setTimerAt: ((callback: () => void, atMs: number) => TimerHandle) | undefined;
  baud: number;
  chunkBytes: number | undefined;
  transcript: SerialTranscript;
  onWire: SerialLinkOptions["onWire"];
}

/** One end of the cable. Its receive side: the bytes on the line towards it, and its FIFO. */
export class SimSerialEnd implements SerialPort {
  onReadable: ((count: number) => void) | undefined = undefined;
  onWritable: ((count: number) => void) | undefined = undefined;

  readonly #link: LinkContext;
  readonly #inboundDir: LinkDirection;
  #peer!: SimSerialEnd;
  readonly #fifoLimit: number;
  readonly #chunk: number;
  #fifo: Uint8Array;
  #fifoHead = 0;
  #fifoCount = 0;
  /** Writes on the line towards this end, oldest first, from #queueHead on. */
  #queue: (InFlightWrite | undefined)[] = [];
  #queueHead = 0;
  #timer: TimerHandle | undefined = undefined;
  /** The outgoing line (towards the peer): busy until #lineFreeAt; the current run started at #runEpoch. */
  #lineFreeAt = -Infinity;
  #runEpoch = 0;
  #runBytes = 0;
  #closed = false;
  #dropped = 0;
  #received = 0;
  /** This end is read by the world (the module), not by the MCU. */
  readonly #worldReader: boolean;
  /** The MCU was busy when bytes arrived: a device timer tells it once it can run again. */
  #notifyPending = false;

  /** @internal use createSerialLink(). */
  constructor(
    link: LinkContext,
    inboundDir: LinkDirection,
    fifoSize: number | undefined,
    worldReader = false,
  ) {
    this.#worldReader = worldReader;
    if (fifoSize !== undefined && !(Number.isInteger(fifoSize) && fifoSize > 0))
      throw new RangeError(`bad fifoSize ${fifoSize}`);
    this.#link = link;
    this.#inboundDir = inboundDir;
    this.#fifoLimit = fifoSize ?? Infinity;
    this.#fifo = new Uint8Array(fifoSize ?? 1024);
    this.#chunk = Math.max(
      1,
      Math.floor(link.chunkBytes ?? (fifoSize === undefined ? 16 : Math.min(16, fifoSize / 4))),
    );
  }

  /** @internal */
  static connect(a: SimSerialEnd, b: SimSerialEnd): void {
    a.#peer = b;
    b.#peer = a;
  }

  /** Bytes lost because they arrived while this end's receive FIFO was full. */
  get droppedBytes(): number {
    return this.#dropped;
  }

  /** Bytes that arrived at this end (kept or dropped). */
  get receivedBytes(): number {
    return this.#received;
  }

  /** Bytes waiting in this end's receive FIFO. */
  get waiting(): number {
    return this.#fifoCount;
  }

  /** Bytes written by this end that have not yet arrived at the peer. */
  get txPending(): number {
    const queue = this.#peer.#queue;
    let pending = 0;
    for (let i = this.#peer.#queueHead; i < queue.length; i++)
      pending += queue[i]!.bytes.length - queue[i]!.delivered;
    return pending;
  }

  /** Virtual time when the last byte written by this end will have arrived (the line is idle after it). */
  get lineFreeAt(): number {
    return this.#lineFreeAt;
  }

  get closed(): boolean {
    return this.#closed;
  }

  read(into: Uint8Array): number {
    const count = Math.min(into.length, this.#fifoCount);
    const fifo = this.#fifo;
    const first = Math.min(count, fifo.length - this.#fifoHead);
    into.set(fifo.subarray(this.#fifoHead, this.#fifoHead + first), 0);
    if (count > first) into.set(fifo.subarray(0, count - first), first);
    this.#fifoHead = (this.#fifoHead + count) % fifo.length;
    this.#fifoCount -= count;
    return count;
  }

  write(bytes: Uint8Array): void {
    if (this.#closed) throw new Error("serial port closed");
    if (bytes.length === 0) return;
    const link = this.#link;
    let copy: Uint8Array = bytes.slice();
    if (link.onWire) copy = link.onWire(this.#peer.#inboundDir, copy) ?? copy;
    if (copy.length === 0) return;
    const now = link.clock.now();
    if (now >= this.#lineFreeAt) {
      this.#runEpoch = now;
      this.#runBytes = 0;
    }
    const firstIndex = this.#runBytes;
    this.#runBytes += copy.length;
    this.#lineFreeAt = arrivalTime(this.#runEpoch, this.#runBytes, link.baud);
    this.#peer.#enqueue({ bytes: copy, epoch: this.#runEpoch, firstIndex, delivered: 0, entry: undefined });
  }

  /** Stops delivery to this end and drops what this end still had to send; further writes throw. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#discardInbound();
    this.#fifoCount = 0;
    this.#peer.#discardInbound();
  }

  #discardInbound(): void {
    if (this.#timer !== undefined) this.#link.clock.clearTimer(this.#timer);
    this.#timer = undefined;
    this.#queue = [];
    this.#queueHead = 0;
  }

  #enqueue(write: InFlightWrite): void {
    if (this.#closed) return;
    this.#queue.push(write);
    if (this.#timer === undefined) this.#schedule();
  }

  /** Arms the delivery timer for the end of the next chunk of the oldest write. */
  #schedule(): void {
    const write = this.#queue[this.#queueHead];
    if (!write) return;
    const link = this.#link;
    const chunkEnd = Math.min(write.delivered + this.#chunk, write.bytes.length);
    const at = arrivalTime(write.epoch, write.firstIndex + chunkEnd, link.baud);
    const deliver = (): void => this.#deliver();
    // Bytes arrive at the line's pace whatever the MCU does: with a busy-aware clock, delivery is a world timer.
    this.#timer = link.aware
      ? link.aware.world.setTimerAt(deliver, at)
      : link.setTimerAt
        ? link.setTimerAt(deliver, at)
        : link.clock.setTimer(deliver, at - link.clock.now());
  }

  /** Moves every byte that has arrived by now into the FIFO; what does not fit is lost (a late timer = a stalled CPU). */
  #deliver(): void {
    this.#timer = undefined;
    if (this.#closed) return;
    const link = this.#link;
    const now = link.clock.now();
    const queue = this.#queue;
    let arrived = 0;
    let dropped = 0;
    while (this.#queueHead < queue.length) {
      const write = queue[this.#queueHead]!;
      const length = write.bytes.length;
      // Epsilon: a timer set for byte k's arrival must count byte k despite float rounding.
      let total = Math.floor(((now - write.epoch) * link.baud) / 10000 + 1e-6) - write.firstIndex;
      if (total > length) total = length;
      if (total > write.delivered) {
        const count = total - write.delivered;
        const kept = this.#fifoPush(write.bytes, write.delivered, total);
        arrived += count;
        dropped += count - kept;
        if (link.transcript.enabled) this.#record(write, total);
        write.delivered = total;
      }
      if (write.delivered < length) break;
      queue[this.#queueHead++] = undefined;
    }
    if (this.#queueHead === queue.length) {
      this.#queue = [];
      this.#queueHead = 0;
    } else if (this.#queueHead > 1024) {
      this.#queue = queue.slice(this.#queueHead);
      this.#queueHead = 0;
    }
    this.#received += arrived;
    if (dropped > 0) {
      this.#dropped += dropped;
      if (link.transcript.enabled) {
        // Consecutive drops merge into one entry, so a long overflow stays one log line.
        const entries = link.transcript.entries;
        const last = entries[entries.length - 1];
        if (last && "dropped" in last && last.dir === this.#inboundDir) {
          last.dropped += dropped;
          last.end = now;
        } else {
          entries.push({ t: now, end: now, dir: this.#inboundDir, dropped });
        }
      }
    }
    this.#schedule();
    const stalled = link.aware?.deviceBusy === true;
    if (arrived > 0 && this.#queue.length === 0 && !(stalled && !this.#peer.#worldReader))
      this.#peer.onWritable?.(SIM_TX_WINDOW);
    if (arrived > 0 && this.#fifoCount > 0 && !this.#closed) {
      if (stalled && !this.#worldReader) this.#notifyLater();
      else this.onReadable?.(this.#fifoCount);
    }
  }

  /** The MCU is busy: its reader hears of the bytes (what the FIFO kept of them) at its next turn. */
  #notifyLater(): void {
    if (this.#notifyPending) return;
    this.#notifyPending = true;
    this.#link.clock.setTimer(() => {
      this.#notifyPending = false;
      if (this.#closed) return;
      // Bytes that arrived since the last chunk timer met the FIFO as it was at the end of the stall: count them first.
      if (this.#timer !== undefined) {
        this.#link.clock.clearTimer(this.#timer);
        this.#timer = undefined;
        const before = this.#received;
        this.#deliver();
        if (this.#received > before) return;
        if (this.#timer === undefined) this.#schedule();
      }
      if (this.#fifoCount > 0) this.onReadable?.(this.#fifoCount);
    }, 0);
  }

  #record(write: InFlightWrite, total: number): void {
    const link = this.#link;
    const end = arrivalTime(write.epoch, write.firstIndex + total, link.baud);
    if (write.entry) {
      write.entry.bytes = write.bytes.subarray(0, total);
      write.entry.end = end;
      return;
    }
    const t = arrivalTime(write.epoch, write.firstIndex + write.delivered + 1, link.baud);
    write.entry = { t, end, dir: this.#inboundDir, bytes: write.bytes.subarray(0, total) };
    link.transcript.entries.push(write.entry);
  }

  /** Appends source[from, to) to the FIFO as far as it fits; returns how many bytes were kept. */
  #fifoPush(source: Uint8Array, from: number, to: number): number {
    let count = to - from;
    const space = this.#fifoLimit - this.#fifoCount;
    if (count > space) count = space;
    if (this.#fifoCount + count > this.#fifo.length) this.#grow(this.#fifoCount + count);
    const fifo = this.#fifo;
    const tail = (this.#fifoHead + this.#fifoCount) % fifo.length;
    const first = Math.min(count, fifo.length - tail);
    fifo.set(source.subarray(from, from + first), tail);
    if (count > first) fifo.set(source.subarray(from + first, from + count), 0);
    this.#fifoCount += count;
    return count;
  }

  /** Unbounded FIFO only: doubles the ring, unwrapping it. */
  #grow(needed: number): void {
    let capacity = this.#fifo.length * 2;
    while (capacity < needed) capacity *= 2;
    const next = new Uint8Array(capacity);
    const saved = this.#fifoCount;
    this.read(next);
    this.#fifo = next;
    this.#fifoHead = 0;
    this.#fifoCount = saved;
  }
}

/**
 * A cable between two SerialPort ends on `clock`. Bytes written at one end reach the other at the baud
 * rate (8N1), queued behind bytes still on the line; the receiver sees them via onReadable from a timer,
 * a chunk at a time. With a FIFO size, bytes arriving while the FIFO is full are dropped and counted.
 */
export function createSerialLink(options: SerialLinkOptions): SerialLink {
  const { clock, baud } = options;
  if (!(baud > 0)) throw new RangeError(`bad baud ${baud}`);
  const setTimerAt = (clock as { setTimerAt?: LinkContext["setTimerAt"] }).setTimerAt;
  const transcript = new SerialTranscript(options.transcript === true);
  const link: LinkContext = {
    clock,
    aware: worldAware(clock),
    setTimerAt: typeof setTimerAt === "function" ? setTimerAt.bind(clock) : undefined,
    baud,
    chunkBytes: options.chunkBytes,
    transcript,
    onWire: options.onWire,
  };
  const a = new SimSerialEnd(link, "b>a", options.fifoSizeA ?? options.fifoSize, options.worldEnd === "a");
  const b = new SimSerialEnd(link, "a>b", options.fifoSizeB ?? options.fifoSize, options.worldEnd === "b");
  SimSerialEnd.connect(a, b);
  return { a, b, transcript };
}
