// Flash areas at their edges: a window's bounds and offsets, whole-area copies, the SHA-256 of a prefix, the journal
// record's exact text and what it refuses, AreaReceiver's padding, erasing, verdicts and size checks (portable).
import { bytesEqual, deepEqual, equal, ok } from "../../lib/assert.js";
import { SimNorFlash } from "../../../hal/sim/nor-flash.js";
import { MemoryKeyValueStore } from "../../../hal/sim/memory-kv.js";
import { NobleDigestFactory } from "../../../hal/sim/digest.js";
import { toHex } from "../../../hal/digest.js";
import {
  AreaJournal,
  AreaReceiver,
  FlashWindow,
  areaSha256,
  copyArea,
} from "../../../src/components/area.js";
import { descriptorTag } from "../../../src/image/receiver.js";
import type { ImageDescriptor } from "../../../src/image/types.js";

const BLOCK = 64;
const digests = new NobleDigestFactory();

function hash(algorithm: "MD5" | "SHA256", bytes: Uint8Array): string {
  const digest = digests.create(algorithm);
  digest.write(bytes);
  return toHex(digest.close());
}

function descriptor(bytes: Uint8Array, extra: Partial<ImageDescriptor> = {}): ImageDescriptor {
  return {
    component: "cfg",
    version: "2",
    size: bytes.length,
    md5: hash("MD5", bytes),
    sha256: hash("SHA256", bytes),
    crc: 0,
    ...extra,
  };
}

function thrown(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  }
  return "no error";
}

const bytesOf = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 13 + seed) & 0xff);

describe("components: flash windows and whole-area copies", () => {
  it("maps a window onto its blocks and refuses one outside the partition", () => {
    const flash = new SimNorFlash({ size: 4 * BLOCK, blockLength: BLOCK, writeAlign: 4 });
    const w = new FlashWindow(flash, 1, 3);
    deepEqual(w.status(), { ...flash.status(), size: 3 * BLOCK });
    w.eraseBlock(0);
    w.write(Uint8Array.of(1, 2, 3, 4), 4);
    const back = new Uint8Array(4);
    flash.read(back, BLOCK + 4);
    bytesEqual(back, Uint8Array.of(1, 2, 3, 4));
    const via = new Uint8Array(4);
    w.read(via, 4);
    bytesEqual(via, back);
    w.eraseBlock(1, 3);
    deepEqual(Array.from(flash.stats.erases), [0, 1, 1, 1]);
    equal(thrown(() => w.eraseBlock(3)).includes("erase of blocks [3, 4) outside 0..3"), true);
    equal(
      thrown(() => w.read(new Uint8Array(2), 3 * BLOCK - 1)).includes(
        "read of 2 bytes at 191 outside 0..192",
      ),
      true,
    );
    equal(
      thrown(() => w.write(new Uint8Array(4), 3 * BLOCK)).includes("write of 4 bytes at 192 outside 0..192"),
      true,
    );
    equal(
      thrown(() => new FlashWindow(flash, 2, 3)),
      "RangeError: window of 3 blocks at block 2 outside the partition",
    );
    equal(
      thrown(() => new FlashWindow(flash, -1, 1)),
      "RangeError: window of 1 blocks at block -1 outside the partition",
    );
    equal(
      thrown(() => new FlashWindow(flash, 0, 0)),
      "RangeError: window of 0 blocks at block 0 outside the partition",
    );
    equal(new FlashWindow(flash, 0, 4).status().size, 4 * BLOCK, "the whole partition");
  });

  it("copies every block and hashes a prefix of any length", () => {
    const flash = new SimNorFlash({
      size: 4 * BLOCK,
      blockLength: BLOCK,
      writeAlign: 4,
      initial: bytesOf(4 * BLOCK),
    });
    const from = new FlashWindow(flash, 0, 2);
    const to = new FlashWindow(flash, 2, 2);
    equal(
      thrown(() => copyArea(from, to, new Uint8Array(BLOCK - 1))),
      "RangeError: scratch must be one block long",
    );
    copyArea(from, to, new Uint8Array(BLOCK));
    const a = new Uint8Array(2 * BLOCK);
    const b = new Uint8Array(2 * BLOCK);
    from.read(a, 0);
    to.read(b, 0);
    bytesEqual(b, a);
    for (const length of [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK])
      equal(areaSha256(from, length, digests), hash("SHA256", a.subarray(0, length)), `${length} bytes`);
  });
});

describe("components: the area journal's record", () => {
  it("writes tag, sectors and CRC in hex and reads back only its own tag's whole record", () => {
    const kv = new MemoryKeyValueStore();
    const j = new AreaJournal(kv, "cfg");
    deepEqual(j.load(5), { sectors: 0, crc: 0 });
    j.save(0xfedcba98, 3, 0x80000001);
    equal(kv.get("sota.comp.j.cfg"), "fedcba98:3:80000001");
    deepEqual(j.load(0xfedcba98), { sectors: 3, crc: 0x80000001 });
    deepEqual(j.load(0xfedcba98 | 0), { sectors: 3, crc: 0x80000001 }, "a signed tag is the same tag");
    deepEqual(j.load(0xfedcba99), { sectors: 0, crc: 0 });
    j.save(-1, 0, -2);
    equal(kv.get("sota.comp.j.cfg"), "ffffffff:0:fffffffe");
    for (const text of ["5:1", "5:1:2:3", "5:x:2", "5:-1:2", "5:1.5:2"]) {
      kv.set("sota.comp.j.cfg", text);
      deepEqual(j.load(5), { sectors: 0, crc: 0 }, text);
    }
    kv.set("sota.comp.j.cfg", "5:0:0");
    deepEqual(j.load(5), { sectors: 0, crc: 0 });
    // 0 sectors is a whole record: its CRC is read as written (AreaReceiver then clears it).
    kv.set("sota.comp.j.cfg", "5:0:1234");
    deepEqual(j.load(5), { sectors: 0, crc: 0x1234 });
    j.clear();
    equal(kv.get("sota.comp.j.cfg"), undefined);
  });
});

describe("components: AreaReceiver at its edges", () => {
  function setup(writeAlign = 4, eraseValue = 0xff) {
    const flash = new SimNorFlash({ size: 4 * BLOCK, blockLength: BLOCK, writeAlign, eraseValue });
    return { flash, area: new FlashWindow(flash, 0, 3), kv: new MemoryKeyValueStore() };
  }

  it("refuses an image larger than the area and a write past the image", () => {
    const { area } = setup();
    equal(
      thrown(() => new AreaReceiver(area, descriptor(new Uint8Array(3 * BLOCK + 1)), digests)),
      "RangeError: 193 bytes do not fit the 192-byte area",
    );
    const r = new AreaReceiver(area, descriptor(new Uint8Array(3 * BLOCK)), digests);
    equal(r.resumedSectors, 0);
    r.write(new Uint8Array(3 * BLOCK - 1), 3 * BLOCK - 1);
    equal(
      thrown(() => r.write(new Uint8Array(2), 2)),
      "RangeError: write past the 192-byte image",
    );
    r.write(new Uint8Array(1), 1);
    ok(r.finish().ok, "fits exactly");
  });

  it("writes each sector once, pads the last to the write unit with erased bytes, and writes it at once", () => {
    const { flash, area, kv } = setup(8, 0x00);
    const bytes = bytesOf(BLOCK + 5, 3);
    const r = new AreaReceiver(area, descriptor(bytes), digests, new AreaJournal(kv, "cfg"));
    r.write(bytes.subarray(0, 10), 10);
    equal(flash.stats.writeCount, 0, "a partial sector waits");
    r.write(bytes.subarray(10), BLOCK - 5);
    equal(flash.stats.writeCount, 2, "the full sector and the last bytes");
    equal(r.received, BLOCK + 5);
    deepEqual(Array.from(flash.stats.bytesWritten), [BLOCK, 8, 0, 0]);
    const back = new Uint8Array(BLOCK + 8);
    r.readBack(0, back);
    bytesEqual(back.subarray(0, BLOCK + 5), bytes);
    bytesEqual(back.subarray(BLOCK + 5), new Uint8Array(3), "padded with the erase value");
    const tag = descriptorTag(descriptor(bytes));
    const j = new AreaJournal(kv, "cfg").load(tag);
    equal(j.sectors, 2);
    const verdict = r.finish();
    deepEqual(verdict, { ok: true, reason: "", md5: hash("MD5", bytes), sha256: hash("SHA256", bytes) });
    equal(flash.stats.writeCount, 2, "finish() writes nothing more");
  });

  it("erases ahead one block at a time up to the image, and never twice", () => {
    const { flash, area } = setup();
    const bytes = bytesOf(BLOCK + 1);
    const r = new AreaReceiver(area, descriptor(bytes), digests);
    ok(!r.needsErase(0), "nothing yet");
    ok(r.needsErase(1), "the first byte");
    ok(r.eraseStep(10 * BLOCK), "block 0");
    ok(!r.needsErase(BLOCK), "block 0 covers 64 bytes");
    ok(r.needsErase(BLOCK + 1), "block 1");
    ok(r.eraseStep(10 * BLOCK), "block 1");
    ok(!r.eraseStep(10 * BLOCK), "the image ends in block 1");
    deepEqual(Array.from(flash.stats.erases), [1, 1, 0, 0]);
    r.write(bytes, bytes.length);
    deepEqual(Array.from(flash.stats.erases), [1, 1, 0, 0], "writing erases no more");
    ok(r.finish().ok);
  });

  it("gives each verdict's reason, compares digests without case, and lets MD5 decide without a SHA-256", () => {
    const { area } = setup();
    const bytes = bytesOf(100);
    const run = (d: ImageDescriptor, n = bytes.length) => {
      const r = new AreaReceiver(area, d, digests);
      r.write(bytes, n);
      return r.finish();
    };
    equal(run(descriptor(bytes), 99).reason, "size");
    equal(run(descriptor(bytes, { md5: "0".repeat(32) })).reason, "md5");
    equal(run(descriptor(bytes, { sha256: "0".repeat(64) })).reason, "sha256");
    ok(run(descriptor(bytes, { sha256: "" })).ok, "no SHA-256: MD5 decides");
    const upper = descriptor(bytes);
    ok(run({ ...upper, md5: upper.md5.toUpperCase(), sha256: upper.sha256.toUpperCase() }).ok, "upper case");
    const partial = run(descriptor(bytes), 99);
    deepEqual([partial.ok, partial.md5], [false, hash("MD5", bytes.subarray(0, 99))]);
  });

  it("resumes only a journal that fits the image and matches its bytes", () => {
    const { area, kv } = setup();
    const bytes = bytesOf(2 * BLOCK + 10);
    const d = descriptor(bytes);
    const first = new AreaReceiver(area, d, digests, new AreaJournal(kv, "cfg"));
    first.write(bytes, bytes.length);
    const record = kv.get("sota.comp.j.cfg")!;
    equal(record.split(":")[1], "3");
    const whole = new AreaReceiver(area, d, digests, new AreaJournal(kv, "cfg"));
    deepEqual([whole.received, whole.resumedSectors], [bytes.length, 3]);
    ok(!whole.needsErase(bytes.length), "its blocks count as erased");
    ok(whole.finish().ok);
    const [tag, , crc] = record.split(":");
    kv.set("sota.comp.j.cfg", `${tag}:4:${crc}`);
    equal(
      new AreaReceiver(area, d, digests, new AreaJournal(kv, "cfg")).received,
      0,
      "more sectors than the image",
    );
    equal(kv.get("sota.comp.j.cfg"), undefined, "cleared");
    const j = new AreaJournal(kv, "cfg");
    j.save(descriptorTag(d), 1, 0);
    equal(new AreaReceiver(area, d, digests, j).received, 0, "a wrong CRC");
    equal(kv.get("sota.comp.j.cfg"), undefined, "cleared");
    // 0 sectors whose CRC (0) is the empty prefix's: still a fresh start, and the record goes.
    j.save(descriptorTag(d), 0, 0);
    equal(new AreaReceiver(area, d, digests, j).resumedSectors, 0, "0 sectors");
    equal(kv.get("sota.comp.j.cfg"), undefined, "cleared");
  });
});
