// Tests the simulated serial link: exact baud pacing, queueing, chunked delivery order, FIFO overflow, transcript.
import fc from "fast-check";
import { bytesEqual, deepEqual, equal, ok, throws } from "../../lib/assert.js";
import { VirtualClock } from "../../../hal/sim/virtual-clock.js";
import { createSerialLink, formatBytes, lineTimeMs } from "../../../hal/sim/serial-link.js";
import type { SimSerialEnd, TranscriptBytes } from "../../../hal/sim/serial-link.js";
import { assertProperty } from "../../lib/property.js";

const BAUD = 115200;

function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

function pattern(length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 7 + (i >> 8)) & 0xff);
}

/** Reads everything on each onReadable and keeps the bytes. */
function collect(end: SimSerialEnd, readSize = 4096): { bytes: number[] } {
  const got = { bytes: [] as number[] };
  const buffer = new Uint8Array(readSize);
  end.onReadable = () => {
    for (let n = end.read(buffer); n > 0; n = end.read(buffer)) {
      for (let i = 0; i < n; i++) got.bytes.push(buffer[i]!);
    }
  };
  return got;
}

describe("serial link", () => {
  it("lineTimeMs is 10 bit times per byte", () => {
    equal(lineTimeMs(11520, BAUD), 1000);
    equal(lineTimeMs(1, 9600), 10000 / 9600);
  });

  it("11,520 bytes at 115200 baud take exactly 1.000 s from write to the last byte's arrival", () => {
    for (const start of [0, 5, 1234.5]) {
      const clock = new VirtualClock(start);
      const { a, b } = createSerialLink({ clock, baud: BAUD });
      let lastAt = -1;
      let total = 0;
      const buffer = new Uint8Array(64);
      b.onReadable = () => {
        total += b.read(buffer);
        if (total === 11520) lastAt = clock.now();
      };
      const data = pattern(11520);
      a.write(data);
      equal(a.lineFreeAt, start + 1000);
      clock.advance(999.99);
      ok(total < 11520 && total >= 11520 - 16, `at 999.99 ms ${total} bytes are in`);
      clock.advance(1);
      equal(total, 11520);
      equal(lastAt - start, 1000);
      equal(lastAt, start + 1000);
    }
  });

  it("delivers in chunks of 16 bytes, each at the exact arrival time of its last byte", () => {
    const clock = new VirtualClock();
    const { a, b } = createSerialLink({ clock, baud: BAUD });
    const times: number[] = [];
    const counts: number[] = [];
    b.onReadable = (count) => {
      times.push(clock.now());
      counts.push(count);
      b.read(new Uint8Array(count));
    };
    a.write(pattern(40));
    clock.advance(100);
    deepEqual(counts, [16, 16, 8]);
    deepEqual(times, [lineTimeMs(16, BAUD), lineTimeMs(32, BAUD), lineTimeMs(40, BAUD)]);
  });

  it("a write while the line is busy queues behind earlier bytes; after idle the line starts afresh", () => {
    const clock = new VirtualClock();
    const { a, b } = createSerialLink({ clock, baud: 9600, chunkBytes: 64 });
    const arrivals: [number, number][] = [];
    b.onReadable = (count) => {
      arrivals.push([clock.now(), count]);
      b.read(new Uint8Array(count));
    };
    a.write(ascii("0123456789")); // 10 bytes = 10.4167 ms
    clock.advance(2);
    a.write(ascii("ab")); // queued: arrives at 12 byte times
    equal(a.lineFreeAt, lineTimeMs(12, 9600));
    equal(a.txPending, 12);
    clock.advance(50);
    a.write(ascii("z")); // line idle: starts at 52
    clock.advance(50);
    deepEqual(arrivals, [
      [lineTimeMs(10, 9600), 10],
      [lineTimeMs(12, 9600), 2],
      [52 + lineTimeMs(1, 9600), 1],
    ]);
    equal(a.txPending, 0);
  });

  it("both directions are independent lines", () => {
    const clock = new VirtualClock();
    const { a, b } = createSerialLink({ clock, baud: BAUD });
    const atA = collect(a);
    const atB = collect(b);
    a.write(ascii("AT+QIOTREG=1\r\n"));
    b.write(ascii("\r\nOK\r\n"));
    clock.advance(10);
    bytesEqual(Uint8Array.from(atB.bytes), ascii("AT+QIOTREG=1\r\n"));
    bytesEqual(Uint8Array.from(atA.bytes), ascii("\r\nOK\r\n"));
    equal(a.receivedBytes, 6);
    equal(b.receivedBytes, 14);
  });

  it("write() copies: the caller may reuse its buffer at once", () => {
    const clock = new VirtualClock();
    const { a, b } = createSerialLink({ clock, baud: BAUD });
    const got = collect(b);
    const buffer = ascii("hello");
    a.write(buffer);
    buffer.fill(0);
    a.write(buffer.subarray(0, 2));
    clock.advance(5);
    bytesEqual(Uint8Array.from(got.bytes), Uint8Array.of(...ascii("hello"), 0, 0));
  });

  it("property: random write splits and gaps, random read sizes, both ways: order kept, timing as the line model", () => {
    assertProperty(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 600 }),
        fc.array(fc.record({ size: fc.integer({ min: 1, max: 80 }), gap: fc.integer({ min: 0, max: 4 }) }), {
          minLength: 1,
          maxLength: 40,
        }),
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 1, max: 40 }),
        (data, splits, readSize, chunkBytes) => {
          const clock = new VirtualClock();
          const { a, b } = createSerialLink({ clock, baud: BAUD, chunkBytes });
          const received = { a: [] as number[], b: [] as number[] };
          let lastArrival = 0;
          for (const [end, sink] of [
            [a, received.a],
            [b, received.b],
          ] as const) {
            const buffer = new Uint8Array(readSize);
            end.onReadable = () => {
              // Reads at most twice: may leave bytes behind for the next onReadable.
              for (let k = 0; k < 2; k++) {
                const n = end.read(buffer);
                for (let i = 0; i < n; i++) sink.push(buffer[i]!);
              }
              if (end === b) lastArrival = clock.now();
            };
          }
          // Model of the a>b line: each write starts when both it is made and the line is free.
          let offset = 0;
          let free = 0;
          for (const { size, gap } of splits) {
            if (offset >= data.length) break;
            const part = data.subarray(offset, offset + size);
            offset += part.length;
            free = Math.max(free, clock.now()) + lineTimeMs(part.length, BAUD);
            a.write(part);
            b.write(part); // the other direction at the same time
            clock.advance(gap);
          }
          clock.advance(1000);
          const drain = (end: SimSerialEnd, sink: number[]) => {
            const buffer = new Uint8Array(64);
            for (let n = end.read(buffer); n > 0; n = end.read(buffer))
              for (let i = 0; i < n; i++) sink.push(buffer[i]!);
          };
          drain(b, received.b);
          drain(a, received.a);
          bytesEqual(Uint8Array.from(received.b), data.subarray(0, offset));
          bytesEqual(Uint8Array.from(received.a), data.subarray(0, offset));
          ok(Math.abs(lastArrival - free) < 1e-6, `last byte at ${lastArrival}, line model says ${free}`);
          equal(b.droppedBytes, 0);
        },
      ),
      { numRuns: 120 },
    );
  });

  describe("receive FIFO overflow", () => {
    it("a reader that stalls past capacity loses exactly the overflow (the newest bytes)", () => {
      const clock = new VirtualClock();
      const { a, b, transcript } = createSerialLink({ clock, baud: BAUD, fifoSize: 128, transcript: true });
      let calls = 0;
      b.onReadable = () => calls++;
      const data = pattern(300);
      a.write(data);
      clock.advance(lineTimeMs(300, BAUD));
      equal(b.waiting, 128);
      equal(b.droppedBytes, 172);
      equal(b.receivedBytes, 300);
      ok(calls > 0);
      const into = new Uint8Array(200);
      equal(b.read(into), 128);
      bytesEqual(into.subarray(0, 128), data.subarray(0, 128));
      const drops = transcript.entries.filter((e) => "dropped" in e);
      equal(
        drops.reduce((sum, e) => sum + ("dropped" in e ? e.dropped : 0), 0),
        172,
      );
      // After the reader catches up, new bytes flow again.
      a.write(ascii("OK"));
      clock.advance(1);
      equal(b.read(into), 2);
      bytesEqual(into.subarray(0, 2), ascii("OK"));
    });

    it("a CPU busy period (flash erase) during a stream loses exactly what did not fit", () => {
      const clock = new VirtualClock();
      const { a, b } = createSerialLink({ clock, baud: BAUD, fifoSize: 128 });
      const got = collect(b, 256);
      const data = pattern(2000);
      a.write(data);
      clock.setTimer(() => clock.busy(50), 10); // 10..60 ms: no timer runs
      clock.advance(lineTimeMs(2000, BAUD));
      // Before the stall the reader had taken bytes 0..111 (chunks end at 16-byte marks; 112 arrived by 9.72 ms).
      // By 60 ms 691 bytes had arrived: 112..239 filled the FIFO, 240..690 were lost.
      equal(b.droppedBytes, 691 - 240);
      const expected = Uint8Array.of(...data.subarray(0, 240), ...data.subarray(691));
      bytesEqual(Uint8Array.from(got.bytes), expected);
    });

    it("a stall shorter than the FIFO's fill time loses nothing", () => {
      const clock = new VirtualClock();
      const { a, b } = createSerialLink({ clock, baud: BAUD, fifoSize: 128 });
      const got = collect(b);
      const data = pattern(1000);
      a.write(data);
      clock.setTimer(() => clock.busy(lineTimeMs(100, BAUD)), 20);
      clock.advance(100);
      equal(b.droppedBytes, 0);
      bytesEqual(Uint8Array.from(got.bytes), data);
    });

    it("per-end FIFO sizes: fifoSizeA / fifoSizeB override fifoSize", () => {
      const clock = new VirtualClock();
      const { a, b } = createSerialLink({ clock, baud: BAUD, fifoSize: 64, fifoSizeA: 8 });
      a.write(pattern(100));
      b.write(pattern(100));
      clock.advance(20);
      equal(b.waiting, 64);
      equal(a.waiting, 8);
      equal(a.droppedBytes, 92);
      equal(b.droppedBytes, 36);
    });
  });

  describe("transcript", () => {
    it("records each write once (chunks merged) at exact arrival times, and drops", () => {
      const clock = new VirtualClock();
      const { a, b, transcript } = createSerialLink({ clock, baud: BAUD, transcript: true, fifoSizeA: 4 });
      collect(b);
      a.write(ascii("AT+QIOTOTARD=0,40\r\n"));
      clock.advance(5);
      const payload = Uint8Array.from({ length: 40 }, (_, i) => 0x80 + i);
      b.write(Uint8Array.of(...ascii("+QIOTOTARD: 0,40\r\n"), ...payload, ...ascii("\r\nOK\r\n")));
      clock.advance(20);
      const bytesEntries = transcript.entries.filter((e): e is TranscriptBytes => "bytes" in e);
      equal(bytesEntries.length, 2);
      deepEqual(bytesEntries[0], {
        t: lineTimeMs(1, BAUD),
        end: lineTimeMs(19, BAUD),
        dir: "a>b",
        bytes: ascii("AT+QIOTOTARD=0,40\r\n"),
      });
      equal(bytesEntries[1]!.t, 5 + lineTimeMs(1, BAUD));
      equal(bytesEntries[1]!.end, 5 + lineTimeMs(64, BAUD));
      equal(bytesEntries[1]!.bytes.length, 64);
      equal(a.droppedBytes, 60);
      equal(
        transcript.format(),
        [
          "     0.087 ms a>b AT+QIOTOTARD=0,40\\r\\n",
          "     5.087 ms b>a +QIOTOTARD: 0,40\\r\\n<40 bytes>\\r\\nOK\\r\\n",
          // Nobody reads at a: its 4-byte FIFO keeps "+QIO", the 60 later bytes are lost (first at byte 5's arrival).
          "     5.434 ms b>a !! 60 bytes dropped (receive FIFO full)",
        ].join("\n"),
      );
      transcript.clear();
      equal(transcript.entries.length, 0);
    });

    it("is empty when disabled", () => {
      const clock = new VirtualClock();
      const { a, transcript } = createSerialLink({ clock, baud: BAUD });
      a.write(ascii("AT\r\n"));
      clock.advance(5);
      equal(transcript.enabled, false);
      equal(transcript.entries.length, 0);
    });

    it("formatBytes: text, escapes, short binary as \\xNN, long binary summarised", () => {
      equal(formatBytes(ascii("OK\r\n\t\\")), "OK\\r\\n\\t\\\\");
      equal(formatBytes(Uint8Array.of(0x00, 0x41, 0xff)), "\\x00A\\xff");
      const binary = Uint8Array.of(0x80, 0x41, 0x42, 0x81, ...new Array(20).fill(0x90), 0x0d, 0x0a);
      equal(formatBytes(binary), "<24 bytes>\\r\\n", "a short text run ending the data stays text");
      equal(
        formatBytes(Uint8Array.of(...binary, 0x80)),
        "<27 bytes>",
        "short text runs inside binary are binary",
      );
      equal(formatBytes(Uint8Array.of(...binary.subarray(0, 24), ...ascii("OK\r\n"))), "<24 bytes>OK\\r\\n");
      equal(formatBytes(new Uint8Array(17), { binaryThreshold: 16 }), "<17 bytes>");
      equal(formatBytes(new Uint8Array(3), { binaryThreshold: 16 }), "\\x00\\x00\\x00");
    });
  });

  it("onWritable fires on the writer when its bytes have all arrived", () => {
    const clock = new VirtualClock();
    const { a, b } = createSerialLink({ clock, baud: BAUD });
    collect(b);
    const writable: number[] = [];
    a.onWritable = () => writable.push(clock.now());
    a.write(pattern(20));
    clock.advance(10);
    deepEqual(writable, [lineTimeMs(20, BAUD)]);
  });

  it("close() stops delivery both ways; writes after close throw; bytes towards a closed end vanish", () => {
    const clock = new VirtualClock();
    const { a, b } = createSerialLink({ clock, baud: BAUD });
    const atB = collect(b);
    const atA = collect(a);
    a.write(pattern(100));
    b.write(pattern(100));
    clock.advance(lineTimeMs(50, BAUD));
    const gotBefore = atB.bytes.length;
    b.close();
    equal(b.closed, true);
    throws(() => b.write(ascii("x")), /closed/);
    a.write(ascii("more"));
    clock.advance(100);
    equal(atB.bytes.length, gotBefore);
    equal(atA.bytes.length, 48, "what b sent before closing and had arrived stays; the rest is gone");
    equal(b.read(new Uint8Array(10)), 0);
    equal(clock.pendingTimers, 0);
  });

  it("onWire can corrupt bytes (line noise) before they go on the line", () => {
    const clock = new VirtualClock();
    const { a, b } = createSerialLink({
      clock,
      baud: BAUD,
      onWire: (dir, bytes) => {
        if (dir === "a>b") bytes[1] ^= 0x20;
      },
    });
    const got = collect(b);
    a.write(ascii("OK"));
    clock.advance(1);
    bytesEqual(Uint8Array.from(got.bytes), ascii("Ok"));
  });

  it("1 MiB crosses in one write through a 128-byte FIFO, byte-exact, at exactly its line time", () => {
    const clock = new VirtualClock();
    const { a, b } = createSerialLink({ clock, baud: 921600, fifoSize: 128 });
    const data = pattern(1 << 20);
    const received = new Uint8Array(1 << 20);
    let total = 0;
    let lastAt = 0;
    b.onReadable = () => {
      total += b.read(received.subarray(total));
      lastAt = clock.now();
    };
    a.write(data);
    clock.advance(lineTimeMs(1 << 20, 921600) + 1);
    equal(total, 1 << 20);
    equal(b.droppedBytes, 0);
    bytesEqual(received, data);
    equal(lastAt, lineTimeMs(1 << 20, 921600));
  });
});
