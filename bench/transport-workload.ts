// Portable benchmark workload (runs on Node and inside XS): 1024-byte OTA reads through the lexer and the transport.

import { AtLexer } from "../src/at/lexer.js";
import { AtTransport } from "../src/at/transport.js";
import type { SerialPort } from "../hal/serial.js";
import type { Clock } from "../hal/clock.js";
import { AT } from "../src/quecthing/commands.js";

export const BLOCK = 1024;

function latin1(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

/** The module's bytes for one read at `start`: echo, header, payload (with framing text inside), OK. */
export function readResponse(start: number): Uint8Array {
  const head = latin1(`AT+QIOTOTARD=${start},${BLOCK}\r\r\n+QIOTOTARD: ${start},${BLOCK}\r\n`);
  const tail = latin1("\r\n\r\nOK\r\n");
  const out = new Uint8Array(head.length + BLOCK + tail.length);
  out.set(head, 0);
  for (let i = 0; i < BLOCK; i++) out[head.length + i] = (start + i * 7) & 0xff;
  out.set(latin1("\r\nOK\r\n+QIOTEVT: 7,10706\r\n"), head.length + 100);
  out.set(tail, head.length + BLOCK);
  return out;
}

/** Lexer only: `reads` responses fed in 256-byte chunks (the transport's read size). Returns payload bytes seen. */
export function runLexer(reads: number): number {
  const target = new Uint8Array(BLOCK);
  let payload = 0;
  let echoes = 0;
  const lexer = new AtLexer(
    {
      line: () => undefined,
      echo: () => {
        echoes++;
      },
      otaHeader: (_s, n) => {
        payload += n;
        return target;
      },
      otaPayloadEnd: () => undefined,
      otaTrailer: () => undefined,
      rawUrc: () => undefined,
      rawMode: () => undefined,
      error: (kind) => {
        throw new Error(`unexpected ${kind}`);
      },
    },
    { maxLineLength: 512, maxRawUrcLength: 1024 },
  );
  const responses = [readResponse(0), readResponse(1024)];
  for (let r = 0; r < reads; r++) {
    const bytes = responses[r & 1]!;
    lexer.echoCandidate = `AT+QIOTOTARD=${(r & 1) * 1024},${BLOCK}`;
    for (let i = 0; i < bytes.length; i += 256) lexer.push(bytes, i, Math.min(i + 256, bytes.length));
  }
  if (echoes !== reads) throw new Error(`echo seen ${echoes} times`);
  return payload;
}

/** A port whose module answers each QIOTOTARD at once (no line time): measures parsing, not the UART. */
class InstantPort implements SerialPort {
  onReadable: ((count: number) => void) | undefined;
  onWritable: ((count: number) => void) | undefined;
  private pending: Uint8Array | undefined;
  private offset = 0;
  constructor(private readonly responses: Uint8Array[]) {}
  read(into: Uint8Array): number {
    const p = this.pending;
    if (!p) return 0;
    const n = Math.min(into.length, p.length - this.offset);
    into.set(p.subarray(this.offset, this.offset + n));
    this.offset += n;
    if (this.offset === p.length) this.pending = undefined;
    return n;
  }
  write(bytes: Uint8Array): void {
    // "AT+QIOTOTARD=<start>,..." → the response for that start.
    this.pending = this.responses[bytes[13] === 0x30 ? 0 : 1];
    this.offset = 0;
  }
  deliver(): void {
    if (this.pending) this.onReadable?.(this.pending.length);
  }
  close(): void {}
}

const stillClock: Clock = { now: () => 0, setTimer: () => 0, clearTimer: () => undefined };

/** Whole transport: `reads` sequential readOta calls. Resolves with the payload bytes received. */
export async function runTransport(reads: number): Promise<number> {
  const port = new InstantPort([readResponse(0), readResponse(1024)]);
  const transport = new AtTransport(port, stillClock, { baud: 115200 });
  const into = new Uint8Array(BLOCK);
  let total = 0;
  for (let r = 0; r < reads; r++) {
    const pending = transport.readOta(AT.otaRead((r & 1) * 1024, BLOCK), (r & 1) * 1024, BLOCK, into);
    port.deliver();
    const result = await pending;
    if (result.final !== "OK" || result.headerMismatch) throw new Error(`read ${r}: ${result.final}`);
    total += result.length;
  }
  return total;
}
