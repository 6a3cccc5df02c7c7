// Edges of the ESP32 backend and its receiver: exact records and NVS writes, bounds of reads, writes and package
// headers, erase counts, malformed packages read back, resume of a package and a refused kept header.

import { toHex } from "../../../../hal/digest.js";
import { bytesEqual, deepEqual, equal, ok, throws } from "../../../lib/assert.js";
import { MemoryKeyValueStore } from "../../../../hal/sim/memory-kv.js";
import { SimNorFlash } from "../../../../hal/sim/nor-flash.js";
import {
  Esp32BootControl,
  Esp32ImageReceiver,
  IMAGE_RECORD_KEY,
} from "../../../../src/boot/esp32/esp32-boot.js";
import { OtaImageState } from "../../../../hal/ota.js";
import type { ImageDescriptor } from "../../../../src/image/types.js";
import {
  FakeOta,
  NEXT_APP,
  descriptorOf as descriptorFor,
  digests,
  pattern,
  plainImage,
} from "./fixtures.js";

const BLOCK = 1024;
const PARTITION = 8 * BLOCK;

/** Counts the writes of each key (the journal's writes are the record's). */
class CountingKv extends MemoryKeyValueStore {
  sets: string[] = [];
  override set(key: string, value: string): void {
    this.sets.push(key);
    super.set(key, value);
  }
  count(key: string): number {
    return this.sets.filter((k) => k === key).length;
  }
}

/** An MCUboot-format package: magic, hdr_size at 8, img_size at 12; body starting with 0xE9; a tail. */
function makePackage(hdr: number, img: number, tail: number): Uint8Array {
  const bytes = pattern(hdr + img + tail, 3);
  bytes.set([0x3d, 0xb8, 0xf3, 0x96], 0);
  bytes[8] = hdr & 0xff;
  bytes[9] = hdr >>> 8;
  bytes[12] = img & 0xff;
  bytes[13] = (img >>> 8) & 0xff;
  bytes[14] = (img >>> 16) & 0xff;
  bytes[15] = img >>> 24;
  bytes[hdr] = 0xe9;
  return bytes;
}

function descriptorOf(bytes: Uint8Array): ImageDescriptor {
  return descriptorFor(bytes, "2.0.0", 5);
}

function setup(options: { running?: SimNorFlash } = {}) {
  const flash = new SimNorFlash({ size: PARTITION, blockLength: BLOCK, writeAlign: 1 });
  const kv = new CountingKv();
  const ota = new FakeOta(
    { label: "ota_0", state: OtaImageState.valid },
    { label: "ota_1", state: OtaImageState.undefined },
  );
  const open = () =>
    new Esp32BootControl(
      { flash, ota, digests, kv, ...(options.running ? { running: options.running } : {}) },
      { component: "mcu", version: "1.0.0" },
    );
  const record = () => JSON.parse(kv.get(IMAGE_RECORD_KEY)!) as Record<string, unknown>;
  return { flash, kv, ota, open, record };
}

type Receiver = ReturnType<Esp32BootControl["startReceive"]>;

/** Feeds in `chunk`-byte writes from a `bufferLength`-byte buffer, erasing when asked; returns the erases. */
function feed(
  receiver: Receiver,
  bytes: Uint8Array,
  chunk: number,
  until = bytes.length,
  bufferLength = chunk,
) {
  let erases = 0;
  const buffer = new Uint8Array(bufferLength).fill(0x5a);
  while (receiver.received < until) {
    const n = Math.min(chunk, until - receiver.received);
    while (receiver.needsErase(receiver.received + n)) {
      ok(receiver.eraseStep(receiver.received + n));
      erases++;
    }
    buffer.set(bytes.subarray(receiver.received, receiver.received + n));
    receiver.write(buffer, n);
  }
  return erases;
}

function layout(receiver: Receiver) {
  ok(receiver instanceof Esp32ImageReceiver);
  return receiver.layout;
}

function readAll(receiver: Receiver): Uint8Array {
  const into = new Uint8Array(receiver.received);
  receiver.readBack(0, into);
  return into;
}

describe("src/boot/esp32 receiver edges", () => {
  it("startReceive writes the exact record; the receiver starts undecided; writes check their length and end", () => {
    const { open, record, ota } = setup();
    ota.runningApp = "";
    const bytes = plainImage(100);
    const d = descriptorOf(bytes);
    const receiver = open().startReceive({ ...d, md5: d.md5.toUpperCase() });
    deepEqual(record(), {
      v: 2,
      label: "ota_1",
      state: "receiving",
      component: "mcu",
      version: "2.0.0",
      size: 100,
      md5: d.md5,
      sha256: d.sha256,
      crc: 5,
      received: 0,
      reason: "",
      fresh: false,
      from: "",
      app: "",
      nextWas: -1,
      hdr: 0,
      img: 0,
    });
    deepEqual(layout(receiver), { mode: "unknown", hdr: 0, img: 0 });
    const buffer = new Uint8Array(200);
    buffer.set(bytes);
    receiver.write(buffer, 0);
    deepEqual([receiver.received, layout(receiver).mode], [0, "unknown"]);
    throws(() => receiver.write(buffer, -1), /^bad length$/);
    throws(() => receiver.write(buffer, 201), /^bad length$/);
    throws(() => receiver.write(buffer, 150), /^write past the image end \(150 > 100\)$/);
  });

  it("startReceive takes sizes from 1 up to the partition plus the largest package header and tail", () => {
    const { open } = setup();
    const boot = open();
    const d = (size: number): ImageDescriptor => ({
      component: "mcu",
      version: "2",
      size,
      md5: "0".repeat(32),
      sha256: "",
      crc: 0,
    });
    throws(() => boot.startReceive(d(0)), /^image of 0 bytes does not fit the 8192-byte partition$/);
    throws(() => boot.startReceive(d(PARTITION + 0x1000 + 1025)), RangeError);
    equal(boot.startReceive(d(PARTITION + 0x1000 + 1024)).received, 0);
    equal(boot.startReceive(d(1)).received, 0);
  });

  it("a plain image of two whole blocks: two erases, one record write per block, exact verdict and record", () => {
    const { open, kv, record, flash } = setup();
    const bytes = plainImage(2 * BLOCK);
    const d = descriptorOf(bytes);
    const receiver = open().startReceive(d);
    equal(kv.count(IMAGE_RECORD_KEY), 1);
    equal(feed(receiver, bytes, 256, BLOCK), 1);
    equal(kv.count(IMAGE_RECORD_KEY), 2);
    deepEqual([record().received, record().app, record().state], [BLOCK, "", "receiving"]);
    equal(feed(receiver, bytes, 256), 1);
    equal(receiver.needsErase(2 * BLOCK), false);
    equal(receiver.eraseStep(2 * BLOCK), false);
    equal(kv.count(IMAGE_RECORD_KEY), 3);
    bytesEqual(readAll(receiver), bytes);
    const part = new Uint8Array(200);
    receiver.readBack(100, part);
    bytesEqual(part, bytes.subarray(100, 300));
    throws(
      () => receiver.readBack(-1, new Uint8Array(1)),
      /^ESP32 receiver: read back -1\+1 past what is written$/,
    );
    throws(() => receiver.readBack(2000, new Uint8Array(49)), RangeError);
    receiver.readBack(2000, new Uint8Array(48));
    deepEqual(receiver.finish(), { ok: true, reason: "", md5: d.md5, sha256: d.sha256 });
    equal(kv.count(IMAGE_RECORD_KEY), 4);
    const r = record();
    deepEqual(
      [r.state, r.received, r.reason, r.hdr, r.img, r.app, r.fresh],
      ["verified", 2 * BLOCK, "", 0, 2 * BLOCK, NEXT_APP, false],
    );
    equal(kv.get("sota.pkgtail"), undefined);
    equal(kv.get("sota.pkghead"), undefined);
    bytesEqual(flash.inspect(0, 2 * BLOCK), bytes);
  });

  it("finish before the last byte says size with no digests; a wrong MD5 wins over the format checks", () => {
    const { open, record } = setup();
    const boot = open();
    const bytes = plainImage(1500);
    const early = boot.startReceive(descriptorOf(bytes));
    feed(early, bytes, 500, 1000);
    deepEqual(early.finish(), { ok: false, reason: "size", md5: "", sha256: "" });
    deepEqual([record().state, record().reason], ["empty", "size"]);

    const notAnApp = plainImage(1500);
    notAnApp[0] = 0x7f;
    const wrong = boot.startReceive({ ...descriptorOf(notAnApp), md5: "f".repeat(32) });
    feed(wrong, notAnApp, 500);
    const verdict = wrong.finish();
    deepEqual([verdict.ok, verdict.reason], [false, "md5"]);
    deepEqual([record().state, record().reason], ["empty", "md5"]);
  });

  it("a plain image as large as the partition fits; one byte more is dropped and refused as format", () => {
    const { open, flash } = setup();
    const boot = open();
    const full = plainImage(PARTITION);
    const r1 = boot.startReceive(descriptorOf(full));
    equal(feed(r1, full, 1024), 8);
    equal(r1.finish().ok, true);
    for (let b = 0; b < 8; b++) flash.eraseBlock(b);
    const over = plainImage(PARTITION + 1);
    const r2 = boot.startReceive(descriptorOf(over));
    equal(feed(r2, over, 1024), 1, "only block 0, asked for before the first byte decides");
    deepEqual(layout(r2), { mode: "malformed", hdr: 0, img: PARTITION + 1 });
    deepEqual([r2.finish().reason], ["format"]);
    bytesEqual(flash.inspect(0, PARTITION), new Uint8Array(PARTITION).fill(0xff));
  });

  it("package headers: each bound of the header size, body size and tail decides package or malformed", () => {
    const { open } = setup();
    const boot = open();
    const cases: [string, number, number, number, "package" | "malformed"][] = [
      ["smallest header", 32, 100, 0, "package"],
      ["header too short", 31, 100, 0, "malformed"],
      ["largest header", 0x1000, 100, 0, "package"],
      ["header too long", 0x1001, 100, 0, "malformed"],
      ["empty body", 32, 0, 10, "malformed"],
      ["body as large as the partition", 32, PARTITION, 0, "package"],
      ["body larger than the partition", 32, PARTITION + 1, 0, "malformed"],
      ["largest tail", 32, 100, 1024, "package"],
      ["tail too long", 32, 100, 1025, "malformed"],
    ];
    for (const [what, hdr, img, tail, mode] of cases) {
      const pkg = makePackage(hdr, img, tail);
      const receiver = boot.startReceive(descriptorOf(pkg));
      feed(receiver, pkg, 32, 32);
      deepEqual(layout(receiver), mode === "package" ? { mode, hdr, img } : { mode, hdr: 0, img: 0 }, what);
    }
    // Sizes in the header past the package's own size, and a wrong magic byte.
    const pkg = makePackage(32, 100, 0);
    const short = boot.startReceive({ ...descriptorOf(pkg), size: 131 });
    feed(short, pkg, 32, 32);
    equal(layout(short).mode, "malformed", "header and body one byte past the package");
    const bad = makePackage(32, 100, 0);
    bad[3] = 0x97;
    const wrongMagic = boot.startReceive(descriptorOf(bad));
    feed(wrongMagic, bad, 32, 32);
    equal(layout(wrongMagic).mode, "malformed", "magic");
  });

  it("a package in 10-byte writes: header parsed once whole (not from its first 10 bytes, which name no body size), kept in one NVS write, erases follow the body", () => {
    const { open, kv, flash, record } = setup();
    const pkg = makePackage(0x80, 1500, 40);
    const d = descriptorOf(pkg);
    const receiver = open().startReceive(d);
    feed(receiver, pkg, 10, 0x80);
    deepEqual(layout(receiver), { mode: "package", hdr: 0x80, img: 1500 });
    equal(kv.count("sota.pkghead"), 1);
    deepEqual(JSON.parse(kv.get("sota.pkghead")!), { image: d.sha256, head: toHex(pkg.subarray(0, 0x80)) });
    // Block 0 was erased before the first byte (undecided then): it holds the body's first 1024 bytes.
    equal(receiver.needsErase(0x80 + BLOCK), false);
    ok(receiver.needsErase(0x80 + BLOCK + 1));
    equal(feed(receiver, pkg, 10), 1);
    equal(receiver.needsErase(pkg.length), false);
    equal(kv.count("sota.pkghead"), 1);
    bytesEqual(readAll(receiver), pkg);
    bytesEqual(flash.inspect(0, 1500), pkg.subarray(0x80, 0x80 + 1500));
    equal(receiver.finish().ok, true);
    equal(kv.get("sota.pkgtail"), toHex(pkg.subarray(0x80 + 1500)));
    deepEqual([record().hdr, record().img, record().received], [0x80, 1500, pkg.length]);
  });

  it("a package whose last write runs from the body into the tail, from a larger buffer", () => {
    const { open, kv } = setup();
    const pkg = makePackage(32, 1500, 100);
    const receiver = open().startReceive(descriptorOf(pkg));
    feed(receiver, pkg, 1024, pkg.length, 2048);
    bytesEqual(readAll(receiver), pkg);
    equal(receiver.finish().ok, true);
    equal(kv.get("sota.pkgtail"), toHex(pkg.subarray(1532)));
  });

  it("a failed package keeps no tail; a malformed one reads back its 32 header bytes and zeros after them", () => {
    const { open, kv, flash } = setup();
    const boot = open();
    const pkg = makePackage(32, 500, 10);
    const failed = boot.startReceive({ ...descriptorOf(pkg), sha256: "0".repeat(64) });
    feed(failed, pkg, 256);
    equal(failed.finish().reason, "sha256");
    equal(kv.get("sota.pkgtail"), undefined);

    const undecided = boot.startReceive(descriptorOf(pkg));
    feed(undecided, pkg, 10, 10);
    bytesEqual(readAll(undecided), pkg.subarray(0, 10));

    const bad = makePackage(31, 5000, 900);
    const malformed = boot.startReceive(descriptorOf(bad));
    equal(feed(malformed, bad, 1000), 1, "only block 0, asked for before the header decided");
    const head = new Uint8Array(32);
    malformed.readBack(0, head);
    bytesEqual(head, bad.subarray(0, 32));
    const rest = new Uint8Array(5000).fill(0xaa);
    malformed.readBack(32, rest);
    bytesEqual(rest, new Uint8Array(5000));
    const far = new Uint8Array(900).fill(0xaa);
    malformed.readBack(5000, far);
    bytesEqual(far, new Uint8Array(900));
    const mixed = new Uint8Array(40).fill(0xaa);
    malformed.readBack(10, mixed);
    bytesEqual(mixed.subarray(0, 22), bad.subarray(10, 32));
    bytesEqual(mixed.subarray(22), new Uint8Array(18));
    equal(malformed.finish().reason, "format");
    bytesEqual(flash.inspect(0, PARTITION), new Uint8Array(PARTITION).fill(0xff));
    const wrongMd5 = boot.startReceive({ ...descriptorOf(bad), md5: "e".repeat(32) });
    feed(wrongMd5, bad, 1000);
    equal(wrongMd5.finish().reason, "md5");
  });

  it("a package resumes after its kept header, erasing the torn block again; a kept header that does not fit restarts", () => {
    const { open, kv, flash } = setup();
    const pkg = makePackage(0x80, 3000, 50);
    const d = descriptorOf(pkg);
    feed(open().startReceive(d), pkg, 100, 0x80 + 2 * BLOCK + 300);
    const head = kv.get("sota.pkghead")!;
    const resumed = open().resumeReceive()!;
    equal(resumed.received, 0x80 + 2 * BLOCK);
    deepEqual(layout(resumed), { mode: "package", hdr: 0x80, img: 3000 });
    ok(resumed.needsErase(resumed.received + 1));
    ok(resumed.eraseStep(resumed.received + 1));
    bytesEqual(flash.inspect(2 * BLOCK, BLOCK), new Uint8Array(BLOCK).fill(0xff));
    equal(resumed.needsErase(resumed.received + BLOCK), false);
    feed(resumed, pkg, 100);
    bytesEqual(readAll(resumed), pkg);
    equal(resumed.finish().ok, true);

    const other = JSON.parse(head) as { image: string; head: string };
    const refused = [
      "{",
      JSON.stringify({ ...other, image: "c".repeat(64) }),
      JSON.stringify({ ...other, head: other.head.slice(2) }),
      JSON.stringify({ ...other, head: other.head + "00" }),
      JSON.stringify({ ...other, head: "zz" + other.head.slice(2) }),
      JSON.stringify({ ...other, head: 5 }),
    ];
    for (const text of refused) {
      feed(open().startReceive(d), pkg, 100, 0x80 + BLOCK + 10);
      kv.set("sota.pkghead", text);
      const again = open().resumeReceive()!;
      deepEqual([again.received, layout(again).mode], [0, "unknown"], text.slice(0, 20));
    }
  });

  it("readRunning reads inside the running partition only", () => {
    const running = new SimNorFlash({ size: 4 * BLOCK, blockLength: BLOCK, writeAlign: 1 });
    const bytes = pattern(4 * BLOCK, 9);
    running.write(bytes, 0);
    const boot = setup({ running }).open();
    equal(boot.runningSlotLength, 4 * BLOCK);
    const into = new Uint8Array(16);
    boot.readRunning!(4 * BLOCK - 16, into);
    bytesEqual(into, bytes.subarray(4 * BLOCK - 16));
    boot.readRunning!(0, into);
    bytesEqual(into, bytes.subarray(0, 16));
    throws(
      () => boot.readRunning!(4 * BLOCK - 15, into),
      /^boot: read 4081\+16 outside the running partition$/,
    );
    throws(() => boot.readRunning!(-1, into), RangeError);
    equal(setup().open().readRunning, undefined);
  });

  it("a stale record is deleted at start-up; a receive for another partition does not resume", () => {
    const { open, kv, ota } = setup();
    const bytes = plainImage(1500);
    feed(open().startReceive(descriptorOf(bytes)), bytes, 500, BLOCK);
    ota.runningView = { label: "ota_1", state: OtaImageState.valid };
    ota.nextView = { label: "ota_0", state: OtaImageState.valid };
    equal(open().resumeReceive(), undefined);
    ota.runningApp = "f".repeat(64);
    const boot = open();
    equal(kv.get(IMAGE_RECORD_KEY), undefined);
    equal(boot.notices.length, 1);
    equal(boot.report.slots[1]!.state, "empty");
  });

  it("abandon: only a receiving or verified image, recorded empty and not fresh; a stale receiver journals nothing", () => {
    const { open, kv, record } = setup();
    const boot = open();
    const bytes = plainImage(2 * BLOCK + 10);
    const d = descriptorOf(bytes);
    const r1 = boot.startReceive(d);
    feed(r1, bytes, 512);
    equal(r1.finish().ok, true);
    boot.abandonReceive("why");
    deepEqual([record().state, record().reason, record().fresh], ["empty", "why", false]);
    const before = kv.get(IMAGE_RECORD_KEY);
    const writes = kv.count(IMAGE_RECORD_KEY);
    boot.abandonReceive("again");
    equal(kv.get(IMAGE_RECORD_KEY), before);
    equal(kv.count(IMAGE_RECORD_KEY), writes);

    const r2 = boot.startReceive(d);
    feed(r2, bytes, 512, 300);
    boot.abandonReceive("gone");
    feed(r2, bytes, 512);
    equal(r2.finish().ok, true);
    deepEqual([record().state, record().reason, record().received], ["empty", "gone", 0]);
  });

  it("activate, confirm and reject write exact records; confirm without a trial and a foreign record change nothing", () => {
    const { open, kv, ota, record } = setup();
    const bytes = plainImage(BLOCK + 10);
    const boot = open();
    const receiver = boot.startReceive(descriptorOf(bytes));
    feed(receiver, bytes, 512);
    equal(receiver.finish().ok, true);
    boot.confirm();
    deepEqual(ota.calls, ["invalidate"]);
    equal(record().state, "verified");

    // A trial of ota_0 while our verified record names ota_1: confirm and reject leave the record alone.
    ota.runningView = { label: "ota_0", state: OtaImageState.pendingVerify };
    const trial0 = open();
    equal(trial0.report.trial, true);
    const text = kv.get(IMAGE_RECORD_KEY);
    trial0.confirm();
    equal(kv.get(IMAGE_RECORD_KEY), text);
    open().reject("no");
    equal(kv.get(IMAGE_RECORD_KEY), text);
    ota.runningView = { label: "ota_0", state: OtaImageState.valid };

    ota.failSelect = true;
    throws(() => open().activate(), /esp_ota_write failed/);
    deepEqual([record().state, record().reason, record().fresh], ["empty", "activate", false]);

    ota.failSelect = false;
    const again = open();
    const r2 = again.startReceive(descriptorOf(bytes));
    feed(r2, bytes, 512);
    equal(r2.finish().ok, true);
    again.activate();
    deepEqual([record().state, record().reason, record().fresh], ["pending-test", "", false]);
    ota.runningView = { label: "ota_1", state: OtaImageState.pendingVerify };
    ota.nextView = { label: "ota_0", state: OtaImageState.valid };
    open().confirm();
    deepEqual([record().state, record().reason, record().fresh], ["confirmed", "", false]);
  });
});
