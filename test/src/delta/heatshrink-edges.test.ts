// HeatshrinkDecoder at its edges: the saved state byte by byte, the bounds restore() accepts, runs that wrap the
// window, where produce() stops and what it leaves for the next call (portable).
import { bytesEqual, deepEqual, equal, ok } from "../../lib/assert.js";
import {
  HEATSHRINK_HEADER,
  HEATSHRINK_STATE_SIZE,
  HS_BACKREF,
  HS_COUNT,
  HS_INDEX,
  HS_LITERAL,
  HS_TAG,
  HeatshrinkDecoder,
} from "../../../src/delta/heatshrink.js";

/** Bits ("1"/"0" text, spaces ignored) packed most significant first, zero padded. */
function bits(text: string): Uint8Array {
  const clean = text.replace(/ /g, "");
  const padded = clean.padEnd(Math.ceil(clean.length / 8) * 8, "0");
  return Uint8Array.from({ length: padded.length / 8 }, (_, i) =>
    parseInt(padded.slice(i * 8, i * 8 + 8), 2),
  );
}

const lit = (c: number) => "1" + c.toString(2).padStart(8, "0");
const ref = (distance: number, count: number) =>
  "0" + (distance - 1).toString(2).padStart(8, "0") + (count - 1).toString(2).padStart(7, "0");

function fresh(): HeatshrinkDecoder {
  const d = new HeatshrinkDecoder();
  d.reset();
  return d;
}

describe("src/delta/heatshrink: edges", () => {
  it("has detools' header byte and a 264-byte state", () => {
    equal(HEATSHRINK_HEADER, 0x44);
    equal(HEATSHRINK_STATE_SIZE, 264);
    deepEqual([HS_TAG, HS_LITERAL, HS_INDEX, HS_COUNT, HS_BACKREF], [0, 1, 2, 3, 4]);
  });

  it("stops in each state when the input runs out, having consumed only whole bytes it used", () => {
    const stream = bits(lit(0x41) + ref(1, 3));
    const d = fresh();
    const out = new Uint8Array(8);
    d.feed(stream, 0, 1);
    equal(d.produce(out, 0, 8), 0, "half a literal");
    equal(d.state, HS_LITERAL);
    equal(d.inPos, 1);
    deepEqual([d.bits, d.bitCount], [0x20, 7]);
    ok(!d.atCleanEnd(), "mid literal");
    d.feed(stream, 1, 2);
    equal(d.produce(out, 0, 8), 1);
    equal(out[0], 0x41);
    equal(d.state, HS_INDEX);
    d.feed(stream, 2, 3);
    equal(d.produce(out, 1, 8), 0);
    equal(d.state, HS_COUNT);
    equal(d.distance, 1);
    d.feed(stream, 3, stream.length);
    equal(d.produce(out, 1, 2), 2, "only as much as asked");
    equal(d.state, HS_BACKREF);
    equal(d.count, 1);
    ok(!d.atCleanEnd(), "mid back-reference, no bits left");
    equal(d.produce(out, 3, 1), 1);
    equal(d.state, HS_TAG);
    bytesEqual(out.subarray(0, 4), Uint8Array.of(0x41, 0x41, 0x41, 0x41));
    ok(d.atCleanEnd(), "padding only");
    equal(d.head, 4);
    d.release();
    equal(d.inPos, 0);
    equal(d.produce(out, 0, 8), 0, "nothing after release");
  });

  it("copies runs and back-references across the window's end", () => {
    // 250 literals 0..249, then a run of 10 of the last byte (wraps the 256-byte ring), then distance 3 count 6.
    let text = "";
    for (let i = 0; i < 250; i++) text += lit(i);
    text += ref(1, 10) + ref(3, 6) + lit(7);
    const stream = bits(text);
    const d = fresh();
    const out = new Uint8Array(267);
    d.feed(stream, 0, stream.length);
    equal(d.produce(out, 0, 267), 267);
    const expected = new Uint8Array(267);
    for (let i = 0; i < 250; i++) expected[i] = i;
    expected.fill(249, 250, 260);
    for (let i = 260; i < 266; i++) expected[i] = expected[i - 3]!;
    expected[266] = 7;
    bytesEqual(out, expected);
    equal(d.head, 267 & 255);
    equal(d.window[255], 249);
    equal(d.window[3], 249);
    equal(d.window[10], 7);
    // A run of 6 ending exactly at the ring's end (head 250 + 6 = 256).
    let edge = "";
    for (let i = 0; i < 250; i++) edge += lit(1);
    edge += lit(9) + ref(1, 5) + lit(3);
    const e = fresh();
    const s = bits(edge);
    e.feed(s, 0, s.length);
    const o = new Uint8Array(257);
    equal(e.produce(o, 0, 257), 257);
    deepEqual(Array.from(o.subarray(250)), [9, 9, 9, 9, 9, 9, 3]);
    equal(e.head, 1);
    equal(e.window[255], 9);
    equal(e.window[0], 3);
  });

  it("saves its state byte by byte", () => {
    const stream = bits(lit(0x41) + ref(2, 100));
    const d = fresh();
    d.feed(stream, 0, stream.length);
    const out = new Uint8Array(10);
    equal(d.produce(out, 0, 10), 10);
    const record = new Uint8Array(HEATSHRINK_STATE_SIZE + 3).fill(0xee);
    d.save(record, 3);
    deepEqual(Array.from(record.subarray(3, 11)), [HS_BACKREF, 10, d.bits, d.bitCount, 1, 91, 0, 0]);
    bytesEqual(record.subarray(11, 11 + 256), d.window);
    equal(record[2], 0xee, "nothing before");
    const e = new HeatshrinkDecoder();
    ok(e.restore(record, 3), "restores");
    deepEqual(
      [e.state, e.head, e.bits, e.bitCount, e.distance, e.count],
      [HS_BACKREF, 10, d.bits, d.bitCount, 2, 91],
    );
    bytesEqual(e.window, d.window);
  });

  it("restores the bounds of each field and refuses one past them, unchanged", () => {
    const good = (edit: (r: Uint8Array) => void): boolean => {
      const r = new Uint8Array(HEATSHRINK_STATE_SIZE);
      r[0] = HS_BACKREF;
      r[5] = 1;
      edit(r);
      const d = fresh();
      d.window[0] = 0x77;
      const ok = d.restore(r, 0);
      if (!ok) deepEqual([d.state, d.head, d.count, d.window[0]], [HS_TAG, 0, 0, 0x77], "unchanged");
      return ok;
    };
    ok(
      good(() => undefined),
      "a backref of 1",
    );
    ok(
      good((r) => (r[5] = 128)),
      "count 128",
    );
    ok(!good((r) => (r[5] = 129)), "count 129");
    ok(!good((r) => (r[5] = 0)), "a backref of 0");
    ok(!good((r) => (r[0] = HS_TAG)), "a count outside a backref");
    ok(
      good((r) => ((r[0] = HS_COUNT), (r[5] = 0))),
      "count state without count",
    );
    ok(!good((r) => (r[0] = 5)), "state 5");
    ok(
      good((r) => ((r[3] = 7), (r[2] = 0x7f))),
      "7 bits",
    );
    ok(!good((r) => ((r[3] = 7), (r[2] = 0x80))), "a bit above 7");
    ok(!good((r) => ((r[3] = 0), (r[2] = 1))), "a bit above 0");
    ok(!good((r) => (r[3] = 8)), "8 bits");
    const r = new Uint8Array(HEATSHRINK_STATE_SIZE + 1);
    r[1] = HS_INDEX;
    r[2] = 200;
    r[5] = 255;
    r[9] = 0x42;
    const d = new HeatshrinkDecoder();
    ok(d.restore(r, 1), "at an offset");
    deepEqual([d.state, d.head, d.distance, d.window[0]], [HS_INDEX, 200, 256, 0x42]);
  });

  it("starts over at reset()", () => {
    const d = fresh();
    const stream = bits(lit(5) + "0");
    d.feed(stream, 0, stream.length);
    equal(d.produce(new Uint8Array(4), 0, 4), 1);
    ok(d.window[0] === 5 && d.head === 1 && d.state === HS_INDEX, "mid stream");
    d.distance = 9;
    d.count = 3;
    d.bits = 1;
    d.bitCount = 2;
    d.reset();
    deepEqual(
      [d.state, d.head, d.bits, d.bitCount, d.distance, d.count, d.window[0]],
      [HS_TAG, 0, 0, 0, 0, 0, 0],
    );
  });
});
