// Simulated NOR flash partition (FlashPartition port) with wear counters, erase/write timing and power-cut injection.
import { FlashError } from "../flash.js";
import type { FlashPartition, FlashStatus } from "../flash.js";

/** Thrown by the operation a power cut interrupts and by every flash call after it, until powerOn(). */
export class PowerLoss extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PowerLoss";
  }
}

/**
 * What happens to the interrupted operation:
 * - "none": it is not applied at all;
 * - "write-prefix": a write stores a seed-chosen prefix of its bytes (length in [0, len)); an erase is not applied;
 * - "erase-garbage": an erase leaves the block with seed-chosen random bytes; a write is not applied;
 * - "any": both of the above, whichever kind operation N is.
 */
export type TornMode = "none" | "write-prefix" | "erase-garbage" | "any";

export interface FlashFaults {
  /** 1-based, counted from construction: operation N is cut (not applied, or torn) and power stays off. */
  cutBeforeOperation?: number;
  torn?: TornMode;
  /** Seed of the deterministic generator that picks the torn prefix length and the erase garbage. */
  seed?: number;
}

export interface FlashTiming {
  /** CPU-busy time per erased block (default 45 ms, a typical 4 KiB sector erase). */
  eraseMs?: number;
  /** CPU-busy time per KiB written (default 0.5 ms), rounded to 1 µs. */
  writeMsPerKiB?: number;
}

/** The part of VirtualClock the flash needs: flash work blocks the (single-threaded) CPU. */
export interface BusyClock {
  busy(ms: number): void;
}

export interface SimNorFlashOptions {
  size: number;
  blockLength: number;
  writeAlign: number;
  eraseValue?: number;
  clock?: BusyClock;
  timing?: FlashTiming;
  faults?: FlashFaults;
  /** Starting content (copied); shorter than `size` leaves the rest erased. Default: all erased. */
  initial?: Uint8Array;
}

/**
 * Wear and activity counters. An "operation" is one erased block (eraseBlock(0, 4) is 4 operations)
 * or one write call with at least one byte, counted once it passed validation and started, including
 * the one a power cut interrupts. Requests rejected with FlashError, reads and status() do not count.
 * eraseCount / writeCount / bytes counters count completed operations only.
 */
export interface FlashStats {
  erases: number[];
  bytesWritten: number[];
  eraseCount: number;
  writeCount: number;
  bytesWrittenTotal: number;
  operations: number;
}

/** mulberry32: tiny deterministic generator, so fault sweeps replay bit for bit (no Math.random). */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class SimNorFlash implements FlashPartition {
  readonly #data: Uint8Array;
  readonly #status: Readonly<FlashStatus>;
  readonly #blockCount: number;
  readonly #clock: BusyClock | undefined;
  readonly #eraseMs: number;
  readonly #writeMsPerKiB: number;
  readonly #stats: FlashStats;
  /** Operations left until the armed cut (0 = not armed). */
  #cutCountdown = 0;
  #torn: TornMode = "none";
  #seed = 1;
  #poweredOff = false;
  #cutHappened = false;

  constructor(options: SimNorFlashOptions) {
    const { size, blockLength, writeAlign, eraseValue = 0xff } = options;
    if (!(blockLength > 0 && Number.isInteger(blockLength)))
      throw new RangeError(`bad blockLength ${blockLength}`);
    if (!(size > 0 && size % blockLength === 0))
      throw new RangeError(`size ${size} is not a whole number of blocks`);
    if (!(writeAlign > 0 && blockLength % writeAlign === 0))
      throw new RangeError(`bad writeAlign ${writeAlign}`);
    if (!(Number.isInteger(eraseValue) && eraseValue >= 0 && eraseValue <= 0xff))
      throw new RangeError("bad eraseValue");
    this.#status = Object.freeze({ size, blockLength, writeAlign, eraseValue });
    this.#blockCount = size / blockLength;
    this.#data = new Uint8Array(size);
    const initial = options.initial;
    if (initial && initial.length > size)
      throw new RangeError(`initial content ${initial.length} > size ${size}`);
    if (initial) this.#data.set(initial);
    if (eraseValue !== 0) this.#data.fill(eraseValue, initial ? initial.length : 0);
    this.#clock = options.clock;
    this.#eraseMs = options.timing?.eraseMs ?? 45;
    this.#writeMsPerKiB = options.timing?.writeMsPerKiB ?? 0.5;
    const zeros = (): number[] => new Array<number>(this.#blockCount).fill(0);
    this.#stats = {
      erases: zeros(),
      bytesWritten: zeros(),
      eraseCount: 0,
      writeCount: 0,
      bytesWrittenTotal: 0,
      operations: 0,
    };
    const faults = options.faults;
    if (faults?.cutBeforeOperation !== undefined)
      this.armPowerCut(faults.cutBeforeOperation, faults.torn, faults.seed);
  }

  /** A new flash with the same geometry and a copy of `source`'s content (one memcpy; stats and faults start fresh). */
  static from(
    source: SimNorFlash,
    options: Pick<SimNorFlashOptions, "clock" | "timing" | "faults"> = {},
  ): SimNorFlash {
    return new SimNorFlash({ ...source.#status, ...options, initial: source.#data });
  }

  status(): FlashStatus {
    this.#checkPower();
    return this.#status;
  }

  eraseBlock(start: number, end: number = start + 1): void {
    this.#checkPower();
    if (
      !Number.isInteger(start) ||
      !Number.isInteger(end) ||
      start < 0 ||
      end <= start ||
      end > this.#blockCount
    ) {
      throw new FlashError(`erase of blocks [${start}, ${end}) outside 0..${this.#blockCount}`, "bounds");
    }
    const { blockLength, eraseValue } = this.#status;
    for (let block = start; block < end; block++) {
      const offset = block * blockLength;
      if (this.#beginOperation()) {
        if (this.#torn === "erase-garbage" || this.#torn === "any") {
          const random = generator(this.#seed);
          for (let i = 0; i < blockLength; i++) this.#data[offset + i] = (random() * 256) | 0;
        }
        throw new PowerLoss(`power cut during erase of block ${block} (operation ${this.#stats.operations})`);
      }
      this.#data.fill(eraseValue, offset, offset + blockLength);
      this.#stats.erases[block]!++;
      this.#stats.eraseCount++;
      this.#clock?.busy(this.#eraseMs);
    }
  }

  read(into: Uint8Array, offset: number): void {
    this.#checkPower();
    this.#checkBounds(offset, into.length, "read");
    into.set(this.#data.subarray(offset, offset + into.length));
  }

  write(bytes: Uint8Array, offset: number): void {
    this.#checkPower();
    const length = bytes.length;
    this.#checkBounds(offset, length, "write");
    const { writeAlign, eraseValue, blockLength } = this.#status;
    if (offset % writeAlign !== 0 || length % writeAlign !== 0) {
      throw new FlashError(
        `write of ${length} bytes at ${offset} breaks the ${writeAlign}-byte alignment`,
        "align",
      );
    }
    const data = this.#data;
    for (let i = 0; i < length; i++) {
      const old = data[offset + i]!;
      // A bit may only move away from its erased value: changed bits must still hold the erased value.
      if (((old ^ bytes[i]!) & (old ^ eraseValue)) !== 0) {
        throw new FlashError(
          `write at ${offset + i} needs bits set back (0x${old.toString(16)} -> 0x${bytes[i]!.toString(16)}): erase first`,
          "unerased",
        );
      }
    }
    if (length === 0) return;
    if (this.#beginOperation()) {
      if (this.#torn === "write-prefix" || this.#torn === "any") {
        const prefix = Math.floor(generator(this.#seed)() * length);
        data.set(bytes.subarray(0, prefix), offset);
      }
      throw new PowerLoss(
        `power cut during write of ${length} bytes at ${offset} (operation ${this.#stats.operations})`,
      );
    }
    data.set(bytes, offset);
    const stats = this.#stats;
    stats.writeCount++;
    stats.bytesWrittenTotal += length;
    for (let at = offset; at < offset + length;) {
      const block = (at / blockLength) | 0;
      const next = Math.min((block + 1) * blockLength, offset + length);
      stats.bytesWritten[block]! += next - at;
      at = next;
    }
    if (this.#clock) this.#clock.busy(Math.round((this.#writeMsPerKiB * length * 1000) / 1024) / 1000);
  }

  /** Live counters (see FlashStats for what counts). */
  get stats(): FlashStats {
    return this.#stats;
  }

  resetStats(): void {
    const stats = this.#stats;
    stats.erases.fill(0);
    stats.bytesWritten.fill(0);
    stats.eraseCount = stats.writeCount = stats.bytesWrittenTotal = stats.operations = 0;
  }

  /**
   * Arms a power cut: the `operation`-th operation from now (1-based) is cut as `torn` says, it and
   * every later call throw PowerLoss until powerOn(). Re-arming replaces an earlier arm.
   */
  armPowerCut(operation: number, torn: TornMode = "none", seed = 1): void {
    if (!(Number.isInteger(operation) && operation >= 1))
      throw new RangeError(`bad operation number ${operation}`);
    this.#cutCountdown = operation;
    this.#torn = torn;
    this.#seed = seed;
    this.#cutHappened = false;
  }

  disarmPowerCut(): void {
    this.#cutCountdown = 0;
  }

  /** The reboot after a cut: calls work again and see what the cut left. */
  powerOn(): void {
    this.#poweredOff = false;
  }

  /** True once the armed cut has fired (stays true after powerOn(), until the next armPowerCut()). */
  get cutHappened(): boolean {
    return this.#cutHappened;
  }

  get poweredOff(): boolean {
    return this.#poweredOff;
  }

  /** Copy of the whole content (works while powered off; not counted). */
  snapshot(): Uint8Array {
    return this.#data.slice();
  }

  /** Copy of `length` bytes at `offset` for test assertions (works while powered off; not counted). */
  inspect(offset: number, length: number): Uint8Array {
    if (offset < 0 || length < 0 || offset + length > this.#data.length)
      throw new RangeError("inspect out of bounds");
    return this.#data.slice(offset, offset + length);
  }

  #checkPower(): void {
    if (this.#poweredOff) throw new PowerLoss("flash is without power (call powerOn() to reboot)");
  }

  #checkBounds(offset: number, length: number, what: string): void {
    if (!Number.isInteger(offset) || offset < 0 || offset + length > this.#data.length) {
      throw new FlashError(
        `${what} of ${length} bytes at ${offset} outside 0..${this.#data.length}`,
        "bounds",
      );
    }
  }

  /** Counts an operation; true when it is the one the armed cut interrupts (power is then off). */
  #beginOperation(): boolean {
    this.#stats.operations++;
    if (this.#cutCountdown === 0 || --this.#cutCountdown !== 0) return false;
    this.#poweredOff = true;
    this.#cutHappened = true;
    return true;
  }
}
