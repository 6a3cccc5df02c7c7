// SequentialPatchApplier at its edges: every refusal's exact code, message and offsets, the bounds of its fields,
// options and checkpoints, and the exact source reads and sink writes (portable; tiny hand-made patches).
import { bytesEqual, deepEqual, equal, ok } from "../../lib/assert.js";
import {
  DELTA_BOUNDARY,
  DELTA_DONE,
  DELTA_FAILED,
  DELTA_NEED_MORE,
  SEQUENTIAL_STATE_SIZE,
  SequentialPatchApplier,
  type DeltaFailure,
  type SequentialApplierOptions,
} from "../../../src/delta/index.js";
import { crc32 } from "../../../src/flash-format/crc32.js";
import { ByteSink } from "../../../tools/delta/bsdiff.js";
import { heatshrinkEncode } from "../../../tools/delta/heatshrink-encoder.js";
import { MemorySink, memorySource } from "../../../tools/delta/apply.js";

/** A 40-byte source: 0, 3, 6, ... */
const SOURCE = Uint8Array.from({ length: 40 }, (_, i) => (i * 3) & 0xff);

/** A sequential heatshrink patch of `toSize` around a hand-made decompressed body (after the data-format size). */
function patchOf(toSize: number, body: (sink: ByteSink) => void): Uint8Array {
  const plain = new ByteSink();
  plain.size(0);
  body(plain);
  const patch = new ByteSink();
  patch.byte(0x04);
  patch.size(toSize);
  patch.byte(0x44);
  patch.append(heatshrinkEncode(plain.result()));
  return patch.result();
}

function applier(
  options: Partial<SequentialApplierOptions> = {},
  sink = new MemorySink(),
): SequentialPatchApplier {
  return new SequentialPatchApplier({
    sourceSize: SOURCE.length,
    readSource: memorySource(SOURCE).read,
    write: sink.write,
    ...options,
  });
}

/** The failure of one whole push (then finish()) of `patch`. */
function failure(
  patch: Uint8Array,
  options: Partial<SequentialApplierOptions> = {},
): DeltaFailure | undefined {
  const a = applier(options);
  if (a.push(patch) !== DELTA_FAILED) a.finish();
  return a.failure;
}

function failed(code: string, message: string, inputOffset: number, outputOffset = 0): DeltaFailure {
  return { code, message, inputOffset, outputOffset } as DeltaFailure;
}

/** diff 4 bytes from source 0 (+1 each), extra 2 bytes, adjust 0: builds 6 bytes. */
const SIMPLE = patchOf(6, (s) => {
  s.size(4);
  s.append(new Uint8Array([1, 1, 1, 1]));
  s.size(2);
  s.append(new Uint8Array([0xaa, 0xbb]));
  s.size(0);
});
const SIMPLE_OUT = new Uint8Array([1, 4, 7, 10, 0xaa, 0xbb]);

describe("src/delta/sequential: the patch header's refusals, exactly", () => {
  it("names the patch type, the compression and the reserved bit with their values", () => {
    deepEqual(failure(Uint8Array.of(0x14)), failed("unsupported", "patch type 1 (only sequential, 0)", 1));
    deepEqual(failure(Uint8Array.of(0x74)), failed("unsupported", "patch type 7 (only sequential, 0)", 1));
    deepEqual(failure(Uint8Array.of(0xf4)), failed("unsupported", "patch type 7 (only sequential, 0)", 1));
    deepEqual(failure(Uint8Array.of(0x0c)), failed("unsupported", "compression 12 (only heatshrink, 4)", 1));
    deepEqual(failure(Uint8Array.of(0x05)), failed("unsupported", "compression 5 (only heatshrink, 4)", 1));
    deepEqual(failure(Uint8Array.of(0x84)), failed("corrupt", "reserved bit set in the patch header", 1));
  });

  it("reads output sizes up to 4 size bytes and refuses a fifth and a negative size", () => {
    const a = applier();
    equal(a.push(Uint8Array.of(0x04, 0xbf, 0xff, 0xff, 0x7f)), DELTA_NEED_MORE);
    equal(a.toSize, 0x7ffffff, "27 bits");
    equal(a.consumed, 5);
    deepEqual(
      failure(Uint8Array.of(0x04, 0x80, 0x80, 0x80, 0x81, 0x00)),
      failed("corrupt", "size field longer than 4 bytes", 6),
    );
    deepEqual(failure(Uint8Array.of(0x04, 0x41)), failed("corrupt", "negative output size", 2));
    deepEqual(failure(Uint8Array.of(0x04, 0xc0, 0x01)), failed("corrupt", "negative output size", 3));
    const b = applier();
    equal(b.push(Uint8Array.of(0x04, 0x81, 0x02)), DELTA_NEED_MORE);
    equal(b.toSize, 1 + (2 << 6));
  });

  it("ends a patch of 0 bytes after its size, and refuses what follows", () => {
    const a = applier();
    equal(a.push(Uint8Array.of(0x04, 0x00)), DELTA_DONE);
    ok(a.done, "done");
    equal(a.finish(), DELTA_DONE);
    equal(a.toSize, 0);
    deepEqual(
      failure(Uint8Array.of(0x04, 0x00, 0x00)),
      failed("trailing", "1 bytes after the end of the patch", 2),
    );
  });

  it("names another heatshrink window and another expected size", () => {
    deepEqual(
      failure(Uint8Array.of(0x04, 0x05, 0x55)),
      failed("unsupported", "heatshrink window 2^9, lookahead 2^8 (only 2^8 and 2^7)", 3),
    );
    deepEqual(
      failure(Uint8Array.of(0x04, 0x05, 0x43)),
      failed("unsupported", "heatshrink window 2^8, lookahead 2^6 (only 2^8 and 2^7)", 3),
    );
    deepEqual(
      failure(Uint8Array.of(0x04, 0x05, 0x44), { targetSize: 6 }),
      failed("wrong-target", "the patch builds 5 bytes, 6 expected", 2),
    );
    const same = applier({ targetSize: 5 });
    equal(same.push(Uint8Array.of(0x04, 0x05, 0x44)), DELTA_NEED_MORE);
    equal(same.failure, undefined);
    const zero = applier({ targetSize: 0 });
    equal(zero.push(Uint8Array.of(0x04, 0x00)), DELTA_DONE, "a target of 0 bytes is a target");
  });
});

describe("src/delta/sequential: the body's refusals, exactly", () => {
  it("refuses a data format, negative lengths, blocks past the output and diffs past the source", () => {
    const df = new ByteSink();
    df.byte(0x04);
    df.size(4);
    df.byte(0x44);
    df.append(heatshrinkEncode(Uint8Array.of(1)));
    deepEqual(
      failure(df.result()),
      failed("unsupported", "a data format section (detools --data-format)", 5),
    );
    deepEqual(failure(patchOf(4, (s) => s.size(-1))), failed("corrupt", "negative diff length -1", 6));
    deepEqual(
      failure(
        patchOf(4, (s) => {
          s.size(0);
          s.size(-1);
        }),
      ),
      failed("corrupt", "negative extra length -1", 7),
    );
    deepEqual(
      failure(patchOf(4, (s) => s.size(5))),
      failed("too-long", "diff of 5 bytes at output byte 0 of 4", 6),
    );
    deepEqual(
      failure(
        patchOf(4, (s) => {
          s.size(0);
          s.size(5);
        }),
      ),
      failed("too-long", "extra of 5 bytes at output byte 0 of 4", 7),
    );
    deepEqual(
      failure(
        patchOf(4, (s) => {
          s.size(0);
          s.size(0);
          s.size(38);
          s.size(4);
        }),
      ),
      failed("source-range", "diff reads source bytes 38..42 of 40", 9),
    );
    deepEqual(
      failure(
        patchOf(4, (s) => {
          s.size(0);
          s.size(0);
          s.size(-1);
          s.size(1);
        }),
      ),
      failed("source-range", "diff reads source bytes -1..0 of 40", 9),
    );
  });

  it("takes blocks that just fit: a diff to the source's last byte, an extra to the declared size", () => {
    const a = applier();
    const patch = patchOf(6, (s) => {
      s.size(0);
      s.size(0);
      s.size(36);
      s.size(4);
      s.append(new Uint8Array(4));
      s.size(2);
      s.append(Uint8Array.of(7, 8));
      s.size(0);
    });
    equal(a.push(patch), DELTA_DONE);
    equal(a.finish(), DELTA_DONE);
    const sink = new MemorySink();
    applier({}, sink).push(patch);
    bytesEqual(sink.result(), Uint8Array.of(108, 111, 114, 117, 7, 8));
    // A diff of 0 bytes past the source's end is no read.
    const empty = patchOf(1, (s) => {
      s.size(0);
      s.size(0);
      s.size(45);
      s.size(0);
      s.size(1);
      s.append(Uint8Array.of(9));
      s.size(0);
    });
    equal(applier().push(empty), DELTA_DONE);
  });

  it("moves the source position up to 2^31 - 1 either way and refuses one more", () => {
    // 16 adjustments of 2^27 - 1 (the largest size field) then 15: exactly 2^31 - 1.
    const steps = (sign: number, last: number) =>
      patchOf(1, (s) => {
        for (let i = 0; i < 16; i++) {
          s.size(0);
          s.size(0);
          s.size(sign * 0x7ffffff);
        }
        s.size(0);
        s.size(0);
        s.size(sign * last);
        s.size(0);
        s.size(1);
        s.append(Uint8Array.of(5));
        s.size(0);
      });
    equal(applier().push(steps(1, 15)), DELTA_DONE);
    equal(applier().push(steps(-1, 15)), DELTA_DONE);
    const over = failure(steps(1, 16));
    equal(over?.code, "corrupt");
    equal(over?.message, "source position 2147483648 out of range");
    equal(failure(steps(-1, 16))?.message, "source position -2147483648 out of range");
  });

  it("refuses nonzero padding after the last field", () => {
    // The last adjustment's byte is followed by a literal tag bit: stray bits after the end.
    const plain = new ByteSink();
    plain.size(0);
    plain.size(0);
    plain.size(1);
    plain.append(Uint8Array.of(3));
    plain.size(0);
    plain.byte(0x55);
    const patch = new ByteSink();
    patch.byte(0x04);
    patch.size(1);
    patch.byte(0x44);
    const body = heatshrinkEncode(plain.result());
    patch.append(body);
    const f = failure(patch.result());
    equal(f?.code, "corrupt");
    equal(f?.message, "nonzero padding after the last patch field");
    equal(f?.outputOffset, 1);
  });

  it("says where a truncated patch ended", () => {
    deepEqual(failure(Uint8Array.of(0x04)), failed("truncated", "the patch ended in the header", 1));
    deepEqual(failure(new Uint8Array(0)), failed("truncated", "the patch ended in the header", 0));
    deepEqual(
      failure(SIMPLE.subarray(0, SIMPLE.length - 1)),
      failed("truncated", "the patch ended at output byte 6 of 6", SIMPLE.length - 1, 6),
    );
  });
});

describe("src/delta/sequential: calls and options", () => {
  it("builds a tiny patch exactly and counts its offsets", () => {
    const sink = new MemorySink();
    const a = applier({}, sink);
    equal(a.push(SIMPLE), DELTA_DONE);
    equal(a.consumed, SIMPLE.length);
    equal(a.inputOffset, SIMPLE.length);
    equal(a.outputOffset, 6);
    bytesEqual(sink.result(), SIMPLE_OUT);
    equal(a.bufferBytes, 256 + 256 + 256 + 1);
    equal(applier({ bufferSize: 8 }).bufferBytes, 8 + 8 + 256 + 1);
  });

  it("checks the push range and takes an empty one", () => {
    const a = applier();
    equal(a.push(SIMPLE, 2, 2), DELTA_NEED_MORE);
    equal(a.consumed, 0);
    equal(a.failure, undefined);
    equal(a.push(SIMPLE, 0, 0), DELTA_NEED_MORE);
    equal(a.push(SIMPLE, 0, SIMPLE.length), DELTA_DONE, "the whole chunk still applies");
    for (const [start, end] of [
      [-1, 2],
      [0, SIMPLE.length + 1],
      [3, 2],
    ] as const) {
      const b = applier();
      equal(b.push(SIMPLE, start, end), DELTA_FAILED);
      deepEqual(
        b.failure,
        failed("state", `push range ${start}..${end} outside a chunk of ${SIMPLE.length}`, 0),
      );
      equal(b.push(SIMPLE), DELTA_FAILED, "sticks");
      equal(b.finish(), DELTA_FAILED);
      ok(!b.flush(), "no flush after a failure");
      equal(b.save(new Uint8Array(SEQUENTIAL_STATE_SIZE)), 0);
      ok(!b.restore(new Uint8Array(SEQUENTIAL_STATE_SIZE)), "no restore after a failure");
      equal(b.failure!.code, "state", "the first failure stays");
    }
    // Pushed in two ranges of one chunk.
    const c = applier();
    equal(c.push(SIMPLE, 0, 5), DELTA_NEED_MORE);
    equal(c.consumed, 5);
    equal(c.push(SIMPLE, 5), DELTA_DONE);
    equal(c.consumed, SIMPLE.length - 5);
  });

  it("accepts buffer sizes 4 to 65536 and source sizes 0 to 2^31 - 1, and names bad options", () => {
    for (const bufferSize of [4, 0x10000]) equal(applier({ bufferSize }).failure, undefined, `${bufferSize}`);
    for (const sourceSize of [0, 0x7fffffff])
      equal(applier({ sourceSize }).failure, undefined, `${sourceSize}`);
    equal(applier({ boundary: 0 }).failure, undefined);
    deepEqual(
      applier({ bufferSize: 3 }).failure,
      failed("state", "bad options: bufferSize 3, sourceSize 40, boundary 0", 0),
    );
    deepEqual(
      applier({ bufferSize: 0x10001 }).failure,
      failed("state", "bad options: bufferSize 65537, sourceSize 40, boundary 0", 0),
    );
    equal(applier({ bufferSize: 0x10001 }).bufferSize, 256);
    deepEqual(
      applier({ sourceSize: -1 }).failure,
      failed("state", "bad options: bufferSize 256, sourceSize -1, boundary 0", 0),
    );
    deepEqual(
      applier({ sourceSize: 0x80000000 }).failure,
      failed("state", "bad options: bufferSize 256, sourceSize 2147483648, boundary 0", 0),
    );
    deepEqual(
      applier({ boundary: -4 }).failure,
      failed("state", "bad options: bufferSize 256, sourceSize 40, boundary -4", 0),
    );
    equal(applier({ sourceSize: Number.NaN }).failure?.code, "state");
    equal(applier({ boundary: Number.NaN }).failure?.code, "state");
  });

  it("reads the source from word-aligned offsets, at most a buffer at a time and never past its end", () => {
    const reads: string[] = [];
    const a = applier({
      bufferSize: 8,
      readSource: (offset, length, into) => {
        reads.push(`${offset}+${length}`);
        into.set(SOURCE.subarray(offset, offset + length));
        return true;
      },
    });
    const sink = new MemorySink();
    const b = applier({ bufferSize: 8 }, sink);
    const patch = patchOf(14, (s) => {
      s.size(0);
      s.size(0);
      s.size(29);
      s.size(11);
      s.append(new Uint8Array(11).fill(1));
      s.size(0);
      s.size(-30);
      s.size(3);
      s.append(new Uint8Array(3));
      s.size(0);
      s.size(0);
    });
    equal(a.push(patch), DELTA_DONE);
    equal(reads.join(" "), "28+8 36+4 8+8");
    equal(b.push(patch), DELTA_DONE);
    const expected = [
      ...Array.from(SOURCE.subarray(29, 40), (v) => (v + 1) & 0xff),
      ...SOURCE.subarray(10, 13),
    ];
    bytesEqual(sink.result(), Uint8Array.from(expected));
  });

  it("adds source words with byte-wise carries at every alignment", () => {
    // 0xff + 0x01 wraps within each byte; the SWAR path must not carry into the next byte.
    const source = new Uint8Array(64).fill(0xff);
    for (let i = 0; i < 64; i += 3) source[i] = 0x80;
    for (const [skip, at] of [
      [0, 0],
      [1, 1],
      [2, 5],
      [4, 0],
    ] as const) {
      const sink = new MemorySink();
      const a = new SequentialPatchApplier({
        sourceSize: source.length,
        readSource: memorySource(source).read,
        write: sink.write,
        bufferSize: 32,
      });
      const diff = Uint8Array.from({ length: 40 }, (_, i) => (i % 5 === 0 ? 0x80 : 1));
      const patch = patchOf(at + 40, (s) => {
        if (at > 0) {
          s.size(0);
          s.size(at);
          s.append(new Uint8Array(at).fill(0x11));
          s.size(0);
        }
        s.size(0);
        s.size(0);
        s.size(skip);
        s.size(40);
        s.append(diff);
        s.size(0);
        s.size(0);
      });
      equal(a.push(patch), DELTA_DONE, a.failure?.message ?? "");
      const expected = new Uint8Array(at + 40).fill(0x11);
      for (let i = 0; i < 40; i++) expected[at + i] = (source[skip + i]! + diff[i]!) & 0xff;
      bytesEqual(sink.result(), expected, `skip ${skip}, at ${at}`);
    }
  });

  it("turns failed and throwing callbacks into exact failures", () => {
    deepEqual(
      failure(SIMPLE, { readSource: () => false }),
      failed("source-read", "reading 40 source bytes at 0 failed", 9),
    );
    deepEqual(
      failure(SIMPLE, {
        readSource: () => {
          throw new Error("bad flash");
        },
      }),
      failed("source-read", "reading 40 source bytes at 0: Error: bad flash", 9),
    );
    deepEqual(
      failure(SIMPLE, { write: () => false }),
      failed("sink", "writing 6 bytes at 0 failed", SIMPLE.length, 6),
    );
    deepEqual(
      failure(SIMPLE, {
        write: () => {
          throw new Error("worn");
        },
      }),
      failed("sink", "writing 6 bytes at 0: Error: worn", SIMPLE.length, 6),
    );
    // A sink returning nothing (undefined) accepted the bytes.
    equal(
      applier({
        write: () => undefined,
        readSource: (o, l, into) => void into.set(SOURCE.subarray(o, o + l)),
      }).push(SIMPLE),
      DELTA_DONE,
    );
  });

  it("writes full buffers at their multiples and stops at every boundary with the rest unconsumed", () => {
    const lengths: number[] = [];
    const out = new MemorySink();
    const a = applier({
      bufferSize: 4,
      boundary: 8,
      write: (bytes, length) => {
        lengths.push(length);
        return out.write(bytes, length);
      },
    });
    const patch = patchOf(18, (s) => {
      s.size(0);
      s.size(18);
      s.append(Uint8Array.from({ length: 18 }, (_, i) => i));
      s.size(0);
    });
    const stops: string[] = [];
    let at = 0;
    let status: number = DELTA_NEED_MORE;
    while (status !== DELTA_DONE && status !== DELTA_FAILED) {
      status = a.push(patch, at);
      at += a.consumed;
      stops.push(`${status}@${a.outputOffset}`);
    }
    equal(stops.join(" "), `${DELTA_BOUNDARY}@8 ${DELTA_BOUNDARY}@16 ${DELTA_DONE}@18`);
    equal(lengths.join(","), "4,4,4,4,2");
    bytesEqual(
      out.result(),
      Uint8Array.from({ length: 18 }, (_, i) => i),
    );
    ok(a.flush(), "nothing left to flush");
  });
});

describe("src/delta/sequential: checkpoint records", () => {
  function midway(): { record: Uint8Array; at: number; sink: MemorySink } {
    const sink = new MemorySink();
    const a = applier({ bufferSize: 4, boundary: 4 }, sink);
    equal(a.push(SIMPLE), DELTA_BOUNDARY);
    const record = new Uint8Array(SEQUENTIAL_STATE_SIZE + 2);
    equal(a.save(record, 2), SEQUENTIAL_STATE_SIZE);
    return { record, at: a.consumed, sink };
  }

  it("has its fields at fixed places", () => {
    const { record } = midway();
    const r = record.subarray(2);
    const view = new DataView(r.buffer, r.byteOffset);
    deepEqual(
      [r[0], r[1], r[2], r[3], view.getUint32(8, true), view.getUint32(12, true), view.getUint32(16, true)],
      [1, 6, 0, 0, 6, 4, 4],
    );
    equal(view.getUint32(28, true), SOURCE.length);
    equal(view.getUint32(SEQUENTIAL_STATE_SIZE - 4, true), crc32(r, 0, SEQUENTIAL_STATE_SIZE - 4));
    equal(SEQUENTIAL_STATE_SIZE, 300);
  });

  it("refuses a buffer one byte short and restores from an offset", () => {
    const sink = new MemorySink();
    const a = applier({ bufferSize: 4, boundary: 4 }, sink);
    equal(a.push(SIMPLE), DELTA_BOUNDARY);
    equal(a.save(new Uint8Array(SEQUENTIAL_STATE_SIZE + 1), 2), 0);
    deepEqual(
      a.failure,
      failed(
        "state",
        `checkpoint buffer of ${SEQUENTIAL_STATE_SIZE - 1} bytes, 300 needed`,
        a.inputOffset,
        4,
      ),
    );
    const { record, at } = midway();
    const b = applier({ bufferSize: 4 }, sink);
    ok(b.restore(record, 2), b.failure?.message ?? "");
    equal(b.push(SIMPLE, at), DELTA_DONE);
    equal(b.outputOffset, 6);
    ok(!applier().restore(record.subarray(0, SEQUENTIAL_STATE_SIZE + 1), 2), "one byte short");
    deepEqual(applier().failure, undefined);
    const short = applier();
    short.restore(record.subarray(0, SEQUENTIAL_STATE_SIZE + 1), 2);
    deepEqual(short.failure, failed("state", "checkpoint record: bad length or CRC", 0));
  });

  it("refuses each impossible value under a right CRC, and one for another source or target", () => {
    const { record } = midway();
    const r = record.slice(2);
    const reseal = (edit: (view: DataView, bytes: Uint8Array) => void): Uint8Array => {
      const copy = r.slice();
      const view = new DataView(copy.buffer);
      edit(view, copy);
      view.setUint32(SEQUENTIAL_STATE_SIZE - 4, crc32(copy, 0, SEQUENTIAL_STATE_SIZE - 4), true);
      return copy;
    };
    const refused = (bytes: Uint8Array, options: Partial<SequentialApplierOptions> = {}): boolean => {
      const a = applier(options);
      const ok = a.restore(bytes);
      if (!ok) equal(a.failure?.message, "checkpoint record: values out of range or for another source");
      return !ok;
    };
    ok(!refused(reseal(() => undefined)), "the record itself restores");
    ok(refused(reseal((_, b) => (b[0] = 2))), "version");
    ok(refused(reseal((_, b) => (b[1] = 10))), "phase past done");
    ok(!refused(reseal((_, b) => (b[2] = 32))), "shift 32");
    ok(refused(reseal((_, b) => (b[2] = 33))), "shift 33");
    ok(refused(reseal((v) => v.setUint32(28, 41, true))), "another source size");
    ok(refused(reseal((v) => v.setUint32(12, 7, true))), "output past the size");
    ok(refused(reseal((v) => v.setUint32(20, 3, true))), "block past the size");
    ok(refused(reseal((v) => v.setUint32(24, 0x80000000, true))), "input offset");
    ok(!refused(reseal((v) => v.setUint32(24, 0x7fffffff, true))), "input offset 2^31 - 1");
    ok(
      refused(
        reseal(() => undefined),
        { targetSize: 7 },
      ),
      "another target",
    );
    ok(
      !refused(
        reseal(() => undefined),
        { targetSize: 6 },
      ),
      "the target",
    );
    ok(refused(reseal((v) => v.setUint32(8, 0x80000000, true))), "size past 2^31 - 1");
    ok(refused(reseal((_, b) => (b[32] = 5))), "decoder state");
    ok(
      refused(
        reseal(() => undefined),
        { targetSize: 0 },
      ),
      "a target of 0 bytes",
    );
    ok(!refused(reseal((v) => v.setUint32(8, 0x7fffffff, true))), "size 2^31 - 1");
    ok(refused(reseal((v, b) => ((b[1] = 5), v.setUint32(20, 0, true)))), "a diff with nothing left");
    ok(refused(reseal((v, b) => ((b[1] = 7), v.setUint32(20, 0, true)))), "an extra with nothing left");
    ok(
      !refused(reseal((v, b) => ((b[1] = 5), v.setUint32(20, 1, true), v.setInt32(16, 0, true)))),
      "a diff at 0",
    );
    ok(!refused(reseal((v, b) => ((b[1] = 7), v.setUint32(20, 2, true)))), "an extra of 2");
  });

  it("takes a record saved before the output size is known, and restores its phase", () => {
    const a = applier();
    equal(a.push(SIMPLE, 0, 1), DELTA_NEED_MORE);
    const record = new Uint8Array(SEQUENTIAL_STATE_SIZE);
    equal(a.save(record), SEQUENTIAL_STATE_SIZE);
    equal(record[1], 1, "in the output size");
    const sink = new MemorySink();
    const b = applier({ targetSize: 6 }, sink);
    ok(b.restore(record), b.failure?.message ?? "");
    equal(b.toSize, -1, "not read yet");
    equal(b.push(SIMPLE, 1), DELTA_DONE);
    bytesEqual(sink.result(), SIMPLE_OUT);
  });
});

describe("src/delta/sequential: more edges", () => {
  it("returns DELTA_FAILED from the push whose callback failed, and refuses a 0-byte target that differs", () => {
    equal(applier({ write: () => false }).push(SIMPLE), DELTA_FAILED);
    const throwing = applier({
      write: () => {
        throw new Error("x");
      },
    });
    equal(throwing.push(SIMPLE), DELTA_FAILED);
    equal(applier({ readSource: () => false }).push(SIMPLE), DELTA_FAILED);
    deepEqual(
      failure(Uint8Array.of(0x04, 0x05, 0x44), { targetSize: 0 }),
      failed("wrong-target", "the patch builds 5 bytes, 0 expected", 2),
    );
  });

  it("refuses a size field of five bytes inside the body", () => {
    const a = applier();
    const patch = patchOf(4, (s) => {
      for (const b of [0x80, 0x80, 0x80, 0x80, 0x01]) s.byte(b);
    });
    equal(a.push(patch), DELTA_FAILED);
    equal(a.failure?.message, "size field longer than 4 bytes");
  });

  it("stops at boundaries that are no multiple of the buffer, and fails there with the sink", () => {
    const lengths: number[] = [];
    const patch = patchOf(14, (s) => {
      s.size(0);
      s.size(14);
      s.append(Uint8Array.from({ length: 14 }, (_, i) => i + 1));
      s.size(0);
    });
    const a = applier({ bufferSize: 8, boundary: 6, write: (_b, n) => void lengths.push(n) });
    const stops: string[] = [];
    let at = 0;
    let status: number = DELTA_NEED_MORE;
    while (status === DELTA_NEED_MORE || status === DELTA_BOUNDARY) {
      status = a.push(patch, at);
      at += a.consumed;
      stops.push(`${status}@${a.outputOffset}`);
      if (at === patch.length && status === DELTA_NEED_MORE) break;
    }
    equal(stops.join(" "), `${DELTA_BOUNDARY}@6 ${DELTA_BOUNDARY}@12 ${DELTA_DONE}@14`);
    equal(lengths.join(","), "6,2,4,2");
    let calls = 0;
    const b = applier({ bufferSize: 8, boundary: 6, write: () => ++calls < 2 });
    equal(b.push(patch), DELTA_BOUNDARY);
    equal(b.push(patch, b.consumed), DELTA_FAILED, "the flush at output 8 fails");
    const c = applier({ bufferSize: 8, boundary: 6, write: () => false });
    equal(c.push(patch), DELTA_FAILED, "the flush at the boundary fails");
    equal(c.failure?.message, "writing 6 bytes at 0 failed");
  });

  it("resumes from a record saved after any patch byte, mid size field and mid block", () => {
    const patch = patchOf(300, (s) => {
      s.size(0);
      s.size(0);
      s.size(30);
      s.size(200);
      s.append(Uint8Array.from({ length: 200 }, (_, i) => i % 3));
      s.size(0);
      s.size(-100);
      s.size(100);
      s.append(Uint8Array.from({ length: 100 }, (_, i) => i));
      s.size(0);
      s.size(0);
    });
    const whole = new MemorySink();
    const source = new Uint8Array(400).map((_, i) => (i * 11) & 0xff);
    const options = (sink: MemorySink) => ({
      sourceSize: 400,
      readSource: memorySource(source).read,
      write: sink.write,
      bufferSize: 16,
      boundary: 32,
    });
    const ref = new SequentialPatchApplier(options(whole));
    for (let at = 0; at < patch.length;) {
      equal(ref.push(patch, at) === DELTA_FAILED, false);
      at += ref.consumed;
    }
    equal(whole.length, 300);
    const record = new Uint8Array(SEQUENTIAL_STATE_SIZE);
    for (let cut = 1; cut < patch.length; cut++) {
      const sink = new MemorySink();
      const first = new SequentialPatchApplier(options(sink));
      let at = 0;
      while (at < cut) {
        const st = first.push(patch, at, cut);
        at += first.consumed;
        ok(st !== DELTA_FAILED, first.failure?.message ?? "");
      }
      equal(first.save(record), SEQUENTIAL_STATE_SIZE);
      const second = new SequentialPatchApplier(options(sink));
      ok(second.restore(record), `cut ${cut}: ${second.failure?.message ?? ""}`);
      let status: number = DELTA_NEED_MORE;
      let boundaries = 0;
      while (at < patch.length) {
        status = second.push(patch, at);
        at += second.consumed;
        if (status === DELTA_BOUNDARY) boundaries++;
        ok(status !== DELTA_FAILED, `cut ${cut}: ${second.failure?.message ?? ""}`);
      }
      equal(status, DELTA_DONE, `cut ${cut}`);
      equal(boundaries, Math.floor(300 / 32) - Math.floor(first.outputOffset / 32), `cut ${cut}: boundaries`);
      bytesEqual(sink.result(), whole.result(), `cut ${cut}`);
    }
  });

  it("reads the cached source again only outside it", () => {
    const reads: string[] = [];
    const a = applier({
      bufferSize: 8,
      readSource: (offset, length, into) => {
        reads.push(`${offset}+${length}`);
        into.set(SOURCE.subarray(offset, offset + length));
        return true;
      },
    });
    const patch = patchOf(8, (s) => {
      s.size(4);
      s.append(new Uint8Array(4));
      s.size(0);
      s.size(-4);
      s.size(4);
      s.append(new Uint8Array(4));
      s.size(0);
      s.size(0);
    });
    equal(a.push(patch), DELTA_DONE);
    equal(reads.join(" "), "0+8");
  });

  it("continues a restored size field from any shift it accepts", () => {
    const a = applier();
    equal(a.push(SIMPLE, 0, 1), DELTA_NEED_MORE);
    const record = new Uint8Array(SEQUENTIAL_STATE_SIZE);
    a.save(record);
    equal(record[3], 0, "not negative");
    record[2] = 25;
    const view = new DataView(record.buffer);
    view.setUint32(SEQUENTIAL_STATE_SIZE - 4, crc32(record, 0, SEQUENTIAL_STATE_SIZE - 4), true);
    const b = applier();
    ok(b.restore(record), b.failure?.message ?? "");
    equal(b.push(Uint8Array.of(0x01)), DELTA_NEED_MORE);
    equal(b.toSize, 1 << 25);
  });

  it("restores nothing once failed, and refuses a record too short for its offset whatever its bytes", () => {
    const { record } = (() => {
      const a = applier({ bufferSize: 4, boundary: 4 });
      a.push(SIMPLE);
      const r = new Uint8Array(SEQUENTIAL_STATE_SIZE);
      a.save(r);
      return { record: r };
    })();
    const failedOne = applier({ bufferSize: 3 });
    ok(!failedOne.restore(record), "failed: no restore");
    ok(applier().restore(record), "the record is good");
    // A record at offset 2 in 301 bytes lacks its CRC's last byte: find one whose CRC ends in 0 anyway.
    const buffer = new Uint8Array(SEQUENTIAL_STATE_SIZE + 2);
    buffer.set(record, 2);
    let found = false;
    for (let v = 0; v < 65536 && !found; v++) {
      buffer[2 + 32 + 6] = v & 0xff;
      buffer[2 + 32 + 7] = v >> 8;
      const crc = crc32(buffer, 2, 2 + SEQUENTIAL_STATE_SIZE - 4);
      new DataView(buffer.buffer).setUint32(2 + SEQUENTIAL_STATE_SIZE - 4, crc, true);
      found = crc >>> 24 === 0;
    }
    ok(found, "a CRC ending in 0");
    ok(applier().restore(buffer, 2), "the whole record restores");
    const short = applier();
    ok(!short.restore(buffer.subarray(0, SEQUENTIAL_STATE_SIZE + 1), 2), "one byte short");
    equal(short.failure?.message, "checkpoint record: bad length or CRC");
  });
});

describe("src/delta/sequential: last edges", () => {
  it("refuses a restored diff outside the source, and takes one that just fits", () => {
    const a = applier({ bufferSize: 4, boundary: 4 });
    equal(a.push(SIMPLE), DELTA_BOUNDARY);
    const r = new Uint8Array(SEQUENTIAL_STATE_SIZE);
    a.save(r);
    const reseal = (phase: number, chunkLeft: number, fromOffset: number): boolean => {
      const copy = r.slice();
      const view = new DataView(copy.buffer);
      copy[1] = phase;
      view.setUint32(20, chunkLeft, true);
      view.setInt32(16, fromOffset, true);
      view.setUint32(SEQUENTIAL_STATE_SIZE - 4, crc32(copy, 0, SEQUENTIAL_STATE_SIZE - 4), true);
      return applier().restore(copy);
    };
    ok(reseal(5, 2, 38), "a diff to the source's end");
    ok(!reseal(5, 2, 39), "one byte past it");
    ok(!reseal(5, 1, -1), "before the source");
    ok(reseal(7, 2, -1), "an extra reads no source");
    ok(reseal(6, 0, 41), "between blocks the position may be anywhere");
  });

  it("names a block too long for what is left of the output", () => {
    const patch = patchOf(6, (s) => {
      s.size(0);
      s.size(4);
      s.append(new Uint8Array(4));
      s.size(0);
      s.size(3);
    });
    equal(failure(patch)?.message, "diff of 3 bytes at output byte 4 of 6");
  });

  it("restores into an applier without boundaries and keeps each sink write in its buffer", () => {
    const patch = patchOf(18, (s) => {
      s.size(0);
      s.size(18);
      s.append(Uint8Array.from({ length: 18 }, (_, i) => 100 + i));
      s.size(0);
    });
    const first = applier({ bufferSize: 4 });
    equal(first.push(patch, 0, 6), DELTA_NEED_MORE);
    const record = new Uint8Array(SEQUENTIAL_STATE_SIZE);
    equal(first.save(record), SEQUENTIAL_STATE_SIZE);
    const done = first.outputOffset;
    const lengths: number[] = [];
    const sink = new MemorySink();
    const second = applier({
      bufferSize: 4,
      write: (bytes, n) => {
        lengths.push(n);
        return sink.write(bytes, n);
      },
    });
    ok(second.restore(record), second.failure?.message ?? "");
    equal(second.push(patch, 6), DELTA_DONE);
    bytesEqual(
      sink.result(),
      Uint8Array.from({ length: 18 - done }, (_, i) => 100 + done + i),
    );
    ok(
      lengths.every((n) => n <= 4),
      lengths.join(","),
    );
  });

  it("adds short diffs at every alignment, pushed a byte at a time", () => {
    const source = Uint8Array.from({ length: 64 }, (_, i) => 0xf0 + (i & 15));
    for (let lead = 0; lead < 4; lead++)
      for (let skip = 0; skip < 4; skip++)
        for (const length of [1, 3, 5, 7, 9, 13]) {
          const diff = Uint8Array.from({ length }, (_, i) => 0x11 * (i + 1));
          const patch = patchOf(lead + length + 2, (s) => {
            s.size(0);
            s.size(lead);
            s.append(new Uint8Array(lead).fill(7));
            s.size(skip);
            s.size(length);
            s.append(diff);
            s.size(2);
            s.append(Uint8Array.of(1, 2));
            s.size(0);
          });
          const sink = new MemorySink();
          const a = new SequentialPatchApplier({
            sourceSize: 64,
            readSource: memorySource(source).read,
            write: sink.write,
            bufferSize: 8,
          });
          for (let at = 0; at < patch.length; at++) a.push(patch, at, at + 1);
          equal(a.finish(), DELTA_DONE, a.failure?.message ?? "");
          const expected = new Uint8Array(lead + length + 2).fill(7);
          for (let i = 0; i < length; i++) expected[lead + i] = (source[skip + i]! + diff[i]!) & 0xff;
          expected.set([1, 2], lead + length);
          bytesEqual(sink.result(), expected, `lead ${lead}, skip ${skip}, length ${length}`);
        }
  });

  it("fails at a boundary whose flush throws, and turns a bad chunk into an internal error", () => {
    const patch = patchOf(14, (s) => {
      s.size(0);
      s.size(14);
      s.append(new Uint8Array(14));
      s.size(0);
    });
    const a = applier({
      bufferSize: 8,
      boundary: 6,
      write: () => {
        throw new Error("worn");
      },
    });
    equal(a.push(patch), DELTA_FAILED);
    equal(a.failure?.message, "writing 6 bytes at 0: Error: worn");
    const b = applier();
    equal(b.push(null as unknown as Uint8Array, 0, 0), DELTA_FAILED);
    equal(b.failure?.code, "state");
    ok(b.failure!.message.startsWith("internal error: "), b.failure!.message);
  });

  it("adds a word-aligned diff whose cached source run ends inside it, at an output offset past 0", () => {
    // The cache holds source [40, 72); the second diff starts at output 4 with source 52: 20 bytes cached, 8 read next.
    const source = Uint8Array.from({ length: 128 }, (_, i) => (i * 5 + 1) & 0xff);
    const reads: string[] = [];
    const sink = new MemorySink();
    const a = new SequentialPatchApplier({
      sourceSize: source.length,
      readSource: (offset, length, into) => {
        reads.push(`${offset}+${length}`);
        into.set(source.subarray(offset, offset + length));
        return true;
      },
      write: sink.write,
      bufferSize: 32,
    });
    const diff = Uint8Array.from({ length: 32 }, (_, i) => 0x10 + i);
    const patch = patchOf(32, (s) => {
      s.size(0);
      s.size(0);
      s.size(40);
      s.size(4);
      s.append(diff.subarray(0, 4));
      s.size(0);
      s.size(8);
      s.size(28);
      s.append(diff.subarray(4));
      s.size(0);
      s.size(0);
    });
    equal(a.push(patch), DELTA_DONE, a.failure?.message ?? "");
    equal(reads.join(" "), "40+32 72+32");
    const expected = Uint8Array.from(
      { length: 32 },
      (_, i) => (source[i < 4 ? 40 + i : 48 + i]! + diff[i]!) & 0xff,
    );
    bytesEqual(sink.result(), expected);
  });
});
