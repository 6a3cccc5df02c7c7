// Receives a delta package (docs/delta-packages.md) as the engine reads it: checks its header against the running
// image, applies the patch while it streams in, and writes the target image through a slot receiver.
import { toHex, type Digest } from "../../hal/digest.js";
import { FlashError } from "../../hal/flash.js";
import {
  DELTA_BOUNDARY,
  DELTA_DONE,
  DELTA_FAILED,
  DELTA_HEADER_SIZE,
  DELTA_MAGIC,
  DELTA_STATE_SIZE,
  DeltaPackageApplier,
  parseDeltaHeader,
  type DeltaHeader,
} from "../delta/index.js";
import { getU32 } from "../flash-format/bytes.js";
import { UNKNOWN_MD5, type ImageDescriptor, type ImageReceiver, type VerifyResult } from "./types.js";

/** A delta package this device will not apply: `code` is the applier's failure code (or "wrong-base" etc.). */
export class DeltaRefused extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/** What a delta receive borrows from the engine and the boot control (all allocated once, outside). */
export interface DeltaReceiverPorts {
  /** Reads the running image: into.length bytes at `offset` (never past its slot); absent: deltas are refused. */
  readRunning: ((offset: number, into: Uint8Array) => void) | undefined;
  /** Bytes of the running image's slot: reads never go past it. */
  runningSlotLength: number;
  /** The running image's size as boot control recorded it (0: unknown). */
  runningSize: number;
  /** Starts the receive of the target image into the inactive slot. */
  startTarget(descriptor: ImageDescriptor): ImageReceiver;
  /** A target receive left by a reset (its verified prefix is reused), or undefined. */
  partial: ImageReceiver | undefined;
  /** Digests of the package bytes (the module's 10701 MD5 and SHA-256). */
  md5: Digest;
  sha256: Digest;
  /** The applier's own SHA-256 (the running image once, then the output). */
  work: Digest;
  /** Flash erase block: output checkpoints and erases go sector by sector. */
  blockLength: number;
  /** Largest write() the engine makes (one read). */
  maxWrite: number;
  /** Persists a checkpoint (DELTA_STATE_SIZE bytes) once its sector is journaled; called while the line is quiet. */
  saveCheckpoint(record: Uint8Array): void;
  /** Told the target image before its receive starts (the engine names it in its OTA record). */
  onTarget?(descriptor: ImageDescriptor): void;
  onLog?(message: string): void;
}

const S_HEADER = 0;
const S_CHECK = 1;
const S_START = 2;
const S_RUN = 3;
const S_FAILED = 4;

/** Bytes of the running image hashed per eraseStep() while the base is checked (the port is read in between). */
const HASH_STEP = 4096;

/**
 * An ImageReceiver for a delta package: `descriptor` and `received` are the package's (what the engine reads);
 * the slot receives the image the patch builds. Flash work happens only in eraseStep() (while the line is
 * quiet): the base check, the target's erases, checkpoints, and the package bytes a write() could not apply
 * because the next output sector was not erased yet (kept in a stash of one read).
 */
export class DeltaReceiver implements ImageReceiver {
  readonly descriptor: ImageDescriptor;
  readonly #ports: DeltaReceiverPorts;
  readonly #header = new Uint8Array(DELTA_HEADER_SIZE);
  readonly #checkpoint = new Uint8Array(DELTA_STATE_SIZE);
  readonly #stash: Uint8Array;
  readonly #scratch = new Uint8Array(256);
  readonly #sourceSha = new Uint8Array(32);
  /** Stashed package bytes: #stash[0, #stashEnd). */
  #stashEnd = 0;
  #state = S_HEADER;
  #parsed: DeltaHeader | undefined = undefined;
  #target: ImageReceiver | undefined = undefined;
  #applier: DeltaPackageApplier | undefined = undefined;
  #accepted = 0;
  #hashed = 0;
  #checkpointDue = false;
  #refusal: DeltaRefused | undefined = undefined;
  /** A flash error met inside the applier's sink: rethrown as such, not as a patch failure. */
  #sinkError: unknown = undefined;
  /** Package bytes before this offset were not seen by the package digests (a resume from a checkpoint). */
  #resumedAt = 0;
  /** Bytes of [0, resumedAt) the package digests have seen again. */
  #prefixHashed = 0;
  #finished = false;
  readonly #viewBuffers: (Uint8Array | undefined)[] = [undefined, undefined];
  readonly #views: (Uint8Array | undefined)[] = [undefined, undefined];
  #nextView = 0;
  /** A package without the delta magic: a whole image for the source version, written as it comes. */
  #plain = false;
  readonly #readSource = (offset: number, length: number, into: Uint8Array): boolean => {
    const ports = this.#ports;
    // A whole-buffer read past the image is harmless inside the slot, and allocates no view.
    if (offset + into.length <= ports.runningSlotLength) ports.readRunning!(offset, into);
    else ports.readRunning!(offset, into.subarray(0, length));
    return true;
  };
  readonly #write = (bytes: Uint8Array, length: number): boolean => {
    try {
      this.#writeOutput(bytes, length);
      return true;
    } catch (error) {
      this.#sinkError = error;
      return false;
    }
  };

  constructor(ports: DeltaReceiverPorts, descriptor: ImageDescriptor) {
    this.#ports = ports;
    this.descriptor = descriptor;
    // Two reads: the header's read waits whole until the base is checked, and the next may be written before then.
    this.#stash = new Uint8Array(2 * Math.max(ports.maxWrite, DELTA_HEADER_SIZE));
    ports.md5.reset();
    ports.sha256.reset();
  }

  /** The receive of the built image in the slot, once the header named it. */
  get target(): ImageReceiver | undefined {
    return this.#target;
  }

  /**
   * Continues from a checkpoint: the target's verified prefix must cover its output. Undefined when it cannot
   * (the engine then starts the package from byte 0 and the verified output is compared, not rewritten).
   */
  static resume(
    ports: DeltaReceiverPorts,
    descriptor: ImageDescriptor,
    record: Uint8Array,
  ): DeltaReceiver | undefined {
    const target = ports.partial;
    if (!target) return undefined;
    const parsed = parseDeltaHeader(record, 4);
    if (!parsed.ok || !sameTarget(target.descriptor, descriptor, parsed.header)) return undefined;
    const receiver = new DeltaReceiver(ports, descriptor);
    receiver.#parsed = parsed.header;
    receiver.#target = target;
    const applier = receiver.#newApplier(parsed.header);
    const readOutput = (offset: number, length: number, into: Uint8Array): boolean => {
      target.readBack(offset, length === into.length ? into : into.subarray(0, length));
      return true;
    };
    if (!applier.restore(record, readOutput) || applier.outputOffset > target.received) return undefined;
    receiver.#applier = applier;
    receiver.#state = S_RUN;
    receiver.#accepted = applier.packageOffset;
    receiver.#resumedAt = applier.packageOffset;
    return receiver;
  }

  /** Package bytes taken (applied, or waiting in the stash). */
  get received(): number {
    return this.#accepted;
  }

  /** Bytes of the image in the slot once done (the package's size until the header is read). */
  get imageSize(): number {
    return this.#plain ? this.descriptor.size : (this.#parsed?.targetSize ?? this.descriptor.size);
  }

  /** Output bytes the patch has produced so far. */
  get outputOffset(): number {
    return this.#applier?.outputOffset ?? 0;
  }

  /** The delta header once read. */
  get header(): DeltaHeader | undefined {
    return this.#parsed;
  }

  /** Package offset where this receive resumed from a checkpoint (0: the digests saw the whole package). */
  get resumedAt(): number {
    return this.#resumedAt;
  }

  /** Package bytes before the checkpoint the digests still need (re-read from the module), 0 when none or too late. */
  get prefixPending(): number {
    return this.#accepted === this.#resumedAt ? this.#resumedAt - this.#prefixHashed : 0;
  }

  /** The package's next bytes before the checkpoint, re-read for the digests only (nothing is applied). */
  hashPrefix(bytes: Uint8Array, length: number): void {
    if (length > this.prefixPending)
      throw new RangeError(`delta receiver: ${length} prefix bytes, ${this.prefixPending} pending`);
    const chunk = this.#viewOf(bytes, length);
    this.#ports.md5.write(chunk);
    this.#ports.sha256.write(chunk);
    this.#prefixHashed += length;
  }

  /** Why the image in the slot is not the whole target yet, or "" once the patch is done and verified. */
  incomplete(): string {
    if (this.#refusal) return this.#refusal.message;
    if (this.#plain) return this.#stashEnd > 0 ? "bytes still wait to be written" : "";
    const applier = this.#applier;
    if (!applier || this.#stashEnd > 0) return "the delta package is not applied yet";
    if (applier.finish() !== DELTA_DONE) return this.#refuse().message;
    return "";
  }

  /** Output bytes the next push may write: up to the next sector boundary, or the whole image at the end. */
  #outputNeed(upTo: number): number {
    const header = this.#parsed!;
    if (upTo >= this.descriptor.size) return header.targetSize;
    const block = this.#ports.blockLength;
    const next = (Math.floor(this.outputOffset / block) + 1) * block;
    return next < header.targetSize ? next : header.targetSize;
  }

  needsErase(upTo: number): boolean {
    switch (this.#state) {
      case S_HEADER:
        return false;
      case S_RUN:
        if (this.#plain) return this.#stashEnd > 0 || this.#target!.needsErase(upTo);
        if (this.#stashEnd > 0 || this.#checkpointDue) return true;
        if (upTo <= this.#accepted) return false;
        return this.#target!.needsErase(this.#outputNeed(upTo));
      default:
        return true;
    }
  }

  eraseStep(upTo: number): boolean {
    this.#check();
    switch (this.#state) {
      case S_HEADER:
        return false;
      case S_CHECK:
        this.#checkStep();
        return true;
      case S_START:
        this.#start();
        return true;
      default:
        break;
    }
    const target = this.#target!;
    const stashed = this.#stashEnd > 0;
    if (this.#plain) return this.#plainStep(upTo, stashed);
    const need = stashed ? this.#outputNeed(0) : this.#outputNeed(upTo);
    if ((stashed || upTo > this.#accepted) && target.needsErase(need)) return target.eraseStep(need);
    if (stashed) {
      const end = this.#stashEnd;
      this.#stashEnd = 0;
      this.#push(this.#stash, 0, end);
      return true;
    }
    if (this.#checkpointDue) {
      this.#checkpointDue = false;
      // After its sector's journal entry: a checkpoint never points past the verified output.
      this.#ports.saveCheckpoint(this.#checkpoint);
      return true;
    }
    return false;
  }

  write(bytes: Uint8Array, length: number): void {
    this.#check();
    if (!Number.isInteger(length) || length < 0 || length > bytes.length) {
      throw new RangeError(`delta receiver: length ${length} outside the ${bytes.length}-byte buffer`);
    }
    if (length === 0) return;
    if (this.#accepted + length > this.descriptor.size) {
      throw new RangeError(
        `delta receiver: write up to ${this.#accepted + length} past the package size ${this.descriptor.size}`,
      );
    }
    const chunk = this.#viewOf(bytes, length);
    this.#ports.md5.write(chunk);
    this.#ports.sha256.write(chunk);
    this.#accepted += length;
    let pos = 0;
    if (this.#state === S_HEADER) {
      const have = this.#accepted - length;
      const n = Math.min(length, DELTA_HEADER_SIZE - have);
      this.#header.set(n === length ? chunk : chunk.subarray(0, n), have);
      pos = n;
      if (have + n === DELTA_HEADER_SIZE) this.#headerDone();
    }
    if (pos === length) return;
    if (this.#state !== S_RUN || this.#stashEnd > 0) {
      this.#toStash(bytes, pos, length);
      return;
    }
    if (this.#plain) this.#target!.write(bytes, length);
    else this.#push(bytes, pos, length);
  }

  /** A whole image: the slot receiver's own erases, then what waits in the stash (the first bytes). */
  #plainStep(upTo: number, stashed: boolean): boolean {
    const target = this.#target!;
    const need = stashed ? target.received + this.#stashEnd : upTo;
    if (target.needsErase(need)) return target.eraseStep(need);
    if (!stashed) return false;
    const end = this.#stashEnd;
    this.#stashEnd = 0;
    target.write(this.#stash, end);
    return true;
  }

  /** bytes[0..length) without a new view per block: the engine alternates two buffers with the same lengths. */
  #viewOf(bytes: Uint8Array, length: number): Uint8Array {
    if (length === bytes.length) return bytes;
    const slot = this.#viewBuffers[0] === bytes ? 0 : this.#viewBuffers[1] === bytes ? 1 : this.#nextView;
    let view = this.#views[slot];
    if (this.#viewBuffers[slot] !== bytes || view === undefined || view.length !== length) {
      view = bytes.subarray(0, length);
      this.#viewBuffers[slot] = bytes;
      this.#views[slot] = view;
      this.#nextView = slot ^ 1;
    }
    return view;
  }

  #toStash(bytes: Uint8Array, start: number, end: number): void {
    const n = end - start;
    if (this.#stashEnd + n > this.#stash.length) {
      throw new FlashError("delta receiver: the next output sector is not erased yet", "unerased");
    }
    this.#stash.set(start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end), this.#stashEnd);
    this.#stashEnd += n;
  }

  /** Applies package bytes chunk[start..end) while the output sectors they reach are erased; stashes the rest. */
  #push(chunk: Uint8Array, start: number, end: number): void {
    const applier = this.#applier!;
    const target = this.#target!;
    let pos = start;
    while (pos < end) {
      if (target.needsErase(this.#outputNeed(0))) {
        this.#toStash(chunk, pos, end);
        return;
      }
      const status = applier.push(chunk, pos, end);
      pos += applier.consumed;
      if (status === DELTA_FAILED) {
        if (this.#sinkError !== undefined) {
          const error = this.#sinkError;
          this.#state = S_FAILED;
          throw error;
        }
        throw this.#refuse();
      }
      if (status === DELTA_BOUNDARY) {
        // RAM only now (a payload may be streaming in); persisted by the next eraseStep().
        if (applier.save(this.#checkpoint) === DELTA_STATE_SIZE) this.#checkpointDue = true;
      }
      if (status === DELTA_DONE) break;
    }
  }

  /** The header is whole: check what can be checked without flash work; the rest waits for eraseStep(). */
  #headerDone(): void {
    if (getU32(this.#header, 0) !== DELTA_MAGIC) {
      // Not our delta layout: a differential plan whose package is the whole image (installed as such).
      this.#plain = true;
      this.#toStash(this.#header, 0, DELTA_HEADER_SIZE);
      this.#state = S_START;
      return;
    }
    const parsed = parseDeltaHeader(this.#header);
    if (!parsed.ok) throw this.#fail(parsed.code, parsed.message);
    const header = parsed.header;
    this.#parsed = header;
    const ports = this.#ports;
    if (!ports.readRunning)
      throw this.#fail("unsupported", "this device's boot control cannot read the running image");
    if (DELTA_HEADER_SIZE + header.patchSize !== this.descriptor.size) {
      throw this.#fail(
        "header",
        `the delta header declares ${DELTA_HEADER_SIZE + header.patchSize} bytes, the download has ${this.descriptor.size}`,
      );
    }
    if (
      header.sourceSize > ports.runningSlotLength ||
      (ports.runningSize > 0 && header.sourceSize !== ports.runningSize)
    ) {
      throw this.#fail(
        "wrong-base",
        `the delta is for a ${header.sourceSize}-byte image, the running one has ${ports.runningSize} bytes`,
      );
    }
    this.#state = S_CHECK;
    this.#hashed = 0;
    ports.work.reset();
  }

  /** One step of hashing the running image against the header's source SHA-256 (nothing erased before it passes). */
  #checkStep(): void {
    const header = this.#parsed!;
    const work = this.#ports.work;
    const scratch = this.#scratch;
    const stop = Math.min(header.sourceSize, this.#hashed + HASH_STEP);
    while (this.#hashed < stop) {
      const n = Math.min(scratch.length, stop - this.#hashed);
      const view = n === scratch.length ? scratch : scratch.subarray(0, n);
      this.#ports.readRunning!(this.#hashed, view);
      work.write(view);
      this.#hashed += n;
    }
    if (this.#hashed < header.sourceSize) return;
    this.#sourceSha.set(work.close());
    let same = true;
    for (let i = 0; i < 32; i++) if (this.#sourceSha[i] !== header.sourceSha256[i]) same = false;
    if (!same) {
      throw this.#fail(
        "wrong-base",
        `the running image's SHA-256 ${toHex(this.#sourceSha)} is not the delta's source ${toHex(header.sourceSha256)}`,
      );
    }
    this.#state = S_START;
  }

  /** Starts the target's receive (or reuses a partial one of the same target) and feeds the header to the applier. */
  #start(): void {
    const ports = this.#ports;
    if (this.#plain) {
      const partial = ports.partial;
      this.#target =
        partial && sameImage(partial.descriptor, this.descriptor) && partial.received === 0
          ? partial
          : ports.startTarget(this.descriptor);
      this.#state = S_RUN;
      return;
    }
    const header = this.#parsed!;
    const wanted = targetDescriptor(this.descriptor, header);
    const partial = ports.partial;
    if (partial && sameTarget(partial.descriptor, this.descriptor, header)) {
      this.#target = partial;
      ports.onLog?.(
        `delta: ${partial.received} bytes of ${this.descriptor.version} verified in the slot are compared, not rewritten`,
      );
    } else {
      ports.onTarget?.(wanted);
      this.#target = ports.startTarget(wanted);
    }
    const applier = this.#newApplier(header);
    applier.push(this.#header, 0, DELTA_HEADER_SIZE);
    if (applier.failure) throw this.#refuseWith(applier);
    this.#applier = applier;
    this.#state = S_RUN;
  }

  #newApplier(header: DeltaHeader): DeltaPackageApplier {
    return new DeltaPackageApplier({
      readSource: this.#readSource,
      write: this.#write,
      sha256: this.#ports.work,
      sourceSize: header.sourceSize,
      sourceSha256: this.#sourceSha,
      expectTarget: { size: header.targetSize, sha256: header.targetSha256 },
      boundary: this.#ports.blockLength,
    });
  }

  /** The applier's output: compared with a verified prefix left by a reset, written to the slot after it. */
  #writeOutput(bytes: Uint8Array, length: number): void {
    const target = this.#target!;
    const at = this.#applier!.outputOffset - length;
    let skip = 0;
    if (at < target.received) {
      skip = Math.min(length, target.received - at);
      const scratch = this.#scratch;
      for (let done = 0; done < skip;) {
        const n = Math.min(scratch.length, skip - done);
        const view = n === scratch.length ? scratch : scratch.subarray(0, n);
        target.readBack(at + done, view);
        for (let i = 0; i < n; i++) {
          if (view[i] !== bytes[done + i]) {
            throw new DeltaRefused(
              "corrupt",
              `the slot's verified bytes differ from the patch output at ${at + done + i}`,
            );
          }
        }
        done += n;
      }
    }
    if (skip === length) return;
    if (skip === 0) target.write(bytes, length);
    else target.write(bytes.subarray(skip, length), length - skip);
  }

  readBack(offset: number, into: Uint8Array): void {
    if (!this.#target) throw new RangeError("delta receiver: no image in the slot yet");
    if (this.#plain && this.#stashEnd > 0)
      throw new RangeError("delta receiver: bytes still wait to be written");
    this.#target.readBack(offset, into);
  }

  finish(): VerifyResult {
    this.#check();
    this.#finished = true;
    const md5 = toHex(this.#ports.md5.close());
    const sha256 = toHex(this.#ports.sha256.close());
    const d = this.descriptor;
    let reason = this.incomplete() === "" ? "" : "delta";
    if (reason === "" && this.#accepted !== d.size) reason = "size";
    // After a resume from a checkpoint the digests saw only the rest of the package: the image's SHA-256 decides.
    else if (reason === "" && this.#resumedAt > this.#prefixHashed) {
      this.#ports.onLog?.(
        `package digests not compared: the receive resumed at package byte ${this.#resumedAt}; the image's SHA-256 decides`,
      );
    } else if (reason === "") {
      if (md5 !== d.md5.toLowerCase()) reason = "md5";
      else if (d.sha256 !== "" && sha256 !== d.sha256.toLowerCase()) reason = "sha256";
    }
    if (reason !== "") return { ok: false, reason, md5, sha256 };
    if (this.#plain) return this.#target!.finish();
    const image = this.#target!.finish();
    if (!image.ok) return { ok: false, reason: `image ${image.reason}`, md5, sha256 };
    this.#ports.onLog?.(
      `delta: built ${this.#parsed!.targetSize} bytes, SHA-256 ${image.sha256}, from a ${d.size}-byte package (MD5 ${md5})`,
    );
    // What is activated is the image the patch built: its digests name it from here on.
    return { ok: true, reason: "", md5: image.md5, sha256: image.sha256 };
  }

  #check(): void {
    if (this.#refusal) throw this.#refusal;
    if (this.#state === S_FAILED) throw new Error("delta receiver: unusable after a flash error");
    if (this.#finished) throw new Error("delta receiver: already finished");
  }

  #refuse(): DeltaRefused {
    return this.#refuseWith(this.#applier!);
  }

  /** Called only once the applier failed (DELTA_FAILED, or finish() short of DELTA_DONE): its failure is set. */
  #refuseWith(applier: DeltaPackageApplier): DeltaRefused {
    const failure = applier.failure!;
    return this.#fail(failure.code, failure.message);
  }

  #fail(code: string, message: string): DeltaRefused {
    this.#refusal ??= new DeltaRefused(code, `delta package refused (${code}): ${message}`);
    this.#state = S_FAILED;
    return this.#refusal;
  }
}

/** The target image a delta builds: its MD5 is unknown until built, so its SHA-256 decides. */
export function targetDescriptor(pkg: ImageDescriptor, header: DeltaHeader): ImageDescriptor {
  return {
    component: pkg.component,
    version: pkg.version,
    size: header.targetSize,
    md5: UNKNOWN_MD5,
    sha256: toHex(header.targetSha256),
    crc: 0,
  };
}

function sameTarget(partial: ImageDescriptor, pkg: ImageDescriptor, header: DeltaHeader): boolean {
  const wanted = targetDescriptor(pkg, header);
  return (
    partial.component === wanted.component &&
    partial.version === wanted.version &&
    partial.size === wanted.size &&
    partial.md5 === wanted.md5 &&
    partial.sha256 === wanted.sha256
  );
}

function sameImage(a: ImageDescriptor, b: ImageDescriptor): boolean {
  return (
    a.component === b.component &&
    a.version === b.version &&
    a.size === b.size &&
    a.md5.toLowerCase() === b.md5.toLowerCase() &&
    a.sha256.toLowerCase() === b.sha256.toLowerCase()
  );
}
