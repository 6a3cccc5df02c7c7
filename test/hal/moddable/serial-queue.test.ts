// QueuedSerialPort against fakes of Moddable's ESP32 and Linux serial natives: every byte reaches the wire once, in order.

import fc from "fast-check";
import { bytesEqual, deepEqual, equal, throws } from "../../lib/assert.js";
import type { NativeSerial, NativeSerialConstructor } from "../../../hal/moddable/serial-queue.js";
import { QueuedSerialPort } from "../../../hal/moddable/serial-queue.js";
import { assertProperty } from "../../lib/property.js";

type Options = Record<string, unknown> & {
  onWritable?: (n: number) => void;
  onReadable?: (n: number) => void;
  onError?: () => void;
};

/** modules/io/serial/esp32/serial.c: 128-byte TX FIFO, write throws "output full" past the free space, no partial writes. */
class FakeEsp32 implements NativeSerial {
  static last: FakeEsp32;
  readonly wire: number[] = [];
  fifo = 0;
  rx: number[] = [];
  txInterrupt = true;
  constructor(readonly options: Options) {
    FakeEsp32.last = this;
  }
  read(arg: Uint8Array | number): never {
    if (typeof arg === "number") throw new Error("the port must read into its buffer on ESP32");
    if (this.rx.length === 0) return undefined as never;
    if (arg.length === 0) throw new Error("invalid");
    const n = Math.min(arg.length, this.rx.length);
    arg.set(this.rx.splice(0, n));
    return n as never;
  }
  write(bytes: Uint8Array | ArrayBuffer): void {
    const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
    if (view.length > 128 - this.fifo) throw new Error("output full");
    this.fifo += view.length;
    this.wire.push(...view);
    this.txInterrupt = true;
  }
  close(): void {}
  /** The UART shifts `n` bytes out; the TX-empty interrupt (threshold 10) posts onWritable(free FIFO). */
  shift(n: number): void {
    this.fifo = Math.max(0, this.fifo - n);
    if (this.txInterrupt && this.fifo < 10) {
      this.txInterrupt = false;
      this.options.onWritable?.(128 - this.fifo);
    }
  }
}

/** modules/io/serial/lin/serial.c: ArrayBuffer only, <= 1024 bytes, "would overflow" while a write is pending. */
class FakeLinux implements NativeSerial {
  static last: FakeLinux;
  readonly wire: number[] = [];
  pending: number[] = [];
  kernelRoom = 300;
  rx: number[] = [];
  closed = false;
  constructor(readonly options: Options) {
    FakeLinux.last = this;
  }
  read(arg: Uint8Array | number): never {
    if (this.closed) throw new Error("read after close: NULL record");
    if (typeof arg !== "number") throw new Error("the Linux port reads by count");
    if (this.rx.length === 0) return undefined as never;
    return new Uint8Array(this.rx.splice(0, arg)).buffer as never;
  }
  write(bytes: Uint8Array | ArrayBuffer): void {
    if (this.closed) throw new Error("write after close: NULL record");
    if (!(bytes instanceof ArrayBuffer)) throw new Error("xsToArrayBuffer: not an ArrayBuffer");
    if (bytes.byteLength > 1024 || this.pending.length) throw new Error("would overflow");
    const view = [...new Uint8Array(bytes)];
    const taken = Math.min(this.kernelRoom, view.length);
    this.wire.push(...view.slice(0, taken));
    this.kernelRoom -= taken;
    this.pending = view.slice(taken);
  }
  close(): void {
    this.closed = true;
  }
  /** The fd becomes writable again: the pending rest goes out, then onWritable(1024). */
  writable(room: number): void {
    this.kernelRoom = room;
    const taken = this.pending.splice(0, room);
    this.wire.push(...taken);
    this.kernelRoom -= taken.length;
    if (this.pending.length === 0) this.options.onWritable?.(1024);
  }
}

const esp32 = FakeEsp32 as unknown as NativeSerialConstructor;
const linux = FakeLinux as unknown as NativeSerialConstructor;

describe("hal/moddable serial-queue", () => {
  it("ESP32: options as the SDK reads them; writes sized to the free FIFO; the caller's buffer may be reused at once", () => {
    const port = new QueuedSerialPort(esp32, {
      kind: "uart",
      port: 1,
      transmit: 17,
      receive: 16,
      baud: 115200,
    });
    const native = FakeEsp32.last;
    deepEqual(
      [
        native.options.port,
        native.options.transmit,
        native.options.receive,
        native.options.baud,
        native.options.format,
      ],
      [1, 17, 16, 115200, "buffer"],
    );
    native.shift(0); // construction enabled the TX interrupt: first onWritable(128)
    const data = new Uint8Array(300).map((_, i) => i & 0xff);
    port.write(data);
    equal(native.wire.length, 128);
    data.fill(0xee); // reuse: already copied
    for (let i = 0; i < 10; i++) native.shift(128);
    bytesEqual(
      new Uint8Array(native.wire),
      new Uint8Array(300).map((_, i) => i & 0xff),
    );
  });

  it("ESP32: read into the caller's buffer; empty FIFO and zero-length buffers read 0", () => {
    const port = new QueuedSerialPort(esp32, {
      kind: "uart",
      port: 1,
      transmit: 17,
      receive: 16,
      baud: 115200,
    });
    const native = FakeEsp32.last;
    const into = new Uint8Array(4);
    equal(port.read(into), 0);
    native.rx = [1, 2, 3, 4, 5, 6];
    equal(port.read(new Uint8Array(0)), 0);
    equal(port.read(into), 4);
    bytesEqual(into, new Uint8Array([1, 2, 3, 4]));
    equal(port.read(into), 2);
  });

  it("Linux: device + baud only, ArrayBuffer writes of <= 1024, one pending write at a time", () => {
    const port = new QueuedSerialPort(linux, { kind: "device", device: "/tmp/sota-module", baud: 115200 });
    const native = FakeLinux.last;
    deepEqual(
      [native.options.device, native.options.baud, native.options.port],
      ["/tmp/sota-module", 115200, undefined],
    );
    native.writable(300);
    const data = new Uint8Array(2000).map((_, i) => (i * 7) & 0xff);
    port.write(data);
    data.fill(0);
    for (let i = 0; i < 20; i++) native.writable(300);
    bytesEqual(
      new Uint8Array(native.wire),
      new Uint8Array(2000).map((_, i) => (i * 7) & 0xff),
    );
    native.rx = [9, 8, 7];
    const into = new Uint8Array(2);
    equal(port.read(into), 2);
    bytesEqual(into, new Uint8Array([9, 8]));
  });

  it("Linux: after onError the native side is never called again", () => {
    const port = new QueuedSerialPort(linux, { kind: "device", device: "/tmp/x", baud: 9600 });
    const native = FakeLinux.last;
    native.options.onError?.();
    native.closed = true;
    equal(port.read(new Uint8Array(8)), 0);
    port.write(new Uint8Array([1, 2, 3]));
    port.close();
    equal(native.wire.length, 0);
  });

  it("the queue refuses what it cannot hold (2048 bytes) instead of dropping bytes silently", () => {
    const port = new QueuedSerialPort(esp32, {
      kind: "uart",
      port: 1,
      transmit: 17,
      receive: 16,
      baud: 115200,
    });
    port.write(new Uint8Array(2048));
    throws(() => port.write(new Uint8Array(1)), RangeError);
  });

  it("any sequence of writes and drains: the wire carries exactly the written bytes, in order (property)", () => {
    assertProperty(
      fc.property(
        fc.boolean(),
        fc.array(
          fc.oneof(fc.uint8Array({ minLength: 0, maxLength: 700 }), fc.integer({ min: 1, max: 400 })),
          { maxLength: 30 },
        ),
        (onLinux, steps) => {
          const port = onLinux
            ? new QueuedSerialPort(linux, { kind: "device", device: "/d", baud: 1 })
            : new QueuedSerialPort(esp32, { kind: "uart", port: 1, transmit: 1, receive: 2, baud: 1 });
          const drain = (n: number): void => (onLinux ? FakeLinux.last.writable(n) : FakeEsp32.last.shift(n));
          const wire = (): number[] => (onLinux ? FakeLinux.last.wire : FakeEsp32.last.wire);
          const expected: number[] = [];
          let queued = 0;
          drain(0);
          for (const step of steps) {
            if (typeof step === "number") {
              drain(step);
              queued = expected.length - wire().length;
            } else if (queued + step.length <= 2048) {
              port.write(step);
              expected.push(...step);
              queued += step.length;
            }
          }
          for (let i = 0; i < 100 && wire().length < expected.length; i++) drain(1024);
          deepEqual(wire(), expected);
        },
      ),
      { numRuns: 100 },
    );
  });
});
