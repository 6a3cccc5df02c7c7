// SerialPort port over the `serialport` package (USB adapters and ptys), with optional pacing to a baud rate.
import { SerialPort as NodeSerialPort } from "serialport";
import type { SerialPort } from "../serial.js";

export interface HostSerialOptions {
  /** Device path, e.g. /dev/ttyUSB0 or a socat pty link. */
  path: string;
  baudRate: number;
  /**
   * Hands bytes to the OS no faster than this baud (8N1, 10 bit times per byte). A pty ignores the baud
   * rate, so without pacing 10 kB "at 9600" arrive in milliseconds; with it the peer sees the real rate.
   */
  paceBaud?: number;
  /** I/O failures after opening (EIO on a pty whose peer died, an unplugged adapter). */
  onError?: (error: Error) => void;
  /** The port closed (by close() or because the device went away). */
  onClose?: () => void;
}

/** Nominal count passed to onWritable when the transmit queue drains (the port buffers without limit). */
export const HOST_TX_WINDOW = 256;

/** Bit times per byte on the line: start + 8 data + stop. */
const BITS_PER_BYTE = 10;

export class HostSerialPort implements SerialPort {
  onReadable: ((count: number) => void) | undefined = undefined;
  onWritable: ((count: number) => void) | undefined = undefined;

  readonly #port: NodeSerialPort;
  readonly #options: HostSerialOptions;
  /** Received chunks not yet read; `#head` is how much of the first one was consumed. */
  readonly #received: Uint8Array[] = [];
  #head = 0;
  #available = 0;
  /** Paced mode: bytes waiting for their slot on the line. */
  readonly #pending: Uint8Array[] = [];
  #pendingHead = 0;
  #pendingCount = 0;
  /** Paced mode: a run of back-to-back bytes started at #runEpoch; #runBytes of it were handed over. */
  #runEpoch = 0;
  #runBytes = 0;
  #pumpTimer: NodeJS.Timeout | undefined;
  /** Writes handed to the OS and not yet completed (to know when to call onWritable). */
  #inFlight = 0;
  #closed = false;

  private constructor(port: NodeSerialPort, options: HostSerialOptions) {
    this.#port = port;
    this.#options = options;
    port.on("data", (chunk: Buffer) => this.#onData(chunk));
    port.on("error", (error: Error) => this.#fail(error));
    // serialport reports a vanished device (EIO on a pty whose peer died) as a close with an error.
    port.on("close", (error?: Error) => {
      if (error && !this.#closed) this.#fail(error);
      this.#closed = true;
      this.#stopPump();
      this.#options.onClose?.();
    });
  }

  /** Opens the device; rejects with the OS error (ENOENT, EACCES, EBUSY...). Never lists ports (needs udev). */
  static open(options: HostSerialOptions): Promise<HostSerialPort> {
    if (options.paceBaud !== undefined && !(options.paceBaud > 0))
      throw new RangeError(`bad paceBaud ${options.paceBaud}`);
    return new Promise((resolve, reject) => {
      const port = new NodeSerialPort({ path: options.path, baudRate: options.baudRate, autoOpen: false });
      port.open((error) => {
        if (error) reject(error);
        else resolve(new HostSerialPort(port, options));
      });
    });
  }

  /** Bytes received and not yet read. */
  get available(): number {
    return this.#available;
  }

  /** Bytes accepted by write() that the OS has not taken yet. */
  get queued(): number {
    return this.#pendingCount + this.#inFlight;
  }

  get closed(): boolean {
    return this.#closed;
  }

  read(into: Uint8Array): number {
    let copied = 0;
    while (copied < into.length && this.#received.length > 0) {
      const chunk = this.#received[0]!;
      const take = Math.min(into.length - copied, chunk.length - this.#head);
      into.set(chunk.subarray(this.#head, this.#head + take), copied);
      copied += take;
      this.#head += take;
      if (this.#head === chunk.length) {
        this.#received.shift();
        this.#head = 0;
      }
    }
    this.#available -= copied;
    return copied;
  }

  write(bytes: Uint8Array): void {
    if (this.#closed) {
      this.#fail(new Error(`write of ${bytes.length} bytes to closed port ${this.#options.path}`));
      return;
    }
    if (bytes.length === 0) return;
    // The caller may reuse its buffer at once (the engine does), so the port keeps its own copy.
    const copy = Uint8Array.prototype.slice.call(bytes);
    if (this.#options.paceBaud === undefined) {
      this.#handOver(copy);
      return;
    }
    this.#pending.push(copy);
    this.#pendingCount += copy.length;
    if (this.#pumpTimer !== undefined) return;
    const now = performance.now();
    const lineFreeAt = this.#runEpoch + (this.#runBytes * BITS_PER_BYTE * 1000) / this.#options.paceBaud;
    if (now >= lineFreeAt) {
      // The line is idle: a new run of back-to-back bytes starts now.
      this.#runEpoch = now;
      this.#runBytes = 0;
    }
    this.#pump();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopPump();
    this.#pending.length = 0;
    this.#pendingCount = 0;
    if (this.#port.isOpen) {
      this.#port.close((error) => {
        if (error) this.#options.onError?.(error);
      });
    }
  }

  /** Resolves when everything written so far has been taken by the OS (for tools that exit after a write). */
  async flush(): Promise<void> {
    while (!this.#closed && this.queued > 0) await new Promise((resolve) => setTimeout(resolve, 1));
    if (!this.#closed) await new Promise<void>((resolve) => this.#port.drain(() => resolve()));
  }

  #onData(chunk: Buffer): void {
    this.#received.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
    this.#available += chunk.length;
    this.onReadable?.(this.#available);
  }

  #handOver(bytes: Uint8Array): void {
    this.#inFlight += bytes.length;
    this.#port.write(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length), (error) => {
      this.#inFlight -= bytes.length;
      if (error) this.#fail(error);
      else if (this.queued === 0 && !this.#closed) this.onWritable?.(HOST_TX_WINDOW);
    });
  }

  /**
   * Hands over every byte whose transmission would have ended by now: byte k of a run ends at
   * epoch + k * 10000 / baud (one multiplication, no drift), so the peer never sees a byte early.
   */
  #pump(): void {
    this.#pumpTimer = undefined;
    if (this.#closed || this.#pendingCount === 0) return;
    const baud = this.#options.paceBaud!;
    const now = performance.now();
    const due = Math.min(
      this.#pendingCount,
      Math.floor(((now - this.#runEpoch) * baud) / (BITS_PER_BYTE * 1000)) - this.#runBytes,
    );
    if (due > 0) {
      this.#handOver(this.#takePending(due));
      this.#runBytes += due;
    }
    if (this.#pendingCount > 0) {
      const nextEnd = this.#runEpoch + ((this.#runBytes + 1) * BITS_PER_BYTE * 1000) / baud;
      this.#pumpTimer = setTimeout(() => this.#pump(), Math.max(0, nextEnd - performance.now()));
    }
  }

  #takePending(count: number): Uint8Array {
    const out = new Uint8Array(count);
    let filled = 0;
    while (filled < count) {
      const chunk = this.#pending[0]!;
      const take = Math.min(count - filled, chunk.length - this.#pendingHead);
      out.set(chunk.subarray(this.#pendingHead, this.#pendingHead + take), filled);
      filled += take;
      this.#pendingHead += take;
      if (this.#pendingHead === chunk.length) {
        this.#pending.shift();
        this.#pendingHead = 0;
      }
    }
    this.#pendingCount -= count;
    return out;
  }

  #stopPump(): void {
    if (this.#pumpTimer !== undefined) clearTimeout(this.#pumpTimer);
    this.#pumpTimer = undefined;
  }

  #fail(error: Error): void {
    if (this.#options.onError) this.#options.onError(error);
    else throw error;
  }
}
