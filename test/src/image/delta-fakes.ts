// Fakes for DeltaReceiver's edge suites (portable): an in-memory slot receive that keeps the ImageReceiver contract
// (a write into an unerased block throws) and logs every call, and the ports over a running image in RAM.
import { FlashError } from "../../../hal/flash.js";
import { toHex, type Digest } from "../../../hal/digest.js";
import { NobleDigestFactory } from "../../../hal/sim/digest.js";
import type { DeltaReceiverPorts } from "../../../src/image/delta-receiver.js";
import {
  digestMismatch,
  type ImageDescriptor,
  type ImageReceiver,
  type VerifyResult,
} from "../../../src/image/types.js";

export const digests = new NobleDigestFactory();

export function hex(bytes: Uint8Array, algorithm: "MD5" | "SHA256"): string {
  const d = digests.create(algorithm);
  d.write(bytes);
  return toHex(d.close());
}

/** The descriptor the module would announce for `pkg`. */
export function packageDescriptor(pkg: Uint8Array, version = "1.1.0"): ImageDescriptor {
  return {
    component: "app",
    version,
    size: pkg.length,
    md5: hex(pkg, "MD5"),
    sha256: hex(pkg, "SHA256"),
    crc: 0,
  };
}

/** A slot receive in RAM: blocks of `block` bytes, each erased at most once, written strictly in order. */
export class MemTarget implements ImageReceiver {
  readonly descriptor: ImageDescriptor;
  readonly data: Uint8Array;
  readonly erased: boolean[];
  /** "needsErase 128", "eraseStep 128", "write 48/256" (length/buffer), "readBack 0+256", "finish". */
  readonly log: string[] = [];
  received: number;
  /** The buffers readBack() was given (a resume re-reads through one scratch). */
  readonly readInto = new Set<Uint8Array>();
  /** readBack() past `received` reads what the slot holds there (the contract allows it) instead of throwing. */
  readsAsStored = false;
  /** finish() answers this instead of checking (a slot that reads back other bytes than were written). */
  verdict: VerifyResult | undefined = undefined;
  /** Throws this error from the write with this index (0-based), once. */
  failWrite: { index: number; error: Error } | undefined = undefined;
  #writes = 0;
  readonly #block: number;

  constructor(descriptor: ImageDescriptor, block: number, prefix?: Uint8Array) {
    this.descriptor = descriptor;
    this.#block = block;
    this.data = new Uint8Array(descriptor.size);
    this.erased = new Array<boolean>(Math.ceil(descriptor.size / block)).fill(false);
    this.received = 0;
    if (prefix) {
      // A verified prefix left by a reset: whole blocks, written and so erased before.
      this.data.set(prefix);
      this.received = prefix.length;
      for (let b = 0; b * block < prefix.length; b++) this.erased[b] = true;
    }
  }

  #dirty(upTo: number): number {
    const end = Math.min(upTo, this.descriptor.size);
    for (let b = Math.floor(this.received / this.#block); b * this.#block < end; b++)
      if (!this.erased[b]) return b;
    return -1;
  }

  needsErase(upTo: number): boolean {
    this.log.push(`needsErase ${upTo}`);
    return this.#dirty(upTo) >= 0;
  }

  eraseStep(upTo: number): boolean {
    this.log.push(`eraseStep ${upTo}`);
    const b = this.#dirty(upTo);
    if (b < 0) return false;
    this.erased[b] = true;
    return true;
  }

  write(bytes: Uint8Array, length: number): void {
    this.log.push(`write ${length}/${bytes.length}`);
    if (this.failWrite?.index === this.#writes++) throw this.failWrite.error;
    if (this.received + length > this.descriptor.size) throw new RangeError("mem target: past the image");
    for (let at = this.received; at < this.received + length; at++)
      if (!this.erased[Math.floor(at / this.#block)])
        throw new FlashError(`mem target: ${at} not erased`, "unerased");
    this.data.set(bytes.subarray(0, length), this.received);
    this.received += length;
  }

  readBack(offset: number, into: Uint8Array): void {
    this.log.push(`readBack ${offset}+${into.length}`);
    if (offset < 0 || offset + into.length > (this.readsAsStored ? this.data.length : this.received))
      throw new RangeError("mem target: read back past received");
    this.readInto.add(into);
    into.set(this.data.subarray(offset, offset + into.length));
  }

  finish(): VerifyResult {
    this.log.push("finish");
    if (this.verdict) return this.verdict;
    const md5 = hex(this.data, "MD5");
    const sha256 = hex(this.data, "SHA256");
    const reason =
      this.received !== this.descriptor.size ? "size" : digestMismatch(this.descriptor, md5, sha256);
    return { ok: reason === "", reason, md5, sha256 };
  }

  /** The log entries since the last call, then a fresh start. */
  take(): string[] {
    return this.log.splice(0, this.log.length);
  }
}

export interface FakeWorld {
  ports: DeltaReceiverPorts;
  /** Every target receive started, in order. */
  targets: MemTarget[];
  /** Copies of the checkpoints saved. */
  checkpoints: Uint8Array[];
  /** Running image reads: "offset+length". */
  reads: string[];
  logs: string[];
  /** What the package MD5 was given, chunk by chunk (the objects themselves: views are counted). */
  hashed: Uint8Array[];
  /** The targets announced through onTarget(). */
  announced: ImageDescriptor[];
  /** The buffers readRunning() was given. */
  readInto: Set<Uint8Array>;
}

export interface WorldOptions {
  source: Uint8Array;
  block: number;
  maxWrite?: number;
  runningSlotLength?: number;
  runningSize?: number;
  partial?: ImageReceiver;
  noReadRunning?: boolean;
}

/** Ports over `source` as the running image (its slot padded with 0xff), with MemTarget targets. */
export function fakeWorld(options: WorldOptions): FakeWorld {
  const slotLength = options.runningSlotLength ?? options.source.length + 64;
  const slot = new Uint8Array(Math.max(slotLength, options.source.length)).fill(0xff);
  slot.set(options.source);
  const world: FakeWorld = {
    targets: [],
    checkpoints: [],
    reads: [],
    logs: [],
    hashed: [],
    readInto: new Set(),
    announced: [],
    ports: undefined as unknown as DeltaReceiverPorts,
  };
  const md5 = digests.create("MD5");
  const spy: Digest = {
    write: (chunk) => {
      world.hashed.push(chunk);
      md5.write(chunk);
    },
    close: () => md5.close(),
    reset: () => md5.reset(),
  };
  world.ports = {
    readRunning: options.noReadRunning
      ? undefined
      : (offset, into) => {
          if (offset < 0 || offset + into.length > slotLength)
            throw new RangeError(`running: read ${offset}+${into.length} outside the slot`);
          world.reads.push(`${offset}+${into.length}`);
          world.readInto.add(into);
          into.set(slot.subarray(offset, offset + into.length));
        },
    runningSlotLength: slotLength,
    runningSize: options.runningSize ?? options.source.length,
    startTarget: (d) => {
      const target = new MemTarget(d, options.block);
      world.targets.push(target);
      return target;
    },
    partial: options.partial,
    md5: spy,
    sha256: digests.create("SHA256"),
    work: digests.create("SHA256"),
    blockLength: options.block,
    maxWrite: options.maxWrite ?? 64,
    saveCheckpoint: (record) => void world.checkpoints.push(record.slice()),
    onLog: (message) => void world.logs.push(message),
    onTarget: (d) => void world.announced.push(d),
  };
  return world;
}

/** The error fn throws (fails if it throws none). */
export function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected an exception, none was thrown");
}
