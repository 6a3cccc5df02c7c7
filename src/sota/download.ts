// Download and resume: read one piece window (10703) block by block into the image receiver, erasing only
// while the line is quiet, then move the module to the next piece or hand over to the finish.

import { FlashError } from "../../hal/flash.js";
import type { Digest } from "../../hal/digest.js";
import { DeltaReceiver, DeltaRefused } from "../image/delta-receiver.js";
import type { ImageDescriptor, ImageReceiver, VerifyResult } from "../image/types.js";
import type { OtaReadResult } from "../quecthing/client.js";
import { isUpdateFailed } from "../quecthing/events.js";
import { OtaAborted } from "./context.js";
import type { EngineContext } from "./context.js";
import { countFailure, failOta, finish } from "./finish.js";
import type { OtaRecord } from "./ota-record.js";
import { reportVersion, runningVersion } from "./report.js";

const READ_ATTEMPTS = 8;
/** The MD5 of a receive started before the 10701 brought the real one: matches no image (decision 82). */
export const PROVISIONAL_MD5 = "00000000000000000000000000000000";
/** Typical 4 KiB NOR sector erase (W25Q/GD25 datasheets), until one is measured here. */
const ERASE_GUESS_MS = 45;
/** At most this much of the first piece is erased before the confirm: its length is the module's free flash, unknown yet. */
const PRE_CONFIRM_BYTES = 64 * 1024;
/** Erasing before a confirm or a QIOTUPDATE=2 stops after this long, far inside any module timer (decision 82). */
const QUIET_ERASE_BUDGET_MS = 2000;

/** Per engine: when the module began fetching the current piece, how long the last fetch took, the slowest erase. */
interface Pacing {
  fetchFrom: number;
  lastFetchMs: number;
  eraseMs: number;
}
const pacings = new WeakMap<EngineContext, Pacing>();

function pacing(ctx: EngineContext): Pacing {
  let p = pacings.get(ctx);
  if (!p) {
    p = { fetchFrom: -1, lastFetchMs: -1, eraseMs: 0 };
    pacings.set(ctx, p);
  }
  return p;
}

/** The module starts fetching a piece now: the first of a file (its 10701 came, pace unknown) or the next one. */
export function noteFetchStart(ctx: EngineContext, firstOfFile: boolean): void {
  const p = pacing(ctx);
  p.fetchFrom = ctx.clock.now();
  if (firstOfFile) p.lastFetchMs = -1;
}

/** One erase step, timed: the slowest erase seen sizes the erases done on a quiet line. */
function timedErase(ctx: EngineContext, receiver: ImageReceiver, upTo: number): boolean {
  const p = pacing(ctx);
  const from = ctx.clock.now();
  const erased = receiver.eraseStep(upTo);
  if (erased) p.eraseMs = Math.max(p.eraseMs, ctx.clock.now() - from);
  return erased;
}

/** Reads the piece [pieceStart, pieceStart + pieceLength) of a `fileSize`-byte package. */
export async function handlePiece(
  ctx: EngineContext,
  block: Uint8Array,
  fileSize: number,
  pieceStart: number,
  pieceLength: number,
): Promise<"next-piece" | "done" | "restart"> {
  const { boot, records, progress, session } = ctx;
  const record = bindFromJournal(ctx, fileSize);
  if (!record || record.size !== fileSize || record.md5 === "") {
    // No digests bound to this size: never guess. Reporting the running version ends the OTA (10706).
    progress.log(`piece of a ${fileSize}-byte file without matching download information`);
    records.clear();
    await reportVersion(ctx, runningVersion(ctx));
    progress.emit("failed", "download information missing or for another file: aborted");
    throw new OtaAborted();
  }
  const pieceEnd = pieceStart + pieceLength;
  const pace = pacing(ctx);
  if (pace.fetchFrom >= 0) {
    pace.lastFetchMs = ctx.clock.now() - pace.fetchFrom;
    pace.fetchFrom = -1;
  }
  if (pieceStart === session.advancedFrom) {
    // A late or repeated 10703 for the piece we already moved past: a second QIOTUPDATE=2 would skip one.
    progress.log(`10703 for the piece at ${pieceStart} again: ignored`);
    return "next-piece";
  }
  // One write per piece makes the window atomic with the stage: a reset inside it resumes reading at once,
  // and "an OTA is in progress" holds the version report back (docs/protocol.md §9.9).
  records.update({ stage: "downloading", pieceStart, pieceLength, advancing: false });
  let receiver: ImageReceiver;
  try {
    receiver = receiverFor(ctx, record);
    if (receiver.received < pieceStart) {
      // A reset lost part of the previous piece (the journal keeps whole sectors): the module must start
      // over, and the verified part stays. Clearing the record first keeps the 10706 from counting a failure.
      records.clear();
      await reportVersion(ctx, runningVersion(ctx));
      progress.emit(
        "failed",
        `piece at ${pieceStart}, but ${receiver.received} bytes verified here: starting over later`,
      );
      throw new OtaAborted();
    }
    progress.emit("reading", `piece ${pieceStart}+${pieceLength}`);
    progress.startRate();
    if (receiver instanceof DeltaReceiver && receiver.prefixPending > 0 && pieceStart === 0) {
      // The digests cannot be saved with the checkpoint: the package before it is read again for them only.
      progress.log(`delta: the package's first ${receiver.prefixPending} bytes read again for its digests`);
      await readWindow(ctx, block, new PrefixHasher(receiver), receiver.prefixPending);
    }
    await readWindow(ctx, block, receiver, pieceEnd);
  } catch (error) {
    if (error instanceof DeltaRefused) return refuseDelta(ctx, error);
    // Flash or bounds trouble is this image's end, not the engine's: the running image is untouched.
    if (!(error instanceof FlashError || error instanceof RangeError)) throw error;
    boot.abandonReceive(`flash: ${error.message}`);
    session.receiver = undefined;
    countFailure(ctx, record);
    records.clear();
    await reportVersion(ctx, runningVersion(ctx));
    progress.emit("failed", `writing the image failed: ${error.message}`);
    throw new OtaAborted();
  }

  if (pieceEnd < fileSize) {
    // Moving the window with QIOTUPDATE=2 makes reads stale until the next 10703 (docs/protocol.md §9a): no reads until then.
    session.advancedFrom = pieceStart;
    eraseBeforeNext(ctx, receiver, pieceEnd, Math.min(fileSize, pieceEnd + pieceLength));
    // Written before the command: a reset after it must never read the moved window before its 10703.
    records.update({ advancing: true });
    const final = await ctx.client.nextPiece();
    if (final !== "OK") progress.log(`QIOTUPDATE=2 answered ${final}`);
    else noteFetchStart(ctx, false);
    progress.emit("downloading", "next piece");
    return "next-piece";
  }
  return finish(ctx, receiver, block);
}

/**
 * Erase ahead (docs/protocol.md §13, decisions 57 and 58): one sector of the image, while the module downloads a piece
 * (after its 10701 or 10702, or after QIOTUPDATE=2, until the 10703). Only on a quiet line with no event waiting,
 * and the port is read right after, so at most one erase's worth of bytes meets the receive FIFO. True if it erased.
 */
export function eraseAhead(ctx: EngineContext): boolean {
  const record = ctx.records.load();
  // Stage "downloading" comes with the 10701 (or the 10702 that replaces it): no 10701 can be on its way now.
  if (!record || record.stage !== "downloading" || record.md5 === "" || record.size <= 0) return false;
  if (!ctx.client.quiet) return false;
  // Bytes already in the port may be the 10703: seen before an erase, not after it.
  ctx.client.poll();
  if (ctx.client.eventsWaiting || eraseAheadAt(ctx) > 0) return false;
  try {
    const receiver = receiverFor(ctx, record);
    if (!receiver.needsErase(record.size)) return false;
    // Safe: the receiver erases only blocks no journal entry covers, each once per receive.
    timedErase(ctx, receiver, record.size);
  } catch (error) {
    // The piece's own path meets the same trouble and reports it; erasing ahead only stops.
    if (error instanceof FlashError || error instanceof RangeError || error instanceof DeltaRefused)
      return false;
    throw error;
  }
  ctx.client.poll();
  return true;
}

/**
 * When erasing ahead may go on, or 0 if it may now (docs/protocol.md §13, decision 82): no erase is started that would
 * still run when the next piece is expected (the last fetch's time after this fetch began), until one erase time after
 * that, so a piece that comes faster than an erase meets no erase in its way. A file's first piece: no estimate yet.
 */
export function eraseAheadAt(ctx: EngineContext): number {
  const p = pacing(ctx);
  if (p.fetchFrom < 0 || p.lastFetchMs < 0) return 0;
  const eraseMs = p.eraseMs > 0 ? p.eraseMs : ERASE_GUESS_MS;
  const now = ctx.clock.now();
  const expected = p.fetchFrom + p.lastFetchMs;
  const from = expected - eraseMs;
  const until = expected + eraseMs;
  return now + eraseMs > from && now < until ? until : 0;
}

/**
 * Before QIOTUPDATE=2 (docs/protocol.md §13, decision 82): the line is quiet, the module holds the read piece and
 * fetches nothing. Erases here the part of the next piece [from, to) that the module's fetch would not hide, judged by
 * how long the last fetch took, so paced pieces keep their erases behind the module's download.
 */
function eraseBeforeNext(ctx: EngineContext, receiver: ImageReceiver, from: number, to: number): void {
  const p = pacing(ctx);
  if (p.lastFetchMs < 0 || !receiver.needsErase(to)) return;
  const eraseMs = p.eraseMs > 0 ? p.eraseMs : ERASE_GUESS_MS;
  const block = ctx.boot.eraseBlockLength ?? 4096;
  // The last piece also needs the seal block when it lies past the image (one more erase at most).
  const sectors = Math.ceil((to - from) / block) + (to >= receiver.descriptor.size ? 1 : 0);
  // The fetch hides what fits in it, less a turn of the loop per erase; the rest is erased now.
  const hidden = Math.floor(p.lastFetchMs / (eraseMs + 1));
  let now = Math.max(0, sectors - hidden);
  if (now === 0) return;
  const started = ctx.clock.now();
  try {
    while (now > 0 && ctx.clock.now() - started < QUIET_ERASE_BUDGET_MS && timedErase(ctx, receiver, to)) {
      now--;
      // Read the port after each erase: every erase starts with an empty FIFO (decision 61).
      ctx.client.poll();
      ctx.client.check();
    }
  } catch (error) {
    // The next piece's reads meet the same trouble and report it; erasing early only stops.
    if (!(error instanceof FlashError || error instanceof RangeError)) throw error;
  }
}

/**
 * Before the confirm (docs/protocol.md §13, decision 82): the module waits for our answer and fetches nothing, so the
 * first piece's sectors are erased now where a piece would come faster than its erase; the receive is started under
 * a provisional descriptor and bound to the 10701's digests when they come. Only a whole image into an empty slot.
 */
export function eraseBeforeConfirm(
  ctx: EngineContext,
  offer: { component: string; sourceVersion: string; targetVersion: string; space: number },
): void {
  const { boot, client, session } = ctx;
  if (ctx.set || !boot.rebindReceive || offer.sourceVersion !== "" || offer.space <= 0) return;
  if (offer.component !== ctx.config.component || offer.space > ctx.config.slotSize) return;
  // A receive of an earlier offer is kept: a partial image may resume from this plan's 10701, and a provisional
  // receive of the same plan goes on where it stopped (a re-offer never erases a sector twice).
  const current = session.receiver;
  const same =
    current !== undefined &&
    current.received === 0 &&
    current.descriptor.md5 === PROVISIONAL_MD5 &&
    current.descriptor.component === offer.component &&
    current.descriptor.version === offer.targetVersion &&
    current.descriptor.size === offer.space;
  if (current && !same) return;
  const block = boot.eraseBlockLength ?? 4096;
  const p = pacing(ctx);
  const eraseMs = p.eraseMs > 0 ? p.eraseMs : ERASE_GUESS_MS;
  // Worth it only where an erase costs more than a tenth of reading its sector at this baud rate.
  if (eraseMs <= client.lineTimeMs(block) / 10) return;
  const upTo = Math.min(offer.space, PRE_CONFIRM_BYTES);
  const started = ctx.clock.now();
  try {
    const receiver =
      current ??
      boot.startReceive({
        component: offer.component,
        version: offer.targetVersion,
        size: offer.space,
        md5: PROVISIONAL_MD5,
        sha256: "",
        crc: 0,
      });
    session.receiver = receiver;
    while (ctx.clock.now() - started < QUIET_ERASE_BUDGET_MS && timedErase(ctx, receiver, upTo)) {
      // Read the port after each erase: every erase starts with an empty FIFO (decision 61).
      client.poll();
      client.check();
    }
    if (ctx.clock.now() > started)
      ctx.progress.log(`erased before the confirm: ${ctx.clock.now() - started} ms`);
  } catch (error) {
    // The download's own path meets the same trouble and reports it; erasing early only stops.
    if (!(error instanceof FlashError || error instanceof RangeError)) throw error;
  }
}

function descriptorOf(record: OtaRecord): ImageDescriptor {
  return {
    component: record.component,
    version: record.targetVersion,
    size: record.size,
    md5: record.md5,
    sha256: record.sha256,
    crc: record.crc,
  };
}

/** The OTA record, completed from the resume journal when the module skipped 10701 for the same plan. */
function bindFromJournal(ctx: EngineContext, fileSize: number): OtaRecord | undefined {
  const record = ctx.records.load();
  const partial = ctx.session.receiver?.descriptor;
  if (
    record &&
    record.md5 === "" &&
    partial &&
    partial.size === fileSize &&
    partial.md5 !== PROVISIONAL_MD5
  ) {
    if (partial.component === record.component && partial.version === record.targetVersion) {
      ctx.records.update({
        size: partial.size,
        md5: partial.md5,
        sha256: partial.sha256,
        crc: partial.crc,
        stage: "downloading",
      });
    }
  }
  return ctx.records.load();
}

function receiverFor(ctx: EngineContext, record: OtaRecord): ImageReceiver {
  const descriptor = descriptorOf(record);
  const current = ctx.session.receiver;
  if (current && sameImage(current.descriptor, descriptor)) return current;
  if (
    current &&
    ctx.boot.rebindReceive &&
    record.sourceVersion === "" &&
    current.received === 0 &&
    current.descriptor.md5 === PROVISIONAL_MD5 &&
    current.descriptor.component === descriptor.component
  ) {
    try {
      // Erased before the confirm, nothing written: the same receive now carries the 10701's digests.
      ctx.session.receiver = ctx.boot.rebindReceive(current, descriptor);
      return ctx.session.receiver;
    } catch {
      // Not the boot control's current receive any more: a fresh one erases again.
    }
  }
  if (record.sourceVersion !== "") {
    const delta = deltaReceiverFor(ctx, descriptor, current);
    if (delta) {
      ctx.session.receiver = delta;
      return delta;
    }
  }
  if (current)
    ctx.progress.log(`partial image ${current.descriptor.version} replaced by ${descriptor.version}`);
  ctx.session.receiver = ctx.boot.startReceive(descriptor);
  return ctx.session.receiver;
}

/** The package digests and the applier's SHA-256, made once per engine (not per download). */
const deltaDigests = new WeakMap<EngineContext, { md5: Digest; sha256: Digest; work: Digest }>();

/**
 * A differential plan's package (docs/delta-packages.md): applied as it streams in, from the checkpoint when one
 * matches the partial image left by a reset. Undefined when this device cannot read its running image.
 */
function deltaReceiverFor(
  ctx: EngineContext,
  descriptor: ImageDescriptor,
  partial: ImageReceiver | undefined,
): DeltaReceiver | undefined {
  const { boot, digests, records, progress, config } = ctx;
  // Without a reader of the running image a delta is refused at its header; a whole image still installs.
  const readRunning = boot.readRunning?.bind(boot);
  if (!digests) {
    progress.log("differential package taken as a whole image: no digests for delta packages here");
    return undefined;
  }
  let own = deltaDigests.get(ctx);
  if (!own) {
    own = { md5: digests.create("MD5"), sha256: digests.create("SHA256"), work: digests.create("SHA256") };
    deltaDigests.set(ctx, own);
  }
  const ports = {
    readRunning,
    runningSlotLength: boot.runningSlotLength ?? boot.report.running.size,
    runningSize: boot.report.running.size,
    startTarget: (target: ImageDescriptor) => boot.startReceive(target),
    partial: partial instanceof DeltaReceiver ? undefined : partial,
    ...own,
    blockLength: boot.eraseBlockLength ?? 4096,
    maxWrite: config.maxReadLength,
    saveCheckpoint: (state: Uint8Array) => records.saveDeltaCheckpoint(descriptor.md5, state),
    // Before the slot record: a reset after the verdict finds the verified target by this digest.
    onTarget: (target: ImageDescriptor) => records.update({ imageSha256: target.sha256 }),
    onLog: (message: string) => progress.log(message),
  };
  const saved = ports.partial ? records.deltaCheckpoint(descriptor.md5) : undefined;
  const resumed = saved ? DeltaReceiver.resume(ports, descriptor, saved) : undefined;
  if (resumed) {
    progress.log(
      `delta resumes at package byte ${resumed.received} (image byte ${resumed.outputOffset} verified in the slot)`,
    );
    return resumed;
  }
  return new DeltaReceiver(ports, descriptor);
}

/** Feeds the package bytes before a delta's checkpoint to its digests only (docs/protocol.md §13, decision 70). */
class PrefixHasher implements ImageReceiver {
  readonly #delta: DeltaReceiver;
  #received = 0;
  constructor(delta: DeltaReceiver) {
    this.#delta = delta;
  }
  get descriptor(): ImageDescriptor {
    return this.#delta.descriptor;
  }
  get received(): number {
    return this.#received;
  }
  needsErase(): boolean {
    return false;
  }
  eraseStep(): boolean {
    return false;
  }
  write(bytes: Uint8Array, length: number): void {
    this.#delta.hashPrefix(bytes, length);
    this.#received += length;
  }
  readBack(): void {
    throw new RangeError("prefix hasher: nothing in flash");
  }
  finish(): VerifyResult {
    throw new Error("prefix hasher: not an image");
  }
}

/** A delta package this device will not apply: the OTA ends with the reason, the running image untouched. */
async function refuseDelta(ctx: EngineContext, error: DeltaRefused): Promise<never> {
  const { boot, records, progress } = ctx;
  boot.abandonReceive(error.message);
  ctx.session.receiver = undefined;
  const record = records.load();
  if (record) countFailure(ctx, record);
  // Reporting the running version ends the module's OTA (docs/protocol.md §9.9); the record goes first.
  records.clear();
  records.clearDeltaCheckpoint();
  await reportVersion(ctx, runningVersion(ctx));
  progress.emit("failed", `${error.message}; keeping ${runningVersion(ctx)}`);
  throw new OtaAborted();
}

/**
 * Reads the window in two halves of `block`, one read ahead of the flash: read N+1's command goes out before read N's
 * bytes are written, so the write overlaps the command's and the reply's way on the line (docs/protocol.md §13,
 * decision 62). Driven by the transport's callback, not a Promise per read: nothing is allocated per block.
 */
async function readWindow(
  ctx: EngineContext,
  block: Uint8Array,
  receiver: ImageReceiver,
  pieceEnd: number,
): Promise<void> {
  const half = block.length >> 1;
  if (ctx.session.readLength === 0) ctx.session.readLength = await ctx.client.readLimit(half);
  await new WindowReader(ctx, block, receiver, pieceEnd).run();
}

/** One piece's reads: a small state machine stepped by each read's completion. */
class WindowReader {
  readonly #ctx: EngineContext;
  readonly #receiver: ImageReceiver;
  readonly #pieceEnd: number;
  /** Two views per piece, not per block. */
  readonly #halves: readonly [Uint8Array, Uint8Array];
  readonly #onReply = (reply: OtaReadResult): void => this.#afterRead(reply);
  #next: 0 | 1 = 0;
  /** Bytes of the last good read, in halves[next ^ 1], not yet written. */
  #pending = 0;
  #attempts = 0;
  #offset = 0;
  #want = 0;
  #finished = false;
  #resolve: () => void = () => undefined;
  #reject: (error: unknown) => void = () => undefined;

  constructor(ctx: EngineContext, block: Uint8Array, receiver: ImageReceiver, pieceEnd: number) {
    this.#ctx = ctx;
    this.#receiver = receiver;
    this.#pieceEnd = pieceEnd;
    const half = block.length >> 1;
    this.#halves = [block.subarray(0, half), block.subarray(half)];
  }

  run(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
      this.#step();
    });
  }

  #step(): void {
    const { client, session } = this.#ctx;
    try {
      const offset = this.#receiver.received + this.#pending;
      if (offset >= this.#pieceEnd) {
        this.#flush();
        // No read in flight: what the last write left for flash work (a delta's bytes waiting for an erased
        // sector, its checkpoint) is done now, so the piece ends with everything received applied.
        while (this.#receiver.needsErase(this.#pieceEnd) && this.#receiver.eraseStep(this.#pieceEnd)) {
          client.poll();
          client.check();
        }
        this.#finished = true;
        this.#resolve();
        return;
      }
      const want = Math.min(session.readLength, this.#pieceEnd - offset);
      // Flash work only while the line is quiet: erase what this read needs (what erasing ahead left) before
      // asking for it, reading the port after each erase so no two erases' worth of bytes meet the receive FIFO.
      while (timedErase(this.#ctx, this.#receiver, offset + want)) {
        client.poll();
        client.check();
      }
      this.#offset = offset;
      this.#want = want;
      client.readBlockThen(offset, want, this.#halves[this.#next], this.#onReply);
      // The command is on the line now: a write (no erase) while it travels and the reply starts costs no byte.
      this.#flush();
    } catch (error) {
      this.#fail(error);
    }
  }

  #flush(): void {
    const ready = this.#pending;
    this.#pending = 0;
    if (ready > 0) writeBlock(this.#ctx, this.#receiver, this.#halves[this.#next ^ 1]!, ready);
  }

  #afterRead(reply: OtaReadResult): void {
    if (this.#finished) return;
    const ctx = this.#ctx;
    const { client, session, progress } = ctx;
    try {
      client.check();
      // Between reads: a 10706 ends this piece. A lost connection does not: the piece is in module flash already.
      if (client.takeEvent(isUpdateFailed)) {
        failOta(ctx, "download interrupted: the module reported failure (10706)");
        throw new OtaAborted();
      }
      const offset = this.#offset;
      const usable = !reply.headerMismatch && !reply.framingError;
      if (reply.final === "OK" && usable && reply.length > 0 && reply.start === offset) {
        this.#pending = reply.length;
        this.#next ^= 1;
        this.#attempts = 0;
        this.#step();
        return;
      }
      const attempts = ++this.#attempts;
      const why =
        reply.final !== "OK"
          ? reply.final
          : reply.headerMismatch
            ? `header ${reply.start},${reply.length} for ${offset},${this.#want}`
            : reply.framingError
              ? "payload framing (a byte lost or doubled)"
              : "no data";
      if (attempts >= READ_ATTEMPTS) {
        // Keep the verified prefix: the module will time out (10706) or re-offer, and we resume from here.
        ctx.records.update({ stage: "stalled" });
        progress.emit(
          "failed",
          `read at ${offset} failed ${attempts} times (${why}); waiting for the next offer`,
        );
        throw new OtaAborted();
      }
      // An ERROR may mean "longer than the module's maximum" (docs/protocol.md §5): retry shorter, and keep it.
      if (reply.final === "ERROR" && session.readLength > 1)
        session.readLength = Math.max(1, session.readLength >> 1);
      progress.log(`read at ${offset} failed (${why}); attempt ${attempts + 1}`);
      client.sleep(Math.min(8000, 250 * 2 ** (attempts - 1))).then(
        () => this.#step(),
        (error: unknown) => this.#fail(error),
      );
    } catch (error) {
      this.#fail(error);
    }
  }

  #fail(error: unknown): void {
    if (this.#finished) return;
    this.#finished = true;
    try {
      // A good read is never dropped: whatever ends the piece, its bytes are written (and journaled) first.
      if (!this.#ctx.client.stopped) this.#flush();
    } catch (flashError) {
      this.#reject(flashError);
      return;
    }
    this.#reject(error);
  }
}

function writeBlock(ctx: EngineContext, receiver: ImageReceiver, bytes: Uint8Array, length: number): void {
  receiver.write(bytes, length);
  ctx.progress.emitBytes(receiver.received, length);
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
