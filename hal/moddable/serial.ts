// SerialPort over ECMA-419 `embedded:io/serial`: the ESP32 UART (pins, FIFO-sized writes) or a Linux tty/pty (simulator).

import Serial from "embedded:io/serial";
import type { SerialPort } from "../serial.js";

export type ModuleSerialOptions =
  | { kind: "uart"; port: number; transmit: number; receive: number; baud: number }
  | { kind: "device"; device: string; baud: number };

/** The native object's shape on both ports (the npm typings have the `recevice` typo and no `device`). */
interface NativeSerial {
  read(buffer: Uint8Array): number | undefined;
  read(byteLength: number): ArrayBuffer | undefined;
  write(bytes: Uint8Array | ArrayBuffer): void;
  close(): void;
}
type NativeSerialConstructor = new (options: Record<string, unknown>) => NativeSerial;

/** Bytes the port keeps while the UART cannot take them; an AT command line is far shorter. */
const TX_QUEUE_LENGTH = 2048;
/** lin: the native write takes at most 1024 bytes and only one pending write. */
const LINUX_WRITE_MAX = 1024;

export class ModdableSerialPort implements SerialPort {
  onReadable: ((count: number) => void) | undefined = undefined;
  onWritable: ((count: number) => void) | undefined = undefined;
  readonly #native: NativeSerial;
  readonly #linux: boolean;
  readonly #queue = new Uint8Array(TX_QUEUE_LENGTH);
  #head = 0;
  #queued = 0;
  /** How many bytes the native side takes now (ESP32: free TX FIFO; Linux: 1024 or 0 while a write is pending). */
  #budget = 0;
  /** Exact-length staging arrays, one per length, made once: the native write takes whole buffers only. */
  readonly #staging: Uint8Array[] = [];

  constructor(options: ModuleSerialOptions) {
    this.#linux = options.kind === "device";
    const native = options.kind === "device" ? { device: options.device, baud: options.baud } : { port: options.port, transmit: options.transmit, receive: options.receive, baud: options.baud };
    const Constructor = Serial as unknown as NativeSerialConstructor;
    this.#native = new Constructor({
      ...native,
      format: "buffer",
      onReadable: (count: number) => this.onReadable?.(count),
      onWritable: (count: number) => {
        this.#budget = this.#linux ? LINUX_WRITE_MAX : count;
        this.#drain();
        if (this.#queued === 0) this.onWritable?.(TX_QUEUE_LENGTH);
      },
    });
  }

  read(into: Uint8Array): number {
    if (!this.#linux) return this.#native.read(into) ?? 0;
    // The Linux port reads into a new ArrayBuffer only (simulator: allocation is harmless there).
    const buffer = this.#native.read(into.length);
    if (!buffer) return 0;
    into.set(new Uint8Array(buffer));
    return buffer.byteLength;
  }

  write(bytes: Uint8Array): void {
    if (bytes.length > TX_QUEUE_LENGTH - this.#queued) throw new RangeError(`serial transmit queue full (${this.#queued} + ${bytes.length})`);
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
    this.#native.close();
  }

  #drain(): void {
    while (this.#queued > 0 && this.#budget > 0) {
      const contiguous = Math.min(this.#queued, TX_QUEUE_LENGTH - this.#head);
      const count = Math.min(contiguous, this.#budget, this.#linux ? LINUX_WRITE_MAX : 128);
      const stage = (this.#staging[count] ??= new Uint8Array(count));
      for (let i = 0; i < count; i++) stage[i] = this.#queue[this.#head + i]!;
      // lin accepts only an ArrayBuffer; the ESP32 port accepts any buffer.
      this.#native.write(this.#linux ? (stage.buffer as ArrayBuffer) : stage);
      this.#head = (this.#head + count) % TX_QUEUE_LENGTH;
      this.#queued -= count;
      // lin: a write may have gone partly into the native buffer; the next onWritable says it drained.
      this.#budget = this.#linux ? 0 : this.#budget - count;
    }
  }
}
