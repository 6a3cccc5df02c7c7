// AreaReceiver with its resume journal (AreaJournal): a download cut after whole sectors goes on after them without
// writing them again; a prefix whose bytes changed, or a journal of another descriptor, starts over. Portable.

import { deepEqual, equal, ok } from "../../lib/assert.js";
import { SimNorFlash } from "../../../hal/sim/nor-flash.js";
import { MemoryKeyValueStore } from "../../../hal/sim/memory-kv.js";
import { NobleDigestFactory } from "../../../hal/sim/digest.js";
import { toHex } from "../../../hal/digest.js";
import { AreaJournal, AreaReceiver, FlashWindow } from "../../../src/components/area.js";
import type { ImageDescriptor } from "../../../src/image/types.js";

const BLOCK = 4096;
const digests = new NobleDigestFactory();

function bytesOf(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed) & 0xff;
  return bytes;
}

function hash(algorithm: "MD5" | "SHA256", bytes: Uint8Array): string {
  const digest = digests.create(algorithm);
  digest.write(bytes);
  return toHex(digest.close());
}

function descriptor(bytes: Uint8Array, version = "2.0"): ImageDescriptor {
  return {
    component: "cfg",
    version,
    size: bytes.length,
    md5: hash("MD5", bytes),
    sha256: hash("SHA256", bytes),
    crc: 0,
  };
}

/** Feeds bytes [from, to) in 1000-byte writes. */
function feed(receiver: AreaReceiver, bytes: Uint8Array, from: number, to: number): void {
  for (let at = from; at < to; at += 1000) {
    const chunk = bytes.subarray(at, Math.min(to, at + 1000));
    receiver.write(chunk, chunk.length);
  }
}

describe("components: an area download's resume journal", () => {
  const bytes = bytesOf(10_000, 7);

  function setup(): { flash: SimNorFlash; area: FlashWindow; kv: MemoryKeyValueStore } {
    const flash = new SimNorFlash({ size: 4 * BLOCK, blockLength: BLOCK, writeAlign: 4 });
    return { flash, area: new FlashWindow(flash, 0, 3), kv: new MemoryKeyValueStore() };
  }

  it("a download cut after two sectors resumes at 8192: those sectors are neither erased nor written again", () => {
    const { flash, area, kv } = setup();
    const first = new AreaReceiver(area, descriptor(bytes), digests, new AreaJournal(kv, "cfg"));
    equal(first.received, 0);
    feed(first, bytes, 0, 9000);
    equal(kv.get("sota.comp.j.cfg")?.split(":")[1], "2", "two sectors journaled");
    flash.resetStats();
    const second = new AreaReceiver(area, descriptor(bytes), digests, new AreaJournal(kv, "cfg"));
    equal(second.received, 8192);
    equal(second.resumedSectors, 2);
    feed(second, bytes, 8192, bytes.length);
    const verdict = second.finish();
    ok(verdict.ok, `verdict ${verdict.reason}`);
    deepEqual(Array.from(flash.stats.erases), [0, 0, 1, 0], "only the third sector erased after the resume");
    const back = new Uint8Array(bytes.length);
    area.read(back, 0);
    deepEqual(Array.from(back), Array.from(bytes));
  });

  it("a whole download journaled: the resume verifies it from flash and writes nothing", () => {
    const { flash, area, kv } = setup();
    feed(
      new AreaReceiver(area, descriptor(bytes), digests, new AreaJournal(kv, "cfg")),
      bytes,
      0,
      bytes.length,
    );
    flash.resetStats();
    const again = new AreaReceiver(area, descriptor(bytes), digests, new AreaJournal(kv, "cfg"));
    equal(again.received, bytes.length);
    ok(again.finish().ok);
    equal(flash.stats.eraseCount + flash.stats.writeCount, 0);
  });

  it("a prefix whose bytes changed (say XS wrote an error atom over it) starts over, its journal cleared first", () => {
    const { area, kv } = setup();
    feed(new AreaReceiver(area, descriptor(bytes), digests, new AreaJournal(kv, "cfg")), bytes, 0, 9000);
    area.eraseBlock(0);
    area.write(new Uint8Array([0, 0, 0, 9, 0x58, 0x53, 0x5f, 0x45]), 0);
    const again = new AreaReceiver(area, descriptor(bytes), digests, new AreaJournal(kv, "cfg"));
    equal(again.received, 0);
    equal(kv.get("sota.comp.j.cfg"), undefined);
    feed(again, bytes, 0, bytes.length);
    ok(again.finish().ok);
  });

  it("a journal of another descriptor never counts", () => {
    const { area, kv } = setup();
    feed(new AreaReceiver(area, descriptor(bytes), digests, new AreaJournal(kv, "cfg")), bytes, 0, 9000);
    const other = bytesOf(10_000, 8);
    const receiver = new AreaReceiver(area, descriptor(other, "3.0"), digests, new AreaJournal(kv, "cfg"));
    equal(receiver.received, 0);
    feed(receiver, other, 0, other.length);
    ok(receiver.finish().ok);
  });
});
