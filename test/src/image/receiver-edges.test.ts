// SlotReceiver's edges (portable), on a context built here: exact refusal messages, readBack bounds, which receives
// count as untouched or may be rebound, the seal block across a rebind, a resume's scratch and journal, and the
// flash and digest calls themselves (no empty write, no padded write after an aligned end, the caller's buffer).
import { bytesEqual, deepEqual, equal, ok } from "../../lib/assert.js";
import { FlashError, type FlashPartition } from "../../../hal/flash.js";
import type { Digest } from "../../../hal/digest.js";
import { SimNorFlash } from "../../../hal/sim/nor-flash.js";
import type { FlashLayout, Region } from "../../../src/flash-format/layout.js";
import { planLayout } from "../../../src/flash-format/layout.js";
import { ResumeJournal } from "../../../src/image/journal.js";
import { SlotReceiver, type ReceiverContext } from "../../../src/image/receiver.js";
import type { ImageDescriptor, ImageReceiver, VerifyResult } from "../../../src/image/types.js";
import { describeImage, digests, makeImage, md5Hex, sha256Hex } from "../boot/fixtures.js";

const BLOCK = 4096;

/** A 12-block flash (16-byte writes) whose journal is block 9 and whose slot is blocks 10-11: it ends the flash. */
function world(sealBlock = -1) {
  const flash = new SimNorFlash({ size: 12 * BLOCK, blockLength: BLOCK, writeAlign: 16 });
  const planned = planLayout(flash.status());
  const layout: FlashLayout = { ...planned, journal: { offset: 9 * BLOCK, length: BLOCK } };
  const slot: Region = { offset: 10 * BLOCK, length: 2 * BLOCK };
  /** The slot's writes (the journal's are left out). */
  const writes: Uint8Array[] = [];
  const faulty = { failNext: false };
  const port: FlashPartition = {
    status: () => flash.status(),
    read: (into, offset) => flash.read(into, offset),
    eraseBlock: (first, end) => flash.eraseBlock(first, end),
    write: (bytes, offset) => {
      if (offset >= slot.offset) writes.push(bytes);
      if (faulty.failNext) {
        faulty.failNext = false;
        throw new FlashError("write failed", "io");
      }
      flash.write(bytes, offset);
    },
  };
  const hashed: Uint8Array[] = [];
  const md5 = digests.create("MD5");
  const spy: Digest = {
    write: (chunk) => {
      hashed.push(chunk);
      md5.write(chunk);
    },
    close: () => md5.close(),
    reset: () => md5.reset(),
  };
  const verdicts: VerifyResult[] = [];
  let current = true;
  const journal = new ResumeJournal(port, layout);
  const ctx = (session = 1): ReceiverContext => ({
    flash: port,
    layout,
    slot,
    session,
    journal,
    md5: spy,
    sha256: digests.create("SHA256"),
    scratch: new Uint8Array(256),
    // Longer than the slot's sectors, as a boot control's may be: an entry past the image reads 0.
    sectorCrcs: new Uint32Array(4),
    sealBlock,
    onVerdict: (result) => void verdicts.push(result),
    isCurrent: () => current,
  });
  const replace = () => {
    current = false;
    const fresh = world(sealBlock);
    return fresh;
  };
  return { flash, layout, slot, journal, writes, faulty, hashed, verdicts, ctx, replace };
}

/** Erases what `rx` needs for bytes below `upTo`, then writes image[received, upTo) in one write. */
function writeUpTo(rx: ImageReceiver, image: Uint8Array, upTo: number): void {
  while (rx.needsErase(upTo)) rx.eraseStep(upTo);
  rx.write(image.slice(rx.received, upTo), upTo - rx.received);
}

function message(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return `${(error as Error).constructor.name}: ${(error as Error).message}`;
  }
  return "no error";
}

describe("src/image/receiver edges", () => {
  it("says exactly what is missing: the journal's clear, the erase up to the bytes a write programs, the image's end", () => {
    const w = world();
    const image = makeImage(BLOCK + 100, 1);
    const rx = SlotReceiver.start(w.ctx(), describeImage(image, "2.0"));
    equal(
      message(() => rx.write(image, 32)),
      "FlashError: image receiver: the journal is not erased yet",
    );
    equal(rx.eraseStep(32), true);
    equal(
      message(() => rx.write(image, 32)),
      "FlashError: image receiver: bytes up to 32 need an erase first (erased up to 0)",
    );
    writeUpTo(rx, image, BLOCK);
    // Not the last bytes: what whole write units reach (4096 + 32); the last ones: the padded unit (4096 + 112).
    equal(
      message(() => rx.write(image.slice(BLOCK), 40)),
      "FlashError: image receiver: bytes up to 4128 need an erase first (erased up to 4096)",
    );
    equal(
      message(() => rx.write(image.slice(BLOCK), 100)),
      "FlashError: image receiver: bytes up to 4208 need an erase first (erased up to 4096)",
    );
    equal(
      message(() => rx.write(new Uint8Array(101), 101)),
      "RangeError: image receiver: write up to 4197 past the image size 4196",
    );
    writeUpTo(rx, image, image.length);
    deepEqual(rx.finish(), { ok: true, reason: "", md5: md5Hex(image), sha256: sha256Hex(image) });
  });

  it("reads back only what is on flash: not before the slot, not the tail still in RAM", () => {
    const w = world();
    const image = makeImage(BLOCK + 100, 2);
    const rx = SlotReceiver.start(w.ctx(), describeImage(image, "2.0"));
    writeUpTo(rx, image, BLOCK + 6);
    equal(rx.received, BLOCK + 6);
    const into = new Uint8Array(16);
    rx.readBack(BLOCK - 16, into);
    bytesEqual(into, image.subarray(BLOCK - 16, BLOCK));
    equal(
      message(() => rx.readBack(BLOCK - 15, into)),
      "RangeError: image receiver: read back 4081+16 past what is in flash",
    );
    equal(
      message(() => rx.readBack(-1, new Uint8Array(1))),
      "RangeError: image receiver: read back -1+1 past what is in flash",
    );
  });

  it("untouched: only a current receive with nothing written and not finished; rebind refuses the others", () => {
    const w = world();
    const image = makeImage(BLOCK + 100, 3);
    const d = describeImage(image, "2.0");
    const refusal = "Error: image receiver: only an untouched receive can be bound to another image";
    // 16 bytes: one whole write unit, nothing left in RAM.
    const written = SlotReceiver.start(w.ctx(), d);
    writeUpTo(written, image, 16);
    equal(SlotReceiver.untouched(written), false);
    equal(
      message(() => SlotReceiver.rebind(w.ctx(), d, written)),
      refusal,
    );
    const finished = SlotReceiver.start(w.ctx(), d);
    equal(SlotReceiver.untouched(finished), true);
    equal(finished.finish().reason, "size");
    equal(SlotReceiver.untouched(finished), false);
    // A write that failed on flash: nothing counted, but the receive is broken.
    const broken = SlotReceiver.start(w.ctx(), d);
    while (broken.needsErase(32)) broken.eraseStep(32);
    w.faulty.failNext = true;
    equal(
      message(() => broken.write(image, 32)),
      "FlashError: write failed",
    );
    equal(broken.received, 0);
    equal(SlotReceiver.untouched(broken), false);
    equal(
      message(() => SlotReceiver.rebind(w.ctx(), d, broken)),
      refusal,
    );
    const stranger = { descriptor: d, received: 0 } as unknown as ImageReceiver;
    equal(SlotReceiver.untouched(stranger), false);
    equal(
      message(() => SlotReceiver.rebind(w.ctx(), d, stranger)),
      refusal,
    );
  });

  it("a rebind into a context without a seal block leaves none to erase; into the same one, the seal block if still due", () => {
    const image = makeImage(100, 4);
    const d = describeImage(image, "2.0");
    const provisional: ImageDescriptor = { ...d, md5: "0".repeat(32), sha256: "" };
    // From a receive with a seal block (11) into one without: nothing past the image to erase.
    const w = world(11);
    const from = SlotReceiver.start(w.ctx(), provisional);
    const bound = SlotReceiver.rebind({ ...w.ctx(), sealBlock: -1 }, d, from);
    const steps: boolean[] = [];
    while (bound.needsErase(100)) steps.push(bound.eraseStep(100));
    deepEqual(steps, [true, true]);
    equal(w.flash.stats.erases[11], 0);
    writeUpTo(bound, image, 100);
    ok(bound.finish().ok);
    // Same seal block, not yet erased by the provisional receive: the bound one erases it (and says so).
    const w2 = world(11);
    const from2 = SlotReceiver.start(w2.ctx(), provisional);
    const bound2 = SlotReceiver.rebind(w2.ctx(), d, from2);
    const steps2: boolean[] = [];
    while (bound2.needsErase(100)) steps2.push(bound2.eraseStep(100));
    deepEqual(steps2, [true, true, true]);
    equal(w2.flash.stats.erases[11], 1);
    equal(bound2.eraseStep(100), false);
    // From a receive without a seal block (a larger provisional size) into one with it: the seal block is due.
    const w3 = world(-1);
    const from3 = SlotReceiver.start(w3.ctx(), provisional);
    const bound3 = SlotReceiver.rebind({ ...w3.ctx(), sealBlock: 11 }, d, from3);
    const steps3: boolean[] = [];
    while (bound3.needsErase(100)) steps3.push(bound3.eraseStep(100));
    deepEqual(steps3, [true, true, true]);
    equal(w3.flash.stats.erases[11], 1);
  });

  it("a resume after a reset: verified sectors re-read through the scratch; nothing to erase below what it holds", () => {
    // The image fills the slot, which ends the flash: a read past a sector's end would fail.
    const w = world();
    const image = makeImage(2 * BLOCK, 5);
    const d = describeImage(image, "2.0");
    const rx = SlotReceiver.start(w.ctx(), d);
    writeUpTo(rx, image, BLOCK);
    writeUpTo(rx, image, 2 * BLOCK);
    w.hashed.length = 0;
    const resumed = SlotReceiver.resume(w.ctx(), d);
    equal(resumed.received, 2 * BLOCK);
    equal(w.journal.needsErase, false);
    // 32 reads of 256 bytes, each streamed as the scratch itself.
    equal(w.hashed.length, 32);
    equal(new Set(w.hashed).size, 1);
    deepEqual(resumed.finish(), { ok: true, reason: "", md5: md5Hex(image), sha256: sha256Hex(image) });
    // A shorter image (its second sector partial) whose sectors are all journaled: the journal stays as it is.
    const w2 = world();
    const short = makeImage(BLOCK + 100, 6);
    const d2 = describeImage(short, "2.0");
    const rx2 = SlotReceiver.start(w2.ctx(), d2);
    writeUpTo(rx2, short, short.length);
    const again = SlotReceiver.resume(w2.ctx(), d2);
    equal(again.received, short.length);
    equal(w2.journal.needsErase, false);
    ok(again.finish().ok);
  });

  it("after a resume whose journal needs a clear, bytes it holds need no erase and get none", () => {
    const w = world();
    const image = makeImage(2 * BLOCK, 7);
    const d = describeImage(image, "2.0");
    const rx = SlotReceiver.start(w.ctx(), d);
    writeUpTo(rx, image, 2 * BLOCK);
    // Sector 1's bytes no longer match its entry: the prefix is sector 0, the journal is cleared before reuse.
    w.flash.write(new Uint8Array(16), w.slot.offset + BLOCK);
    const resumed = SlotReceiver.resume(w.ctx(), d);
    equal(resumed.received, BLOCK);
    equal(w.journal.needsErase, true);
    const erases = w.flash.stats.eraseCount;
    equal(resumed.needsErase(BLOCK), false);
    equal(resumed.eraseStep(BLOCK), false);
    equal(w.flash.stats.eraseCount, erases);
    equal(resumed.needsErase(BLOCK + 1), true);
  });

  it("calls the flash only with bytes: nothing for a short write, no padded unit after an aligned end", () => {
    const w = world();
    const image = makeImage(64, 8);
    const rx = SlotReceiver.start(w.ctx(), describeImage(image, "2.0"));
    while (rx.needsErase(64)) rx.eraseStep(64);
    rx.write(image.slice(0, 5), 5);
    equal(w.writes.length, 0);
    const rest = image.slice(5);
    rx.write(rest, 59);
    // The 16-byte unit completed from RAM, then 48 bytes of the caller's buffer: two writes, none after them.
    deepEqual(
      w.writes.map((b) => b.length),
      [16, 48],
    );
    equal(w.writes[1]!.buffer, rest.buffer);
    ok(rx.finish().ok);
  });

  it("hands the flash and the digests the caller's buffer when whole, and a view per buffer otherwise", () => {
    const w = world();
    const image = makeImage(4 * 32 + 64, 9);
    const rx = SlotReceiver.start(w.ctx(), describeImage(image, "2.0"));
    while (rx.needsErase(image.length)) rx.eraseStep(image.length);
    const a = new Uint8Array(64);
    const b = new Uint8Array(64);
    for (let i = 0; i < 4; i++) {
      const buffer = i % 2 === 0 ? a : b;
      buffer.set(image.subarray(i * 32, i * 32 + 32));
      rx.write(buffer, 32);
    }
    const whole = image.slice(128);
    rx.write(whole, 64);
    equal(w.writes.length, 5);
    ok(w.writes[4] === whole && w.hashed[4] === whole, "a whole buffer is passed as it is");
    ok(w.writes[0]!.buffer === a.buffer && w.writes[1]!.buffer === b.buffer);
    deepEqual(rx.finish(), { ok: true, reason: "", md5: md5Hex(image), sha256: sha256Hex(image) });
    bytesEqual(w.flash.inspect(w.slot.offset, image.length), image);
  });
});
