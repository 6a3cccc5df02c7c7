// Heatshrink decoder: exact bytes of a known stream, round trips with our encoder in any chunking, state save/restore
// mid-stream (portable).
import fc from "fast-check";
import { bytesEqual, equal, ok } from "../../lib/assert.js";
import { HEATSHRINK_STATE_SIZE, HS_TAG, HeatshrinkDecoder } from "../../../src/delta/heatshrink.js";
import { heatshrinkEncode } from "../../../tools/delta/heatshrink-encoder.js";

const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env ?? {};

/** Decodes `stream` fed in pieces of `piece` bytes, asking for at most `ask` bytes per produce() call. */
function decode(stream: Uint8Array, expected: number, piece: number, ask: number): Uint8Array {
  const decoder = new HeatshrinkDecoder();
  decoder.reset();
  const out = new Uint8Array(expected + 16);
  let produced = 0;
  for (let at = 0; at < stream.length; at += piece) {
    const end = Math.min(stream.length, at + piece);
    decoder.feed(stream, at, end);
    for (;;) {
      const n = decoder.produce(out, produced, Math.min(ask, expected - produced));
      produced += n;
      if (n === 0 || produced === expected) break;
    }
    ok(decoder.inPos === end || produced === expected, "input left unread while output was wanted");
  }
  return out.slice(0, produced);
}

describe("src/delta/heatshrink", () => {
  it("decodes literals and an overlapping back-reference bit for bit", () => {
    // 1 'a' (9 bits), 1 'b', then a back-reference: tag 0, index 1 (distance 2), count 5 (6 bytes): "ababab".
    const bits = "1" + "01100001" + "1" + "01100010" + "0" + "00000001" + "0000101";
    const padded = bits.padEnd(Math.ceil(bits.length / 8) * 8, "0");
    const stream = new Uint8Array(padded.length / 8);
    for (let i = 0; i < stream.length; i++) stream[i] = parseInt(padded.slice(i * 8, i * 8 + 8), 2);
    const text = decode(stream, 8, 1, 100);
    equal(String.fromCharCode(...text), "abababab");
  });

  it("reads zeros before the first byte, as the C decoder's zero-filled window", () => {
    // tag 0, index 255 (distance 256), count 3 (4 bytes) from the empty window.
    const stream = new Uint8Array([0b01111111, 0b10000011]);
    bytesEqual(decode(stream, 4, 3, 4), new Uint8Array(4));
  });

  it("round-trips our encoder's output for any input, chunking and output request size", () => {
    const seed = env["DELTA_SEED"] ? Number(env["DELTA_SEED"]) : Date.now() % 1_000_000;
    if (typeof console !== "undefined") console.log(`    heatshrink round trip seed ${seed}`);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 600 }),
          fc.array(fc.constantFrom(0, 1, 0xff, 0x20), { maxLength: 700 }).map((a) => Uint8Array.from(a)),
        ),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 300 }),
        (data, piece, ask) => {
          const stream = heatshrinkEncode(data);
          bytesEqual(decode(stream, data.length, piece, ask), data);
        },
      ),
      { seed, numRuns: 60 },
    );
  });

  it("continues from a saved state exactly as without the save", () => {
    const data = new Uint8Array(900);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) % 23 === 0 ? i & 0xff : (i >> 4) & 0x0f;
    const stream = heatshrinkEncode(data);
    for (const cut of [1, 2, 17, Math.floor(stream.length / 2), stream.length - 1]) {
      const first = new HeatshrinkDecoder();
      first.reset();
      const out = new Uint8Array(data.length);
      first.feed(stream, 0, cut);
      let produced = first.produce(out, 0, data.length);
      equal(first.inPos, cut);
      const record = new Uint8Array(HEATSHRINK_STATE_SIZE);
      first.save(record, 0);
      const second = new HeatshrinkDecoder();
      ok(second.restore(record, 0), "restore");
      second.feed(stream, cut, stream.length);
      produced += second.produce(out, produced, data.length - produced);
      equal(produced, data.length);
      bytesEqual(out, data);
      equal(second.state, HS_TAG);
      ok(second.atCleanEnd(), "zero padding at the end");
    }
  });

  it("refuses a state record with impossible values", () => {
    const record = new Uint8Array(HEATSHRINK_STATE_SIZE);
    record[0] = 9;
    ok(!new HeatshrinkDecoder().restore(record, 0), "state 9");
    record[0] = HS_TAG;
    record[3] = 8;
    ok(!new HeatshrinkDecoder().restore(record, 0), "8 pending bits");
    record[3] = 2;
    record[2] = 4;
    ok(!new HeatshrinkDecoder().restore(record, 0), "bits above bitCount");
  });
});
