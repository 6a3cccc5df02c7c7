// Test harness for the virtual module: a zero-latency module-side port, virtual time, and a standard plan.

import type { SerialPort } from "../../../hal/serial.js";
import { VirtualClock } from "../../../hal/sim/virtual-clock.js";
import { NobleDigestFactory } from "../../../hal/sim/digest.js";
import { VirtualModule, type TraceEntry, type ModuleFlash } from "../../../tools/module/virtual-module.js";
import { parsePlan, type Plan } from "../../../tools/module/plan.js";
import type { ModuleSettings } from "../../../tools/module/settings.js";
import type { Fault } from "../../../tools/module/faults.js";

/** The device's view of the UART with no line delay: what the module writes is collected byte for byte. */
export class DirectPort implements SerialPort {
  onReadable: ((count: number) => void) | undefined;
  onWritable: ((count: number) => void) | undefined;
  closed = false;
  private incoming: number[] = [];
  private output: number[] = [];

  read(into: Uint8Array): number {
    const n = Math.min(into.length, this.incoming.length);
    for (let i = 0; i < n; i++) into[i] = this.incoming[i]!;
    this.incoming.splice(0, n);
    return n;
  }
  write(bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; i++) this.output.push(bytes[i]!);
  }
  close(): void {
    this.closed = true;
  }
  /** Bytes from the device to the module. */
  inject(bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; i++) this.incoming.push(bytes[i]!);
    this.onReadable?.(this.incoming.length);
  }
  takeBytes(): Uint8Array {
    const out = Uint8Array.from(this.output);
    this.output = [];
    return out;
  }
}

export function latin1(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i]!);
  return text;
}

export function bytesOf(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

/** A package whose bytes include NUL, CR, LF and the text "\r\nOK\r\n", so payload framing errors show. */
export function makePackage(size: number, seed = 1): Uint8Array {
  const data = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    data[i] = x >>> 24;
  }
  const trap = "\r\nOK\r\n+QIOTEVT: 7,10706\r\n";
  for (let i = 0; i < trap.length && 100 + i < size; i++) data[100 + i] = trap.charCodeAt(i);
  if (size > 10) data[10] = 0;
  return data;
}

export const FILE_SIZE = 19656;
/** Shared by every rig (never modified), so its digests are computed once. */
const standardPackage = makePackage(FILE_SIZE);

export const PK = "p11abc";
export const PS = "secretPS";

export function standardPlan(extra: Record<string, unknown> = {}): Plan {
  return parsePlan({
    product: PK,
    components: [
      { id: "MCU", type: "full", targetVersion: "2.0.0", package: "fw.bin", minBattery: 30, minSignal: -100 },
    ],
    ...extra,
  });
}

export interface Rig {
  module: VirtualModule;
  port: DirectPort;
  clock: VirtualClock;
  trace: TraceEntry[];
  packages: Map<string, Uint8Array>;
  /** Sends raw bytes (a string of byte values) to the module. */
  send(text: string): void;
  /** Everything the module wrote since the last take, as a byte string. */
  take(): string;
  advance(ms: number): void;
  /** send + take after `ms` of virtual time. */
  exchange(text: string, ms?: number): string;
}

export interface RigOptions {
  plan?: Plan;
  settings?: Partial<ModuleSettings>;
  faults?: Fault[];
  packages?: Map<string, Uint8Array>;
  /** Leave the module just powered (RDY not yet taken). */
  raw?: boolean;
  /** Module flash to start from. */
  flash?: ModuleFlash;
}

/** A module with echo off, product info configured, online and with "MCU" at 1.0.0 reported. */
export function makeRig(options: RigOptions = {}): Rig {
  const clock = new VirtualClock();
  const port = new DirectPort();
  const packages = options.packages ?? new Map([["fw.bin", standardPackage]]);
  const trace: TraceEntry[] = [];
  const module = new VirtualModule({
    serial: port,
    clock,
    digests: new NobleDigestFactory(),
    plan: options.plan ?? standardPlan(),
    packages,
    settings: {
      bootDelayMs: 100,
      connectStepMs: 100,
      planDelayMs: 100,
      downloadInfoDelayMs: 1000,
      ...options.settings,
    },
    ...(options.faults ? { faults: options.faults } : {}),
    ...(options.flash ? { flash: options.flash } : {}),
    onTrace: (entry) => trace.push(entry),
  });
  const rig: Rig = {
    module,
    port,
    clock,
    trace,
    packages,
    send: (text) => port.inject(bytesOf(text)),
    take: () => latin1(port.takeBytes()),
    advance: (ms) => clock.advance(ms),
    exchange(text, ms = 0) {
      rig.send(text);
      if (ms > 0) clock.advance(ms);
      return rig.take();
    },
  };
  module.powerOn();
  if (options.raw) return rig;
  clock.advance(100);
  rig.take();
  rig.exchange("ATE0\r");
  rig.exchange(`AT+QIOTCFG="productinfo","${PK}","${PS}"\r`);
  rig.exchange("AT+QIOTREG=1\r", 300);
  rig.exchange('AT+QIOTMCUVER="MCU","1.0.0"\r');
  return rig;
}

export const OK = "\r\nOK\r\n";
export const ERROR = "\r\nERROR\r\n";
export const evt = (text: string): string => `\r\n+QIOTEVT: ${text}\r\n`;
