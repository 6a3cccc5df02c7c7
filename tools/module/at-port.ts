// The module's AT port: UART bytes into command lines (any byte sequence is input, nothing throws), the lines
// queued and served one at a time, and the writer every reply, URC and read payload goes through.

import type { SerialPort } from "../../hal/serial.js";
import type { ModuleContext, TraceKind } from "./module-context.js";

/** UTF-8 bytes of a text (lone surrogates as their 3-byte form, as the module's C strings would hold them). */
export function utf8(text: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < text.length)
      c = 0x10000 + ((c - 0xd800) << 10) + (text.charCodeAt(++i) - 0xdc00);
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return Uint8Array.from(out);
}

export function byteLength(text: string): number {
  return utf8(text).length;
}

/** The smallest code point each sequence length may carry (longer forms are overlong, so not UTF-8). */
const MIN_CODE = [0, 0x80, 0x800, 0x10000];

/**
 * UTF-8 to text. A sequence that is not UTF-8 (bad lead or continuation, overlong, a surrogate, above U+10FFFF:
 * e.g. F5 80 80 80) keeps its bytes as Latin-1 characters: line noise is input like any other and never throws.
 */
export function decodeLine(bytes: Uint8Array, length: number): string {
  let text = "";
  for (let i = 0; i < length; i++) {
    const b = bytes[i]!;
    const extra = b >= 0xf8 ? 0 : b >= 0xf0 ? 3 : b >= 0xe0 ? 2 : b >= 0xc0 ? 1 : 0; // F8-FF lead nothing
    let code = extra === 3 ? b & 7 : extra === 2 ? b & 15 : b & 31;
    let valid = extra > 0 && i + extra < length;
    for (let k = 1; valid && k <= extra; k++) {
      const c = bytes[i + k]!;
      if ((c & 0xc0) !== 0x80) valid = false;
      else code = (code << 6) | (c & 63);
    }
    valid &&= code >= MIN_CODE[extra]! && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff);
    if (b < 0x80 || !valid) {
      text += String.fromCharCode(b);
      continue;
    }
    text += String.fromCodePoint(code);
    i += extra;
  }
  return text;
}

export interface Arg {
  quoted: boolean;
  value: string;
}

/** Splits `"a","b",3` into arguments; quotes carry no escapes in the QIOT syntax. Returns undefined on bad syntax. */
export function parseArgs(text: string): Arg[] | undefined {
  const args: Arg[] = [];
  let i = 0;
  if (text === "") return args;
  for (;;) {
    while (text[i] === " ") i++;
    if (text[i] === '"') {
      const end = text.indexOf('"', i + 1);
      if (end < 0) return undefined;
      args.push({ quoted: true, value: text.slice(i + 1, end) });
      i = end + 1;
      while (text[i] === " ") i++;
    } else {
      let end = text.indexOf(",", i);
      if (end < 0) end = text.length;
      args.push({ quoted: false, value: text.slice(i, end).trim() });
      i = end;
    }
    if (i >= text.length) return args;
    if (text[i] !== ",") return undefined;
    i++;
  }
}

export function integerArg(arg: Arg | undefined): number | undefined {
  if (!arg || arg.quoted || !/^-?\d{1,10}$/.test(arg.value)) return undefined;
  return Number(arg.value);
}

/** The four AT command forms: `AT+X` exec, `AT+X?` read, `AT+X=?` test, `AT+X=<args>` write. */
export type CommandMode = "exec" | "read" | "test" | "write";

export interface ParsedCommand {
  /** What follows `AT`, upper case: "" for plain AT, "E0", "+QIOTUPDATE"... */
  name: string;
  mode: CommandMode;
  /** The arguments of a write; empty otherwise. */
  args: Arg[];
}

const CMD_NAME = /^AT(\+?[A-Z&]*\d*|[A-Z&]\d*)/i;

/** Splits a command line (it starts with AT, any case) into name, mode and arguments; undefined on bad syntax. */
export function parseCommand(command: string): ParsedCommand | undefined {
  const match = CMD_NAME.exec(command);
  const name = (match ? match[1]! : "").toUpperCase();
  let rest = command.slice(2 + (match ? match[1]!.length : 0));
  let mode: CommandMode = "exec";
  if (rest === "?") mode = "read";
  else if (rest === "=?") mode = "test";
  else if (rest.startsWith("=")) {
    mode = "write";
    rest = rest.slice(1);
  } else if (rest !== "") return undefined;
  const args = mode === "write" ? parseArgs(rest) : [];
  return args ? { name, mode, args } : undefined;
}

/** The UART side of the module: input lines in, replies and URCs out (docs/protocol.md §1 framing). */
export class AtPort {
  /** ATE0 / ATE1; back to the setting at every boot. */
  echo = true;
  private readonly lineBuffer = new Uint8Array(2048);
  private lineLength = 0;
  private lineOverflow = false;
  private readonly scratch = new Uint8Array(512);
  private readonly queue: string[] = [];
  private busy = false;
  /** Bytes written since power-on: stream faults count positions in it. */
  private streamPosition = 0;

  constructor(
    private readonly m: ModuleContext,
    private readonly serial: SerialPort,
    private readonly execute: (command: string) => void,
  ) {}

  /** Power-on: the port starts listening. */
  open(): void {
    this.serial.onReadable = (count) => this.onReadable(count);
  }

  /** Power-off: the port stops listening and closes. */
  close(): void {
    this.serial.onReadable = undefined;
    this.serial.close();
  }

  /** Boot: RAM state of the port is lost; echo returns to its setting. */
  reset(): void {
    this.echo = this.m.settings.echo;
    this.lineLength = 0;
    this.lineOverflow = false;
    this.queue.length = 0;
    this.busy = false;
  }

  // ---------------------------------------------------------------- output

  /** Every byte to the device passes here, so stream faults see one continuous position count. */
  writeBytes(bytes: Uint8Array): void {
    if (!this.m.powered) return;
    const out = this.m.faults.applyStreamFaults(bytes, this.streamPosition);
    if (out !== bytes)
      this.m.trace(
        "fault",
        `stream fault in bytes ${this.streamPosition}..${this.streamPosition + bytes.length - 1}`,
      );
    this.streamPosition += bytes.length;
    if (out.length) this.serial.write(out);
  }

  send(text: string, kind: TraceKind, summary: string): void {
    this.m.trace(kind, summary);
    this.writeBytes(utf8(text));
  }

  urc(line: string): void {
    this.send(`\r\n${line}\r\n`, "urc", line);
  }

  respond(lines: string[], final: "OK" | "ERROR" = "OK"): void {
    let text = "";
    for (const line of lines) text += `\r\n${line}\r\n`;
    text += `\r\n${final}\r\n`;
    this.send(text, "tx", [...lines, final].join(" | "));
  }

  ok(lines: string[] = []): void {
    this.respond(lines, "OK");
  }

  error(): void {
    this.respond([], "ERROR");
  }

  // ---------------------------------------------------------------- input

  private onReadable(count: number): void {
    let remaining = count;
    for (;;) {
      const n = this.serial.read(this.scratch);
      if (n <= 0) break;
      for (let i = 0; i < n; i++) this.onByte(this.scratch[i]!);
      remaining -= n;
      if (remaining <= 0 && n < this.scratch.length) break;
    }
  }

  private onByte(byte: number): void {
    if (!this.m.booted) return; // the UART is not listening before RDY
    if (byte === 0x0d || byte === 0x0a) {
      if (this.lineLength > 0 && !this.lineOverflow)
        this.onLine(decodeLine(this.lineBuffer, this.lineLength));
      this.lineLength = 0;
      this.lineOverflow = false;
      return;
    }
    if (this.lineLength >= this.lineBuffer.length) {
      this.lineOverflow = true;
      return;
    }
    this.lineBuffer[this.lineLength++] = byte;
  }

  private onLine(line: string): void {
    if (this.echo) this.writeBytes(utf8(`${line}\r\n`));
    const start = line.search(/AT/i);
    if (start < 0) {
      this.m.trace("note", `ignored non-AT line ${JSON.stringify(line)}`);
      return;
    }
    this.queue.push(line.slice(start));
    this.pump();
  }

  /** One command at a time: with a latency, the next waits for the previous one's answer. */
  private pump(): void {
    if (this.busy || this.queue.length === 0 || !this.m.booted) return;
    const command = this.queue.shift()!;
    this.m.trace("rx", command);
    if (this.m.settings.latencyMs > 0) {
      this.busy = true;
      this.m.after(this.m.settings.latencyMs, () => {
        this.busy = false;
        this.execute(command);
        this.pump();
      });
    } else {
      this.execute(command);
      this.pump();
    }
  }
}
