// A hand-fed SerialPort for transport tests: the test pushes the module's bytes, and reads back what was written.

import type { SerialPort } from "../../../hal/serial.js";

export class FakePort implements SerialPort {
  onReadable: ((count: number) => void) | undefined;
  onWritable: ((count: number) => void) | undefined;
  /** Every write, decoded as Latin-1 text (commands end in "\r"). */
  readonly writes: string[] = [];
  /** The array each write was given (to check that the caller reuses its transmit buffer). */
  readonly writeArrays: Uint8Array[] = [];
  /** Called after each write (a scripted module answers from here). */
  onWrite: ((text: string) => void) | undefined;
  closed = false;
  private pending: Uint8Array[] = [];
  private pendingOffset = 0;

  read(into: Uint8Array): number {
    let n = 0;
    while (n < into.length && this.pending.length > 0) {
      const head = this.pending[0]!;
      const take = Math.min(into.length - n, head.length - this.pendingOffset);
      into.set(head.subarray(this.pendingOffset, this.pendingOffset + take), n);
      n += take;
      this.pendingOffset += take;
      if (this.pendingOffset === head.length) {
        this.pending.shift();
        this.pendingOffset = 0;
      }
    }
    return n;
  }

  write(bytes: Uint8Array): void {
    let text = "";
    for (const b of bytes) text += String.fromCharCode(b);
    this.writes.push(text);
    this.writeArrays.push(bytes);
    this.onWrite?.(text);
  }

  close(): void {
    this.closed = true;
  }

  /** Delivers bytes from the module (copied) and signals onReadable. */
  feed(bytes: Uint8Array | string): void {
    const copy = typeof bytes === "string" ? latin1(bytes) : bytes.slice();
    if (copy.length === 0) return;
    this.pending.push(copy);
    let waiting = 0;
    for (const p of this.pending) waiting += p.length;
    this.onReadable?.(waiting - this.pendingOffset);
  }
}

export function latin1(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

export function concatBytes(parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
