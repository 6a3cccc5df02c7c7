// Delta appliers on a real Cortex-M pair: byte-identical rebuilds from detools' and our patches in any chunking,
// every refusal with its reason, random patches that never throw nor step outside bounds, checkpoints (portable).
import fc from "fast-check";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesEqual, deepEqual, equal, ok } from "../../lib/assert.js";
import { firmwareDetoolsPatch, firmwareV1, firmwareV2 } from "../../fixtures/delta/fixture-data.js";
import {
  DELTA_BOUNDARY,
  DELTA_DONE,
  DELTA_FAILED,
  DELTA_HEADER_SIZE,
  DELTA_NEED_MORE,
  DELTA_STATE_SIZE,
  DeltaPackageApplier,
  SEQUENTIAL_STATE_SIZE,
  SequentialPatchApplier,
  encodeDeltaHeader,
  parseDeltaHeader,
  type DeltaFailureCode,
} from "../../../src/delta/index.js";
import { crc32 } from "../../../src/flash-format/crc32.js";
import { ByteSink } from "../../../tools/delta/bsdiff.js";
import { heatshrinkEncode } from "../../../tools/delta/heatshrink-encoder.js";
import { makeDeltaPackage, makeSequentialPatch } from "../../../tools/delta/create.js";
import {
  MemorySink,
  applyDeltaPackage,
  applySequentialPatch,
  memorySource,
  sha256Digest,
} from "../../../tools/delta/apply.js";

const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env ?? {};
const ourPatch = makeSequentialPatch(firmwareV1, firmwareV2);
const ourPackage = makeDeltaPackage(firmwareV1, firmwareV2, ourPatch);

/** A raw sequential patch around a hand-made decompressed body (size fields and data). */
function handPatch(toSize: number, body: (sink: ByteSink) => void): Uint8Array {
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

function refusal(result: ReturnType<typeof applySequentialPatch>): DeltaFailureCode | "applied" {
  return result.ok ? "applied" : result.failure.code;
}

describe("src/delta: detools sequential patches", () => {
  it("rebuilds version 2 byte for byte from detools' own patch, in 1-byte, 7-byte and whole chunks", () => {
    for (const chunk of [1, 7, firmwareDetoolsPatch.length]) {
      const result = applySequentialPatch(firmwareV1, firmwareDetoolsPatch, chunk);
      ok(result.ok, `chunk ${chunk}: ${result.ok ? "" : result.failure.message}`);
      bytesEqual(result.output, firmwareV2);
    }
  });

  it("rebuilds version 2 from our patch, which is not larger than detools'", () => {
    const result = applySequentialPatch(firmwareV1, ourPatch, 1);
    ok(result.ok, "applied");
    bytesEqual(result.output, firmwareV2);
    ok(ourPatch.length <= firmwareDetoolsPatch.length, `${ourPatch.length} > ${firmwareDetoolsPatch.length}`);
    equal(ourPatch[0], 0x04, "sequential, heatshrink");
  });

  it("writes the same sink pieces whatever the input chunking", () => {
    const pieces = (chunk: number): string => {
      const lengths: number[] = [];
      const applier = new SequentialPatchApplier({
        sourceSize: firmwareV1.length,
        readSource: memorySource(firmwareV1).read,
        write: (_bytes, length) => void lengths.push(length),
        bufferSize: 64,
      });
      for (let at = 0; at < ourPatch.length; at += chunk)
        applier.push(ourPatch, at, Math.min(ourPatch.length, at + chunk));
      equal(applier.finish(), DELTA_DONE);
      return lengths.join(",");
    };
    const whole = pieces(ourPatch.length);
    equal(pieces(1), whole);
    equal(pieces(5), whole);
    equal(whole, "64,64,64,64,64,64,64,64,64,40");
  });

  it("refuses a truncated patch at every cut point", () => {
    for (let cut = 0; cut < ourPatch.length; cut++) {
      const result = applySequentialPatch(firmwareV1, ourPatch.subarray(0, cut), 16);
      equal(refusal(result), "truncated", `cut at ${cut}`);
      ok(result.output.length <= firmwareV2.length, "no more output than declared");
    }
  });

  it("refuses bytes after the end of the patch", () => {
    const longer = new Uint8Array(ourPatch.length + 1);
    longer.set(ourPatch);
    const result = applySequentialPatch(firmwareV1, longer, 1);
    equal(refusal(result), "trailing");
  });

  it("refuses a patch whose blocks write more, or less, than its declared size", () => {
    const over = handPatch(4, (s) => {
      s.size(0);
      s.size(5);
      s.append(new Uint8Array([1, 2, 3, 4, 5]));
      s.size(0);
    });
    const tooLong = applySequentialPatch(firmwareV1, over, 3);
    equal(refusal(tooLong), "too-long");
    equal(tooLong.output.length, 0, "nothing written");
    const under = handPatch(8, (s) => {
      s.size(0);
      s.size(5);
      s.append(new Uint8Array([1, 2, 3, 4, 5]));
      s.size(0);
    });
    equal(refusal(applySequentialPatch(firmwareV1, under, 3)), "truncated");
  });

  it("refuses a diff that reads outside the source, before writing its bytes", () => {
    for (const adjustment of [firmwareV1.length - 2, -1]) {
      const patch = handPatch(8, (s) => {
        s.size(0);
        s.size(0);
        s.size(adjustment);
        s.size(4);
        s.append(new Uint8Array(4));
        s.size(4);
        s.append(new Uint8Array(4));
        s.size(0);
      });
      const result = applySequentialPatch(firmwareV1, patch, 5);
      equal(refusal(result), "source-range", `adjustment ${adjustment}`);
      equal(result.output.length, 0);
    }
  });

  it("refuses other patch types, compressions, heatshrink sizes and data formats", () => {
    const cases: [number[], DeltaFailureCode][] = [
      [[0x14, 0x01], "unsupported"], // in-place
      [[0x01, 0x01], "unsupported"], // lzma
      [[0x84, 0x01], "corrupt"],
      [[0x04, 0x01, 0x55], "unsupported"], // heatshrink 2^9 / 2^8
      [[0x04, 0x41], "corrupt"], // negative size
      [[0x04, 0x81, 0x80, 0x80, 0x80, 0x01], "corrupt"], // size field too long
    ];
    for (const [bytes, code] of cases) {
      equal(refusal(applySequentialPatch(firmwareV1, Uint8Array.from(bytes), 1)), code, bytes.join(","));
    }
    const dataFormat = new ByteSink();
    dataFormat.byte(0x04);
    dataFormat.size(4);
    dataFormat.byte(0x44);
    dataFormat.append(heatshrinkEncode(new Uint8Array([3, 0, 0, 0])));
    equal(refusal(applySequentialPatch(firmwareV1, dataFormat.result(), 1)), "unsupported");
  });

  it("turns failing callbacks into typed failures", () => {
    const throwing = new SequentialPatchApplier({
      sourceSize: firmwareV1.length,
      readSource: () => {
        throw new Error("flash read error");
      },
      write: () => true,
    });
    equal(throwing.push(ourPatch), DELTA_FAILED);
    equal(throwing.failure!.code, "source-read");
    const sink = new SequentialPatchApplier({
      sourceSize: firmwareV1.length,
      readSource: memorySource(firmwareV1).read,
      write: () => false,
    });
    equal(sink.push(ourPatch), DELTA_FAILED);
    equal(sink.failure!.code, "sink");
    equal(sink.push(ourPatch), DELTA_FAILED, "a failure sticks");
  });

  it("never throws, never reads outside the source and never writes past the declared size on random patches", () => {
    const seed = env["DELTA_SEED"] ? Number(env["DELTA_SEED"]) : Date.now() % 1_000_000;
    if (typeof console !== "undefined")
      console.log(`    random patch seed ${seed} (DELTA_SEED=${seed} replays it)`);
    const mutated = fc
      .tuple(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }))
      .map(([flips]) => {
        const copy = ourPatch.slice();
        for (const [at, x] of flips) copy[at % copy.length] ^= x;
        return copy;
      });
    const random = fc
      .tuple(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 0, max: 3000 }))
      .map(([tail, size]) => handPatchRaw(size, tail));
    fc.assert(
      fc.property(fc.oneof(mutated, random), fc.integer({ min: 1, max: 64 }), (patch, chunk) => {
        const source = memorySource(firmwareV1);
        const sink = new MemorySink();
        const applier = new SequentialPatchApplier({
          sourceSize: firmwareV1.length,
          readSource: source.read,
          write: sink.write,
          bufferSize: 32,
        });
        let status: number = DELTA_NEED_MORE;
        for (let at = 0; at < patch.length && status === DELTA_NEED_MORE; at += chunk) {
          status = applier.push(patch, at, Math.min(patch.length, at + chunk));
        }
        if (status !== DELTA_FAILED) status = applier.finish();
        equal(source.outside, 0, "reads outside the source");
        ok(applier.toSize < 0 || sink.length <= applier.toSize, "output within the declared size");
        ok(status === DELTA_DONE || applier.failure !== undefined, "a failure says why");
        if (status === DELTA_DONE) equal(sink.length, applier.toSize);
      }),
      { seed, numRuns: 300 },
    );
  });
});

/** Header of a sequential heatshrink patch of `size` bytes followed by arbitrary compressed bytes. */
function handPatchRaw(size: number, compressed: Uint8Array): Uint8Array {
  const patch = new ByteSink();
  patch.byte(0x04);
  patch.size(size);
  patch.byte(0x44);
  patch.append(compressed);
  return patch.result();
}

describe("src/delta: delta packages", () => {
  it("has the documented 88-byte header", () => {
    const parsed = parseDeltaHeader(ourPackage);
    ok(parsed.ok, "parses");
    const h = parsed.header;
    deepEqual(
      [h.version, h.format, h.sourceSize, h.targetSize, h.patchSize],
      [1, 1, firmwareV1.length, firmwareV2.length, ourPatch.length],
    );
    bytesEqual(h.sourceSha256, sha256(firmwareV1));
    bytesEqual(h.targetSha256, sha256(firmwareV2));
    bytesEqual(ourPackage.subarray(0, 8), new Uint8Array([0x53, 0x44, 0x4c, 0x54, 1, 1, 88, 0]));
    equal(ourPackage.length, DELTA_HEADER_SIZE + ourPatch.length);
  });

  it("rebuilds version 2 and checks its SHA-256, in 1-byte and 100-byte chunks, with detools' patch inside too", () => {
    for (const pkg of [ourPackage, makeDeltaPackage(firmwareV1, firmwareV2, firmwareDetoolsPatch)]) {
      for (const chunk of [1, 100]) {
        const result = applyDeltaPackage(firmwareV1, pkg, chunk);
        ok(result.ok, result.ok ? "" : result.failure.message);
        bytesEqual(result.output, firmwareV2);
      }
    }
  });

  it("refuses a wrong base before writing anything", () => {
    const other = firmwareV1.slice();
    other[300] ^= 0x01;
    const result = applyDeltaPackage(other, ourPackage, 64);
    equal(refusal(result), "wrong-base");
    equal(result.output.length, 0);
    equal(refusal(applyDeltaPackage(firmwareV2, ourPackage, 64)), "wrong-base", "another size");
    const known = applyDeltaPackage(firmwareV1, ourPackage, 64, { sourceSha256: sha256(firmwareV2) });
    equal(refusal(known), "wrong-base", "the running image's known SHA-256");
  });

  it("refuses a wrong base through the target SHA-256 even when the source check is lied to", () => {
    const other = firmwareV1.slice();
    other[40] ^= 0x10;
    const result = applyDeltaPackage(other, ourPackage, 64, { sourceSha256: sha256(firmwareV1) });
    equal(refusal(result), "wrong-target");
  });

  it("refuses every corrupted byte of the package that could change the image", () => {
    // The last size field (the final source adjustment) is never used: a change there builds the same image, so
    // only the package digests (10701) and the signature can see it. Every other byte is refused.
    let harmless = 0;
    for (let at = 0; at < ourPackage.length; at++) {
      const bad = ourPackage.slice();
      bad[at] ^= 0x5a;
      const result = applyDeltaPackage(firmwareV1, bad, 37);
      if (result.ok) {
        bytesEqual(result.output, firmwareV2, `corrupt byte ${at} built another image`);
        ok(at >= ourPackage.length - 2, `corrupt byte ${at} was applied`);
        harmless++;
        continue;
      }
      if (at < DELTA_HEADER_SIZE) equal(result.failure.code, "header", `header byte ${at}`);
    }
    ok(harmless <= 1, `${harmless} harmless bytes`);
  });

  it("refuses a truncated package, and a package with bytes after it", () => {
    for (const cut of [0, 10, DELTA_HEADER_SIZE, DELTA_HEADER_SIZE + 1, ourPackage.length - 1]) {
      equal(
        refusal(applyDeltaPackage(firmwareV1, ourPackage.subarray(0, cut), 16)),
        "truncated",
        `cut ${cut}`,
      );
    }
    const longer = new Uint8Array(ourPackage.length + 3);
    longer.set(ourPackage);
    equal(refusal(applyDeltaPackage(firmwareV1, longer, 16)), "trailing");
  });

  it("refuses a patch shorter than its declared length (output shorter than declared)", () => {
    const header = parseDeltaHeader(ourPackage);
    ok(header.ok, "header");
    const cut = ourPatch.subarray(0, ourPatch.length - 20);
    const pkg = new Uint8Array(DELTA_HEADER_SIZE + cut.length);
    pkg.set(encodeDeltaHeader({ ...header.header, patchSize: cut.length }));
    pkg.set(cut, DELTA_HEADER_SIZE);
    equal(refusal(applyDeltaPackage(firmwareV1, pkg, 16)), "too-short");
  });

  it("refuses a patch for another target: by expectation before writing, and by the built image's digest", () => {
    const expected = applyDeltaPackage(firmwareV1, ourPackage, 64, {
      expectTarget: { sha256: sha256(firmwareV1) },
    });
    equal(refusal(expected), "wrong-target");
    equal(expected.output.length, 0);
    equal(
      refusal(applyDeltaPackage(firmwareV1, ourPackage, 64, { expectTarget: { size: 1000 } })),
      "wrong-target",
    );
    // A header that claims another target (valid CRC) around this patch.
    const header = parseDeltaHeader(ourPackage);
    ok(header.ok, "header");
    const lying = ourPackage.slice();
    lying.set(encodeDeltaHeader({ ...header.header, targetSha256: sha256(firmwareV1) }));
    const result = applyDeltaPackage(firmwareV1, lying, 64);
    ok(!result.ok && result.failure.code === "wrong-target", "refused");
    ok(result.failure.message.includes("SHA-256"), result.failure.message);
  });

  it("resumes from a checkpoint at every output boundary and builds the same image", () => {
    const boundary = 64;
    const run = (resumeAt: number): Uint8Array => {
      const sink = new MemorySink();
      const options = {
        readSource: memorySource(firmwareV1).read,
        write: sink.write,
        sha256: sha256Digest(),
        sourceSize: firmwareV1.length,
        bufferSize: 32,
        boundary,
      };
      let applier = new DeltaPackageApplier(options);
      const record = new Uint8Array(DELTA_STATE_SIZE);
      let at = 0;
      let boundaries = 0;
      let status: number = DELTA_NEED_MORE;
      while (status !== DELTA_DONE) {
        const end = Math.min(ourPackage.length, at + 50);
        status = applier.push(ourPackage, at, end);
        at += applier.consumed;
        ok(status !== DELTA_FAILED, applier.failure?.message ?? "");
        if (status === DELTA_BOUNDARY) {
          boundaries++;
          equal(applier.outputOffset, boundaries * boundary, "stops exactly at the boundary");
          equal(sink.length, applier.outputOffset, "everything before the boundary is written");
          if (boundaries === resumeAt) {
            equal(applier.save(record), DELTA_STATE_SIZE);
            // A reset: a fresh applier, the slot holds the output so far, the download resumes at packageOffset.
            applier = new DeltaPackageApplier(options);
            ok(applier.restore(record, sink.read), applier.failure?.message ?? "restore");
            equal(applier.packageOffset, at, "resume offset");
          }
        }
        if (status === DELTA_NEED_MORE && at === ourPackage.length) status = applier.finish();
      }
      return sink.result();
    };
    const boundaries = Math.floor(firmwareV2.length / boundary);
    for (let resumeAt = 0; resumeAt <= boundaries; resumeAt++)
      bytesEqual(run(resumeAt), firmwareV2, `resume ${resumeAt}`);
  });

  it("refuses a damaged checkpoint record", () => {
    const sink = new MemorySink();
    const options = {
      readSource: memorySource(firmwareV1).read,
      write: sink.write,
      sha256: sha256Digest(),
      boundary: 64,
      bufferSize: 64,
    };
    const applier = new DeltaPackageApplier(options);
    equal(applier.push(ourPackage), DELTA_BOUNDARY);
    const record = new Uint8Array(DELTA_STATE_SIZE);
    equal(applier.save(record), DELTA_STATE_SIZE);
    for (const at of [0, 10, DELTA_HEADER_SIZE + 4 + 13, DELTA_STATE_SIZE - 1]) {
      const bad = record.slice();
      bad[at] ^= 0x01;
      const fresh = new DeltaPackageApplier(options);
      ok(!fresh.restore(bad, sink.read), `byte ${at}`);
      ok(fresh.failure!.code === "state" || fresh.failure!.code === "header", fresh.failure!.code);
    }
  });
});

describe("src/delta: options", () => {
  it("refuses impossible buffer sizes at the first push instead of throwing", () => {
    for (const bufferSize of [0, 3, 1.5, Number.NaN, 1e9]) {
      const raw = new SequentialPatchApplier({
        sourceSize: 10,
        readSource: () => true,
        write: () => true,
        bufferSize,
      });
      equal(raw.push(ourPatch), DELTA_FAILED, `raw ${bufferSize}`);
      equal(raw.failure!.code, "state");
      const pkg = new DeltaPackageApplier({
        readSource: () => true,
        write: () => true,
        sha256: sha256Digest(),
        bufferSize,
      });
      equal(pkg.push(ourPackage), DELTA_FAILED, `package ${bufferSize}`);
      equal(pkg.failure!.code, "state");
    }
  });

  it("gives the same image with odd buffer sizes and boundaries (word additions at any alignment)", () => {
    for (const [bufferSize, boundary] of [
      [4, 0],
      [5, 0],
      [13, 26],
      [64, 100],
      [1024, 0],
    ] as const) {
      const sink = new MemorySink();
      const applier = new DeltaPackageApplier({
        readSource: memorySource(firmwareV1).read,
        write: sink.write,
        sha256: sha256Digest(),
        bufferSize,
        boundary,
      });
      let at = 0;
      let status: number = DELTA_NEED_MORE;
      while (at < ourPackage.length) {
        status = applier.push(ourPackage, at, Math.min(ourPackage.length, at + 9));
        ok(status !== DELTA_FAILED, applier.failure?.message ?? "");
        at += applier.consumed;
      }
      equal(applier.finish(), DELTA_DONE, `${bufferSize}/${boundary}`);
      bytesEqual(sink.result(), firmwareV2);
    }
  });
});

describe("src/delta: round trips", () => {
  it("rebuilds any target from any source through our creator, for any buffer size and chunking", () => {
    const seed = env["DELTA_SEED"] ? Number(env["DELTA_SEED"]) : Date.now() % 1_000_000;
    if (typeof console !== "undefined")
      console.log(`    round trip seed ${seed} (DELTA_SEED=${seed} replays it)`);
    // Targets are edits of the source (shifted copies, changed bytes), as firmware versions are.
    const pair = fc
      .tuple(
        fc.uint8Array({ minLength: 0, maxLength: 300 }),
        fc.array(fc.tuple(fc.nat(300), fc.nat(40), fc.uint8Array({ maxLength: 12 })), { maxLength: 5 }),
      )
      .map(([source, edits]) => {
        let target = Array.from(source);
        for (const [at, remove, insert] of edits)
          target.splice(at % (target.length + 1), remove % 8, ...insert);
        if (target.length > 0 && edits.length > 0)
          target = target.map((b, i) => (i % 61 === 7 ? (b + 1) & 0xff : b));
        return [source, Uint8Array.from(target)] as const;
      });
    fc.assert(
      fc.property(
        pair,
        fc.integer({ min: 4, max: 70 }),
        fc.integer({ min: 1, max: 50 }),
        ([source, target], size, chunk) => {
          const pkg = makeDeltaPackage(source, target);
          const result = applyDeltaPackage(source, pkg, chunk, { bufferSize: size });
          ok(result.ok, result.ok ? "" : `${result.failure.code}: ${result.failure.message}`);
          bytesEqual(result.output, target);
        },
      ),
      { seed, numRuns: 60 },
    );
  });
});

describe("src/delta: power cuts", () => {
  it("resumes from the last checkpoint after losing everything written since, at every cut point", () => {
    // Checkpoints after every 40-byte download block (not sector-aligned: save() flushes first). A cut after
    // any block loses the output written since the last checkpoint; the slot is cut back to the checkpoint.
    const block = 40;
    const options = (sink: MemorySink) => ({
      readSource: memorySource(firmwareV1).read,
      write: sink.write,
      sha256: sha256Digest(),
      bufferSize: 16,
    });
    const blocks = Math.ceil(ourPackage.length / block);
    for (let cutAfter = 1; cutAfter <= blocks; cutAfter++) {
      for (const checkpointEvery of [1, 3]) {
        const sink = new MemorySink();
        let applier = new DeltaPackageApplier(options(sink));
        const record = new Uint8Array(DELTA_STATE_SIZE);
        let saved = false;
        let at = 0;
        let status: number = DELTA_NEED_MORE;
        for (let n = 1; at < ourPackage.length; n++) {
          status = applier.push(ourPackage, at, Math.min(ourPackage.length, at + block));
          at += applier.consumed;
          ok(status !== DELTA_FAILED, applier.failure?.message ?? "");
          if (n % checkpointEvery === 0 && applier.save(record) === DELTA_STATE_SIZE) saved = true;
          if (n === cutAfter) break;
        }
        // Power cut: a fresh applier; the slot keeps only what the checkpoint covers.
        applier = new DeltaPackageApplier(options(sink));
        if (saved) {
          const outputAtCheckpoint = new DataView(record.buffer).getUint32(4 + DELTA_HEADER_SIZE + 12, true);
          sink.length = outputAtCheckpoint;
          ok(applier.restore(record, sink.read), applier.failure?.message ?? "restore");
          at = applier.packageOffset;
        } else {
          sink.length = 0;
          at = 0;
        }
        while (at < ourPackage.length) {
          status = applier.push(ourPackage, at, Math.min(ourPackage.length, at + block));
          ok(status !== DELTA_FAILED, `cut after ${cutAfter}: ${applier.failure?.message}`);
          at += applier.consumed;
        }
        equal(applier.finish(), DELTA_DONE, `cut after block ${cutAfter}`);
        bytesEqual(
          sink.result(),
          firmwareV2,
          `cut after block ${cutAfter}, checkpoint every ${checkpointEvery}`,
        );
      }
    }
  });
});

describe("src/delta: checkpoint records with a valid CRC but impossible values", () => {
  it("refuses a diff in progress that would read outside the source, so readSource never sees such a request", () => {
    const applier = new SequentialPatchApplier({
      sourceSize: firmwareV1.length,
      readSource: memorySource(firmwareV1).read,
      write: () => true,
      boundary: 32,
      bufferSize: 32,
    });
    const record = new Uint8Array(SEQUENTIAL_STATE_SIZE);
    let at = 0;
    let found = false;
    while (!found && applier.push(ourPatch, at) === DELTA_BOUNDARY) {
      at += applier.consumed;
      applier.save(record);
      found = record[1] === 5; // in a diff block
    }
    ok(found, "a checkpoint inside a diff block");
    const crcAt = SEQUENTIAL_STATE_SIZE - 4;
    for (const fromOffset of [-4, firmwareV1.length - 1, 0x7fffff00]) {
      const bad = record.slice();
      new DataView(bad.buffer).setInt32(16, fromOffset, true);
      new DataView(bad.buffer).setUint32(crcAt, crc32(bad, 0, crcAt), true);
      const reads: number[] = [];
      const fresh = new SequentialPatchApplier({
        sourceSize: firmwareV1.length,
        readSource: (offset) => void reads.push(offset),
        write: () => true,
      });
      ok(!fresh.restore(bad), `source position ${fromOffset}`);
      equal(fresh.failure!.code, "state");
      equal(fresh.push(ourPatch, at), DELTA_FAILED);
      equal(reads.length, 0, "no source read");
    }
    const good = new SequentialPatchApplier({
      sourceSize: firmwareV1.length,
      readSource: memorySource(firmwareV1).read,
      write: () => true,
    });
    ok(good.restore(record), "the untouched record restores");
  });
});
