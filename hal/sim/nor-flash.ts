// Simulated NOR flash partition (FlashPartition port) with wear counters, erase/write timing and power-cut injection.
import {
  checkAccessRange,
  checkEraseRange,
  checkFlashGeometry,
  checkProgrammable,
  checkWriteRange,
} from "../flash.js";
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

/**
 * Storage is one Uint8Array per block, copy-on-write: from() shares every block with the source, and
 * whichever flash mutates a shared block first copies it. Erased blocks all share one never-written
 * template. So a clone costs O(blocks), and a sweep iteration pays only for the blocks it touches.
 */
export class SimNorFlash implements FlashPartition {
  readonly #blocks: Uint8Array[];
  /** 1 where this flash holds the only reference to the block and may change it in place. */
  readonly #owned: Uint8Array;
  readonly #erased: Uint8Array;
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
    this.#status = checkFlashGeometry(size, blockLength, writeAlign, eraseValue);
    this.#blockCount = size / blockLength;
    this.#erased = new Uint8Array(blockLength).fill(eraseValue);
    this.#blocks = new Array<Uint8Array>(this.#blockCount).fill(this.#erased);
    this.#owned = new Uint8Array(this.#blockCount);
    const initial = options.initial;
    if (initial && initial.length > size)
      throw new RangeError(`initial content ${initial.length} > size ${size}`);
    if (initial) this.#store(initial, 0);
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

  /** A new flash with the same geometry and `source`'s content (shared copy-on-write; stats and faults start fresh). */
  static from(
    source: SimNorFlash,
    options: Pick<SimNorFlashOptions, "clock" | "timing" | "faults"> = {},
  ): SimNorFlash {
    const clone = new SimNorFlash({ ...source.#status, ...options });
    // Sharing works both ways: neither side may now change a block in place.
    source.#owned.fill(0);
    for (let block = 0; block < source.#blockCount; block++) clone.#blocks[block] = source.#blocks[block]!;
    return clone;
  }

  status(): FlashStatus {
    this.#checkPower();
    return this.#status;
  }

  eraseBlock(start: number, end: number = start + 1): void {
    this.#checkPower();
    checkEraseRange(this.#status, start, end);
    for (let block = start; block < end; block++) {
      if (this.#beginOperation()) {
        if (this.#torn === "erase-garbage" || this.#torn === "any") {
          const random = generator(this.#seed);
          const data = this.#mutable(block);
          for (let i = 0; i < data.length; i++) data[i] = (random() * 256) | 0;
        }
        throw new PowerLoss(`power cut during erase of block ${block} (operation ${this.#stats.operations})`);
      }
      this.#blocks[block] = this.#erased;
      this.#owned[block] = 0;
      this.#stats.erases[block]!++;
      this.#stats.eraseCount++;
      this.#clock?.busy(this.#eraseMs);
    }
  }

  read(into: Uint8Array, offset: number): void {
    this.#checkPower();
    checkAccessRange(this.#status, offset, into.length, "read");
    this.#load(into, offset);
  }

  write(bytes: Uint8Array, offset: number): void {
    this.#checkPower();
    const length = bytes.length;
    checkWriteRange(this.#status, offset, length);
    const { eraseValue, blockLength } = this.#status;
    for (let done = 0; done < length;) {
      const block = ((offset + done) / blockLength) | 0;
      const data = this.#blocks[block]!;
      const inner = offset + done - block * blockLength;
      const count = Math.min(length - done, blockLength - inner);
      checkProgrammable(data, inner, bytes, done, count, eraseValue, offset + done);
      done += count;
    }
    if (length === 0) return;
    if (this.#beginOperation()) {
      if (this.#torn === "write-prefix" || this.#torn === "any") {
        const prefix = Math.floor(generator(this.#seed)() * length);
        this.#store(bytes.subarray(0, prefix), offset);
      }
      throw new PowerLoss(
        `power cut during write of ${length} bytes at ${offset} (operation ${this.#stats.operations})`,
      );
    }
    this.#store(bytes, offset);
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
    const image = new Uint8Array(this.#status.size);
    this.#load(image, 0);
    return image;
  }

  /** Copy of `length` bytes at `offset` for test assertions (works while powered off; not counted). */
  inspect(offset: number, length: number): Uint8Array {
    if (!Number.isInteger(offset) || offset < 0 || length < 0 || offset + length > this.#status.size)
      throw new RangeError("inspect out of bounds");
    const bytes = new Uint8Array(length);
    this.#load(bytes, offset);
    return bytes;
  }

  #checkPower(): void {
    if (this.#poweredOff) throw new PowerLoss("flash is without power (call powerOn() to reboot)");
  }

  /** The block's bytes, copied first if another flash (or the erased template) shares them. */
  #mutable(block: number): Uint8Array {
    if (this.#owned[block] === 0) {
      this.#blocks[block] = this.#blocks[block]!.slice();
      this.#owned[block] = 1;
    }
    return this.#blocks[block]!;
  }

  /** Copies `bytes` in at `offset` (already validated), block by block. */
  #store(bytes: Uint8Array, offset: number): void {
    const blockLength = this.#status.blockLength;
    for (let done = 0; done < bytes.length;) {
      const block = ((offset + done) / blockLength) | 0;
      const inner = offset + done - block * blockLength;
      const count = Math.min(bytes.length - done, blockLength - inner);
      this.#mutable(block).set(bytes.subarray(done, done + count), inner);
      done += count;
    }
  }

  #load(into: Uint8Array, offset: number): void {
    const blockLength = this.#status.blockLength;
    for (let done = 0; done < into.length;) {
      const block = ((offset + done) / blockLength) | 0;
      const inner = offset + done - block * blockLength;
      const count = Math.min(into.length - done, blockLength - inner);
      into.set(this.#blocks[block]!.subarray(inner, inner + count), done);
      done += count;
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
