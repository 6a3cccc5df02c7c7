// Delta package header and DeltaPackageApplier at their edges: header fields byte by byte and at an offset, every
// refusal's exact code and message, the exact source and output reads, checkpoint records' flags (portable).
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesEqual, deepEqual, equal, ok } from "../../lib/assert.js";
import {
  DELTA_BOUNDARY,
  DELTA_DONE,
  DELTA_FAILED,
  DELTA_HEADER_SIZE,
  DELTA_NEED_MORE,
  DELTA_STATE_SIZE,
  DeltaPackageApplier,
  encodeDeltaHeader,
  parseDeltaHeader,
  type DeltaHeader,
  type DeltaPackageOptions,
} from "../../../src/delta/index.js";
import { crc32 } from "../../../src/flash-format/crc32.js";
import { makeDeltaPackage, makeSequentialPatch } from "../../../tools/delta/create.js";
import { MemorySink, memorySource, sha256Digest } from "../../../tools/delta/apply.js";

const SOURCE = Uint8Array.from({ length: 300 }, (_, i) => (i * 7 + (i >> 3)) & 0xff);
const TARGET = Uint8Array.from({ length: 260 }, (_, i) => (i % 50 === 3 ? 0x5a : SOURCE[i + 20]!));
const PATCH = makeSequentialPatch(SOURCE, TARGET);
const PACKAGE = makeDeltaPackage(SOURCE, TARGET, PATCH);

function withCrc(bytes: Uint8Array, at = 0): Uint8Array {
  new DataView(bytes.buffer, bytes.byteOffset).setUint32(at + 84, crc32(bytes, at, at + 84), true);
  return bytes;
}

function applier(options: Partial<DeltaPackageOptions> = {}, sink = new MemorySink()): DeltaPackageApplier {
  return new DeltaPackageApplier({
    readSource: memorySource(SOURCE).read,
    write: sink.write,
    sha256: sha256Digest(),
    ...options,
  });
}

/** Pushes `pkg` in one piece then finishes; the failure if any. */
function refusal(pkg: Uint8Array, options: Partial<DeltaPackageOptions> = {}) {
  const a = applier(options);
  if (a.push(pkg) !== DELTA_FAILED) a.finish();
  return a.failure;
}

describe("src/delta/package: the header", () => {
  it("encodes each field at its place, digests cut to 32 bytes", () => {
    const header = encodeDeltaHeader({
      format: 1,
      sourceSize: 0x01020304,
      targetSize: 0x05060708,
      patchSize: 0x090a0b0c,
      sourceSha256: Uint8Array.from({ length: 40 }, (_, i) => i + 1),
      targetSha256: Uint8Array.from({ length: 33 }, (_, i) => 0x80 + i),
    });
    equal(header.length, 88);
    bytesEqual(
      header.subarray(0, 20),
      Uint8Array.of(0x53, 0x44, 0x4c, 0x54, 1, 1, 88, 0, 4, 3, 2, 1, 8, 7, 6, 5, 12, 11, 10, 9),
    );
    bytesEqual(
      header.subarray(20, 52),
      Uint8Array.from({ length: 32 }, (_, i) => i + 1),
    );
    bytesEqual(
      header.subarray(52, 84),
      Uint8Array.from({ length: 32 }, (_, i) => 0x80 + i),
    );
    equal(new DataView(header.buffer).getUint32(84, true), crc32(header, 0, 84));
  });

  it("parses a header at an offset and returns copies of its digests", () => {
    const bytes = new Uint8Array(3 + DELTA_HEADER_SIZE);
    bytes.set(PACKAGE.subarray(0, DELTA_HEADER_SIZE), 3);
    const parsed = parseDeltaHeader(bytes, 3);
    ok(parsed.ok, "parses");
    const h: DeltaHeader = parsed.header;
    deepEqual([h.version, h.format, h.sourceSize, h.targetSize, h.patchSize], [1, 1, 300, 260, PATCH.length]);
    bytesEqual(h.sourceSha256, sha256(SOURCE));
    bytesEqual(h.targetSha256, sha256(TARGET));
    bytes[3 + 20] ^= 1;
    bytes[3 + 52] ^= 1;
    bytesEqual(h.sourceSha256, sha256(SOURCE), "a copy");
    bytesEqual(h.targetSha256, sha256(TARGET), "a copy");
  });

  it("names each refusal", () => {
    const base = PACKAGE.slice(0, DELTA_HEADER_SIZE);
    const edit = (at: number, value: number, crc = true): Uint8Array => {
      const b = base.slice();
      b[at] = value;
      return crc ? withCrc(b) : b;
    };
    deepEqual(parseDeltaHeader(base.subarray(0, 87)), {
      ok: false,
      code: "header",
      message: "87 bytes, a header has 88",
    });
    deepEqual(parseDeltaHeader(PACKAGE, PACKAGE.length - 87), {
      ok: false,
      code: "header",
      message: "87 bytes, a header has 88",
    });
    deepEqual(parseDeltaHeader(edit(3, 0x55)), {
      ok: false,
      code: "header",
      message: "not a delta package (magic)",
    });
    deepEqual(parseDeltaHeader(edit(4, 2)), {
      ok: false,
      code: "header",
      message: "delta header version 2 (only 1)",
    });
    deepEqual(parseDeltaHeader(edit(6, 89)), {
      ok: false,
      code: "header",
      message: "delta header size 89 (version 1 has 88)",
    });
    deepEqual(parseDeltaHeader(edit(7, 1)), {
      ok: false,
      code: "header",
      message: "delta header size 344 (version 1 has 88)",
    });
    deepEqual(parseDeltaHeader(edit(40, 0, false)), {
      ok: false,
      code: "header",
      message: "delta header CRC mismatch",
    });
    deepEqual(parseDeltaHeader(edit(5, 2)), {
      ok: false,
      code: "unsupported",
      message: "patch format 2 (only 1, sequential heatshrink)",
    });
    for (const at of [8, 12, 16]) {
      const b = base.slice();
      b.set([0xff, 0xff, 0xff, 0x7f], at);
      ok(parseDeltaHeader(withCrc(b)).ok, `2^31 - 1 at ${at}`);
    }
    for (const at of [11, 15, 19]) {
      deepEqual(
        parseDeltaHeader(edit(at, 0x80)),
        { ok: false, code: "header", message: "delta header sizes out of range" },
        `byte ${at}`,
      );
      ok(parseDeltaHeader(edit(at, 0x7f)).ok, `byte ${at} at 0x7f`);
    }
  });
});

describe("src/delta/package: the applier's refusals and offsets", () => {
  it("builds the target and reports its offsets, done flag and buffers", () => {
    const sink = new MemorySink();
    const a = applier({ sourceSize: 300 }, sink);
    equal(a.packageOffset, 0);
    equal(a.outputOffset, 0);
    equal(a.bufferBytes, 88 + 256);
    equal(a.push(PACKAGE, 0, 50), DELTA_NEED_MORE);
    equal(a.consumed, 50);
    equal(a.packageOffset, 50);
    equal(a.header, undefined);
    equal(a.push(PACKAGE, 50), DELTA_DONE);
    equal(a.consumed, PACKAGE.length - 50);
    equal(a.packageOffset, PACKAGE.length);
    equal(a.outputOffset, 260);
    equal(a.bufferBytes, 88 + 256 + 256 + 256 + 256 + 1);
    ok(a.done, "done");
    equal(a.push(PACKAGE, PACKAGE.length), DELTA_DONE, "nothing more is fine");
    equal(a.finish(), DELTA_DONE);
    bytesEqual(sink.result(), TARGET);
    const b = applier();
    equal(b.push(PACKAGE, 0, 88), DELTA_NEED_MORE);
    ok(b.header !== undefined, "header read at 88 bytes");
    equal(b.packageOffset, 88);
  });

  it("names a wrong base, a wrong target and bytes after the package", () => {
    deepEqual(refusal(PACKAGE, { sourceSize: 299 }), {
      code: "wrong-base",
      message: "the delta is for a 300-byte image, this one has 299",
      inputOffset: 88,
      outputOffset: 0,
    });
    equal(refusal(PACKAGE, { sourceSize: 300 }), undefined);
    deepEqual(refusal(PACKAGE, { expectTarget: { size: 261 } }), {
      code: "wrong-target",
      message: "the delta builds 260 bytes, 261 expected",
      inputOffset: 88,
      outputOffset: 0,
    });
    equal(refusal(PACKAGE, { expectTarget: { size: 260, sha256: sha256(TARGET) } }), undefined);
    equal(refusal(PACKAGE, { expectTarget: {} }), undefined);
    // Only the first 32 bytes of an expected digest count.
    const longer33 = new Uint8Array(33);
    longer33.set(sha256(TARGET));
    longer33[32] = 1;
    equal(refusal(PACKAGE, { expectTarget: { sha256: longer33 } }), undefined);
    const other = sha256(TARGET);
    other[31] ^= 1;
    equal(
      refusal(PACKAGE, { expectTarget: { sha256: other } })?.message,
      "the delta builds another image (target SHA-256)",
    );
    const known = sha256(SOURCE);
    equal(refusal(PACKAGE, { sourceSha256: known }), undefined);
    known[31] ^= 1;
    deepEqual(refusal(PACKAGE, { sourceSha256: known }), {
      code: "wrong-base",
      message: "the running image's SHA-256 is not the delta's source",
      inputOffset: 88,
      outputOffset: 0,
    });
    const changed = SOURCE.slice();
    changed[299] ^= 1;
    deepEqual(refusal(PACKAGE, { readSource: memorySource(changed).read }), {
      code: "wrong-base",
      message: "the running image's SHA-256 is not the delta's source",
      inputOffset: 88,
      outputOffset: 0,
    });
    const longer = new Uint8Array(PACKAGE.length + 2);
    longer.set(PACKAGE);
    deepEqual(refusal(longer), {
      code: "trailing",
      message: "2 bytes after the end of the package",
      inputOffset: PACKAGE.length,
      outputOffset: 260,
    });
    const a = applier();
    equal(a.push(PACKAGE), DELTA_DONE);
    equal(a.push(Uint8Array.of(1, 2, 3), 1), DELTA_FAILED);
    equal(a.failure?.message, "2 bytes after the end of the package");
  });

  it("reads the source in scratch-sized pieces for its SHA-256, once, and names a failed read", () => {
    const reads: string[] = [];
    const a = applier({
      bufferSize: 128,
      readSource: (offset, length, into) => {
        reads.push(`${offset}+${length}`);
        into.set(SOURCE.subarray(offset, offset + length));
        return true;
      },
    });
    equal(a.push(PACKAGE.subarray(0, 88)), DELTA_NEED_MORE);
    equal(reads.join(" "), "0+128 128+128 256+44");
    deepEqual(refusal(PACKAGE, { readSource: () => false }), {
      code: "source-read",
      message: "reading the source at 0 failed",
      inputOffset: 88,
      outputOffset: 0,
    });
    const failingLate = refusal(PACKAGE, {
      bufferSize: 128,
      readSource: (offset, length, into) => {
        if (offset >= 256) throw new Error("late");
        into.set(SOURCE.subarray(offset, offset + length));
        return true;
      },
    });
    equal(failingLate?.message, "reading the source at 256 failed");
    equal(failingLate?.code, "source-read");
  });

  it("says where a truncated package ended, and names a patch that ends early or short", () => {
    const cut = (n: number) => {
      const a = applier();
      a.push(PACKAGE.subarray(0, n));
      equal(a.finish(), DELTA_FAILED);
      return a.failure;
    };
    deepEqual(cut(10), {
      code: "truncated",
      message: "the package ended in the header (10 of 88 bytes)",
      inputOffset: 10,
      outputOffset: 0,
    });
    equal(cut(0)?.message, "the package ended in the header (0 of 88 bytes)");
    equal(cut(88)?.message, `the package ended at byte 88 of ${PACKAGE.length}`);
    equal(cut(100)?.message, `the package ended at byte 100 of ${PACKAGE.length}`);
    // The header declares 3 more patch bytes than the patch has.
    const parsed = parseDeltaHeader(PACKAGE);
    ok(parsed.ok, "header");
    const longer = new Uint8Array(PACKAGE.length);
    longer.set(PACKAGE);
    longer.set(encodeDeltaHeader({ ...parsed.header, patchSize: PATCH.length + 3 }));
    deepEqual(refusal(longer), {
      code: "trailing",
      message: `the patch ends at byte ${PATCH.length} of its declared ${PATCH.length + 3}`,
      inputOffset: PACKAGE.length,
      outputOffset: 260,
    });
    // And 1 fewer: the patch stops one byte before its end.
    const shorter = PACKAGE.slice(0, PACKAGE.length - 1);
    shorter.set(encodeDeltaHeader({ ...parsed.header, patchSize: PATCH.length - 1 }));
    const f = refusal(shorter);
    equal(f?.code, "too-short");
    equal(f?.message, `the patch ended at its declared ${PATCH.length - 1} bytes with output 260 of 260`);
  });

  it("refuses a built image whose digest is not the header's, and keeps the first failure", () => {
    const parsed = parseDeltaHeader(PACKAGE);
    ok(parsed.ok, "header");
    const lying = PACKAGE.slice();
    const wrong = sha256(TARGET);
    wrong[0] ^= 1;
    lying.set(encodeDeltaHeader({ ...parsed.header, targetSha256: wrong }));
    const a = applier();
    equal(a.push(lying), DELTA_FAILED);
    deepEqual(a.failure, {
      code: "wrong-target",
      message: "the built image's SHA-256 is not the declared target's",
      inputOffset: PACKAGE.length,
      outputOffset: 260,
    });
    ok(!a.done, "not done");
    equal(a.push(PACKAGE), DELTA_FAILED);
    equal(a.finish(), DELTA_FAILED);
    equal(a.save(new Uint8Array(DELTA_STATE_SIZE)), 0);
    ok(!a.restore(new Uint8Array(DELTA_STATE_SIZE), () => true), "no restore after a failure");
    equal(a.failure?.code, "wrong-target");
  });

  it("checks the push range", () => {
    for (const [start, end] of [
      [-1, 3],
      [0, PACKAGE.length + 1],
      [5, 4],
    ] as const) {
      const a = applier();
      equal(a.push(PACKAGE, start, end), DELTA_FAILED);
      deepEqual(a.failure, {
        code: "state",
        message: `push range ${start}..${end} outside a chunk of ${PACKAGE.length}`,
        inputOffset: 0,
        outputOffset: 0,
      });
    }
    equal(applier().push(PACKAGE, 4, 4), DELTA_NEED_MORE);
    for (const bufferSize of [4, 0x10000]) equal(applier({ bufferSize }).failure, undefined, `${bufferSize}`);
    deepEqual(applier({ bufferSize: 0x10001 }).failure, {
      code: "state",
      message: "bad options: bufferSize 65537",
      inputOffset: 0,
      outputOffset: 0,
    });
    equal(applier({ bufferSize: 3 }).bufferBytes, 88 + 256);
  });
});

describe("src/delta/package: checkpoints", () => {
  it("saves nothing before the header is whole, and a record with the end flag once done", () => {
    const a = applier();
    equal(a.push(PACKAGE, 0, 87), DELTA_NEED_MORE);
    equal(a.save(new Uint8Array(DELTA_STATE_SIZE)), 0);
    equal(a.failure, undefined);
    equal(a.push(PACKAGE, 87), DELTA_DONE);
    const record = new Uint8Array(DELTA_STATE_SIZE + 1).fill(0xee);
    equal(a.save(record, 1), DELTA_STATE_SIZE);
    deepEqual(Array.from(record.subarray(0, 5)), [0xee, 1, 1, 0, 0]);
    bytesEqual(record.subarray(5, 5 + 88), PACKAGE.subarray(0, 88));
    const sink = new MemorySink();
    sink.write(TARGET, TARGET.length);
    const b = applier({}, sink);
    ok(b.restore(record, sink.read, 1), b.failure?.message ?? "");
    ok(b.done, "done again");
    equal(b.finish(), DELTA_DONE);
    equal(b.push(PACKAGE, PACKAGE.length), DELTA_DONE);
    const flag = record.slice();
    flag[2] = 0;
    const c = applier({}, sink);
    ok(!c.restore(flag, sink.read, 1), "end flag cleared");
    equal(c.failure?.message, "checkpoint record: inconsistent end flag");
  });

  it("names a short buffer, a started applier, a bad record and a failed output read", () => {
    const sink = new MemorySink();
    const a = applier({ boundary: 64, bufferSize: 64 }, sink);
    equal(a.push(PACKAGE), DELTA_BOUNDARY);
    const record = new Uint8Array(DELTA_STATE_SIZE);
    equal(a.save(record), DELTA_STATE_SIZE);
    deepEqual(Array.from(record.subarray(0, 4)), [1, 0, 0, 0]);
    equal(DELTA_STATE_SIZE, 392);
    const started = applier();
    started.push(PACKAGE, 0, 1);
    ok(!started.restore(record, sink.read), "started");
    equal(started.failure?.message, "restore() on an applier that already started");
    const short = applier();
    ok(!short.restore(record.subarray(0, DELTA_STATE_SIZE - 1), sink.read), "short");
    deepEqual(short.failure, {
      code: "state",
      message: "checkpoint record: bad length or version",
      inputOffset: 0,
      outputOffset: 0,
    });
    const version = record.slice();
    version[0] = 2;
    const v = applier();
    ok(!v.restore(version, sink.read), "version");
    equal(v.failure?.message, "checkpoint record: bad length or version");
    const unread = applier();
    ok(!unread.restore(record, () => false), "output read");
    deepEqual(unread.failure, {
      code: "sink",
      message: "reading the output at 0 failed",
      inputOffset: a.packageOffset,
      outputOffset: 64,
    });
    const small = applier({ boundary: 64, bufferSize: 64 });
    equal(small.push(PACKAGE), DELTA_BOUNDARY);
    equal(small.save(new Uint8Array(DELTA_STATE_SIZE + 2), 3), 0);
    equal(small.failure?.message, `checkpoint buffer of ${DELTA_STATE_SIZE - 1} bytes, 392 needed`);
    // A record whose patch state is damaged: the patch applier's own failure.
    const damaged = record.slice();
    damaged[DELTA_STATE_SIZE - 1] ^= 1;
    const d = applier();
    ok(!d.restore(damaged, sink.read), "damaged");
    equal(d.failure?.message, "checkpoint record: bad length or CRC");
    // A record whose header is damaged: the header's failure.
    const header = record.slice();
    header[4] ^= 1;
    const h = applier();
    ok(!h.restore(header, sink.read), "header");
    equal(h.failure?.message, "not a delta package (magic)");
  });

  it("re-reads the output in scratch-sized pieces and hashes exactly it", () => {
    const sink = new MemorySink();
    const a = applier({ boundary: 200, bufferSize: 100 }, sink);
    equal(a.push(PACKAGE), DELTA_BOUNDARY);
    const record = new Uint8Array(DELTA_STATE_SIZE);
    equal(a.save(record), DELTA_STATE_SIZE);
    const at = a.consumed;
    const reads: string[] = [];
    const b = applier({ boundary: 200, bufferSize: 100 }, sink);
    ok(
      b.restore(record, (offset, length, into) => {
        reads.push(`${offset}+${length}`);
        return sink.read(offset, length, into);
      }),
      "restore",
    );
    equal(reads.join(" "), "0+100 100+100");
    equal(b.push(PACKAGE, at), DELTA_DONE);
    bytesEqual(sink.result(), TARGET);
  });
});

describe("src/delta/package: more edges", () => {
  it("writes nothing and returns DELTA_FAILED for each refusal of the header's checks", () => {
    const wrongSha = sha256(TARGET);
    wrongSha[3] ^= 1;
    const wrongSource = sha256(SOURCE);
    wrongSource[3] ^= 1;
    const changed = SOURCE.slice();
    changed[5] ^= 1;
    const cases: [string, Partial<DeltaPackageOptions>][] = [
      ["size", { sourceSize: 1 }],
      ["target size", { expectTarget: { size: 1 } }],
      ["target digest", { expectTarget: { sha256: wrongSha } }],
      ["known source digest", { sourceSha256: wrongSource }],
      ["source digest", { readSource: memorySource(changed).read }],
      ["source read", { readSource: () => false }],
    ];
    for (const [what, options] of cases) {
      const sink = new MemorySink();
      const a = applier(options, sink);
      equal(a.push(PACKAGE), DELTA_FAILED, what);
      equal(sink.length, 0, `${what}: nothing written`);
      equal(a.outputOffset, 0, what);
    }
    const bad = applier({ bufferSize: 3 });
    equal(bad.push(PACKAGE), DELTA_FAILED, "bad options");
  });

  it("hands on the patch applier's refusal with the package offset", () => {
    const bad = PACKAGE.slice();
    bad[88] = 0x14;
    const a = applier();
    equal(a.push(bad), DELTA_FAILED);
    deepEqual(a.failure, {
      code: "unsupported",
      message: "patch type 1 (only sequential, 0)",
      inputOffset: 89,
      outputOffset: 0,
    });
  });

  it("names bytes after the package pushed in a later piece", () => {
    const longer = new Uint8Array(PACKAGE.length + 2);
    longer.set(PACKAGE);
    const a = applier();
    equal(a.push(longer, 0, 100), DELTA_NEED_MORE);
    equal(a.push(longer, 100), DELTA_FAILED);
    equal(a.failure?.message, "2 bytes after the end of the package");
  });

  it("turns a digest that throws into an internal error instead of throwing", () => {
    const throwing = (on: "close" | "reset") => {
      const real = sha256Digest();
      return {
        write: (bytes: Uint8Array) => real.write(bytes),
        reset: () => {
          if (on === "reset") throw new Error("reset");
          real.reset();
        },
        close: () => {
          if (on === "close") throw new Error("close");
          return real.close();
        },
      } as unknown as DeltaPackageOptions["sha256"];
    };
    const a = applier({ sha256: throwing("close"), sourceSha256: sha256(SOURCE) });
    equal(a.push(PACKAGE), DELTA_FAILED);
    equal(a.failure?.code, "state");
    equal(a.failure?.message, "internal error: Error: close");
    const sink = new MemorySink();
    const b = applier({ boundary: 64, bufferSize: 64 }, sink);
    equal(b.push(PACKAGE), DELTA_BOUNDARY);
    const record = new Uint8Array(DELTA_STATE_SIZE);
    equal(b.save(record), DELTA_STATE_SIZE);
    const c = applier({ sha256: throwing("reset") });
    ok(!c.restore(record, sink.read), "restore");
    equal(c.failure?.message, "internal error: Error: reset");
    // A restore reads the output, never the source.
    let sourceReads = 0;
    const d = applier({
      readSource: () => {
        sourceReads++;
        return false;
      },
    });
    ok(d.restore(record, sink.read), d.failure?.message ?? "");
    equal(sourceReads, 0);
    // An applier failed at its construction restores nothing.
    ok(!applier({ bufferSize: 3 }).restore(record, sink.read), "failed applier");
    // An end flag on a record of an unfinished patch: refused, and the applier stays failed.
    const flagged = record.slice();
    flagged[1] = 1;
    const f = applier();
    ok(!f.restore(flagged, sink.read), "end flag");
    equal(f.failure?.message, "checkpoint record: inconsistent end flag");
    equal(f.finish(), DELTA_FAILED);
    // A record too short for its offset.
    const shifted = new Uint8Array(DELTA_STATE_SIZE + 1);
    shifted.set(record.subarray(0, DELTA_STATE_SIZE - 1), 2);
    const e = applier();
    ok(!e.restore(shifted, sink.read, 2), "short at an offset");
    equal(e.failure?.message, "checkpoint record: bad length or version");
  });

  it("fails a checkpoint whose flush fails, with the sink's failure", () => {
    let refuse = false;
    const a = applier({ bufferSize: 64, write: () => !refuse });
    equal(a.push(PACKAGE, 0, 120), DELTA_NEED_MORE);
    const out = a.outputOffset;
    ok(out % 64 !== 0, `${out} bytes out, some buffered`);
    refuse = true;
    equal(a.save(new Uint8Array(DELTA_STATE_SIZE)), 0);
    equal(a.failure?.code, "sink");
    equal(a.failure?.message, `writing ${out % 64} bytes at ${out - (out % 64)} failed`);
  });
});

describe("src/delta/package: the header in pieces", () => {
  it("takes the header from pushes that start inside the chunk", () => {
    const a = applier();
    equal(a.push(PACKAGE, 0, 10), DELTA_NEED_MORE);
    equal(a.push(PACKAGE, 10, 20), DELTA_NEED_MORE);
    equal(a.consumed, 10);
    equal(a.packageOffset, 20);
    equal(a.push(PACKAGE, 20, 88), DELTA_NEED_MORE);
    equal(a.consumed, 68);
    ok(a.header !== undefined, "header whole");
    equal(a.push(PACKAGE, 88), DELTA_DONE);
  });

  it("takes no more header bytes than a push from inside the chunk holds", () => {
    // 58 header bytes missing, 20 pushed from 30: the cut is end - pos (20), not end + pos (80).
    const a = applier();
    equal(a.push(PACKAGE, 0, 30), DELTA_NEED_MORE);
    equal(a.push(PACKAGE, 30, 50), DELTA_NEED_MORE);
    equal(a.consumed, 20);
    equal(a.packageOffset, 50);
    ok(a.header === undefined, "header not yet whole");
    equal(a.push(PACKAGE, 50, 88), DELTA_NEED_MORE);
    equal(a.consumed, 38);
    ok(a.header !== undefined, "header whole");
    equal(a.push(PACKAGE, 88), DELTA_DONE);
  });
});
