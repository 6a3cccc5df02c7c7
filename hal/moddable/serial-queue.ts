// SerialPort over an ECMA-419 `embedded:io/serial` object as Moddable implements it on ESP32 and Linux (portable: tested on Node).
//
// What the SDK does (modules/io/serial/esp32/serial.c, lin/serial.c), and what this class does about it:
// - ESP32: no RAM buffer; write() throws "output full" unless the whole buffer fits the free TX FIFO (128
//   bytes), onWritable(n) reports the free FIFO after the TX-empty interrupt, read(buffer) copies at most the
//   FIFO's bytes and returns their count (undefined when empty; a zero-length buffer throws "invalid").
// - Linux: options `device` and `baud` only; write() takes only an ArrayBuffer of at most 1024 bytes and
//   throws "would overflow" while an earlier write is still pending; onWritable(1024) comes after each write
//   once the fd is writable again; read(n) returns a new ArrayBuffer (undefined when empty); onError means
//   the native side closed itself (further native calls would dereference a freed record).
// So bytes are queued here and handed to the native side only as far as it said it can take them.

import type { SerialPort } from "../serial.js";

export type ModuleSerialOptions =
  | { kind: "uart"; port: number; transmit: number; receive: number; baud: number }
  | { kind: "device"; device: string; baud: number }
  /** Zephyr: the UART by its devicetree node label (e.g. "usart3"); a TX ring like the ESP32's FIFO. */
  | { kind: "zephyr"; port: string; baud: number };

/** The native object's shape on both ports (the npm typings have the `recevice` typo and no `device`). */
export interface NativeSerial {
  read(buffer: Uint8Array): number | undefined;
  read(byteLength: number): ArrayBuffer | undefined;
  write(bytes: Uint8Array | ArrayBuffer): void;
  close(): void;
}

/** Bytes the port keeps while the UART cannot take them; an AT command line is far shorter. */
const TX_QUEUE_LENGTH = 2048;
/** lin: the native write takes at most 1024 bytes and only one pending write. */
const LINUX_WRITE_MAX = 1024;

export type NativeSerialConstructor = new (options: Record<string, unknown>) => NativeSerial;

export class QueuedSerialPort implements SerialPort {
  onReadable: ((count: number) => void) | undefined = undefined;
  onWritable: ((count: number) => void) | undefined = undefined;
  readonly #native: NativeSerial;
  readonly #linux: boolean;
  readonly #queue = new Uint8Array(TX_QUEUE_LENGTH);
  readonly #esp32Stage = new Uint8Array(128);
  #head = 0;
  #queued = 0;
  /** How many bytes the native side takes now (ESP32: free TX FIFO; Linux: 1024 or 0 while a write is pending). */
  #budget = 0;
  /** Exact-length staging arrays, one per length, made once: the native write takes whole buffers only. */
  readonly #staging: Uint8Array[] = [];
  /** The native side closed itself (Linux onError): it must not be called again. */
  #dead = false;

  constructor(Constructor: NativeSerialConstructor, options: ModuleSerialOptions) {
    this.#linux = options.kind === "device";
    const native =
      options.kind === "device"
        ? { device: options.device, baud: options.baud }
        : options.kind === "zephyr"
          ? { port: options.port, baud: options.baud }
          : { port: options.port, transmit: options.transmit, receive: options.receive, baud: options.baud };
    this.#native = new Constructor({
      ...native,
      format: "buffer",
      onError: () => {
        this.#dead = true;
      },
      onReadable: (count: number) => this.onReadable?.(count),
      onWritable: (count: number) => {
        this.#budget = this.#linux ? LINUX_WRITE_MAX : count;
        this.#drain();
        if (this.#queued === 0) this.onWritable?.(TX_QUEUE_LENGTH);
      },
    });
  }

  read(into: Uint8Array): number {
    if (this.#dead || into.length === 0) return 0;
    if (!this.#linux) return this.#native.read(into) ?? 0;
    // The Linux port reads into a new ArrayBuffer only (simulator: allocation is harmless there).
    const buffer = this.#native.read(into.length);
    if (!buffer) return 0;
    into.set(new Uint8Array(buffer));
    return buffer.byteLength;
  }

  write(bytes: Uint8Array): void {
    if (bytes.length > TX_QUEUE_LENGTH - this.#queued)
      throw new RangeError(`serial transmit queue full (${this.#queued} + ${bytes.length})`);
    let tail = (this.#head + this.#queued) % TX_QUEUE_LENGTH;
    for (let i = 0; i < bytes.length; i++) {
      this.#queue[tail] = bytes[i]!;
      tail = tail + 1 === TX_QUEUE_LENGTH ? 0 : tail + 1;
    }
    this.#queued += bytes.length;
    this.#drain();
  }

  close(): void {
    this.onReadable = undefined;
    this.onWritable = undefined;
    if (!this.#dead) this.#native.close();
    this.#dead = true;
  }

  #drain(): void {
    while (!this.#dead && this.#queued > 0 && this.#budget > 0) {
      const contiguous = Math.min(this.#queued, TX_QUEUE_LENGTH - this.#head);
      const count = Math.min(contiguous, this.#budget, this.#linux ? LINUX_WRITE_MAX : 128);
      // lin accepts only a whole ArrayBuffer (one per length; the simulator has RAM to spare); the ESP32 port
      // takes a view, so one 128-byte buffer and a cached view per length serve every write there.
      const stage = this.#linux
        ? (this.#staging[count] ??= new Uint8Array(count))
        : (this.#staging[count] ??= this.#esp32Stage.subarray(0, count));
      for (let i = 0; i < count; i++) stage[i] = this.#queue[this.#head + i]!;
      this.#native.write(this.#linux ? (stage.buffer as ArrayBuffer) : stage);
      this.#head = (this.#head + count) % TX_QUEUE_LENGTH;
      this.#queued -= count;
      // lin: a write may have gone partly into the native buffer; the next onWritable says it drained.
      this.#budget = this.#linux ? 0 : this.#budget - count;
    }
  }
}
