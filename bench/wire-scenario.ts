// One update at the wire bound, in virtual time: the engine (or a naive client that erases and writes between
// reads) on the simulated device against the virtual module; reading time against the line and stop-and-wait bounds.

import { lineTimeMs } from "../hal/sim/serial-link.js";
import { ModuleClient } from "../src/quecthing/client.js";
import { AT, UpdateAction } from "../src/quecthing/commands.js";
import type { QuecEvent } from "../src/quecthing/events.js";
import { patternImage } from "../tools/device/flash-setup.js";
import { HostDevice } from "../tools/device/session.js";
import { parsePlan } from "../tools/module/plan.js";
import { VirtualModule } from "../tools/module/virtual-module.js";
import { createSimDevice } from "../tools/sim/device.js";
import type { SimDevice } from "../tools/sim/device.js";

export const COMPONENT = "app";
/** Module flash for the package cache: the piece length (the virtual module's default). */
export const PIECE = 65536;
/** "Instant" pieces: the module has the piece 1 ms after it asks for it. */
export const INSTANT = 1_000_000_000;

export interface WireScenario {
  baud: number;
  readLength: number;
  imageSize: number;
  /** The module's piece download rate in bytes per second (INSTANT for instant). */
  rate: number;
  client: "engine" | "naive";
  /** Receive FIFO of the device's UART; default 128 (ESP32). */
  fifoSize?: number;
  /** Prints the module's trace (commands and events, not the reads) with virtual times: to see where time goes. */
  trace?: boolean;
}

export interface WireResult {
  ok: boolean;
  /** Payload bytes at 10 bits each. */
  lineBoundMs: number;
  /** Every read's command and reply bytes at 10 bits each, plus the module's latency. */
  stopAndWaitMs: number;
  /** From each 10703's arrival to the piece's last byte written, summed over the pieces. */
  readingMs: number;
  /** From the device's start to the 10705 on the line. */
  totalMs: number;
  reads: number;
  droppedBytes: number;
  erases: number;
  /** Erase time spent while the module waited for the MCU outside reading: from the 10700 to the confirm and from a
   *  piece's last byte to its QIOTUPDATE=2 (flash work moved out of the reads, not a wait of the engine's own). */
  quietEraseMs: number;
}

/** Bytes of one AT+QIOTOTARD exchange (docs/protocol.md §5): command with CR, header, payload, trailer. */
export function readExchangeBytes(offset: number, length: number): number {
  const command = `AT+QIOTOTARD=${offset},${length}\r`.length;
  const header = `\r\n+QIOTOTARD: ${offset},${length}\r\n`.length;
  return command + header + length + "\r\n\r\nOK\r\n".length;
}

/** The device, the module with a one-component plan, and a note of every 10703 and the 10705 as they arrive. */
function world(s: WireScenario): {
  sim: SimDevice;
  module: VirtualModule;
  pieceArrivals: number[];
  done: { at: number };
  /** The 10700's arrival, then every QIOTUPDATE=1 or =2 the module received, in order. */
  marks: { at: number; what: "plan" | "confirm" | "next" }[];
} {
  const blockLength = 4096;
  const slotSize = Math.ceil((s.imageSize + 1) / blockLength) * blockLength;
  const sim = createSimDevice({
    baud: s.baud,
    slotSize,
    fifoSize: s.fifoSize ?? 128,
    partitionSize: (2 * (slotSize / blockLength) + 4) * blockLength,
    flashTime: "after-factory",
    factory: { component: COMPONENT, version: "1.0.0", bytes: patternImage(COMPONENT, "1.0.0", 3000) },
  });
  const image = patternImage(COMPONENT, "1.1.0", s.imageSize);
  const plan = parsePlan({
    product: "pWire",
    components: [
      {
        id: COMPONENT,
        type: "full",
        targetVersion: "1.1.0",
        package: "pkg.bin",
        minBattery: 10,
        minSignal: -110,
      },
    ],
    settings: {
      productKey: "pWire",
      productSecret: "secret",
      downloadBytesPerSecond: s.rate,
      freeSpace: PIECE,
      maxReadLength: s.readLength,
    },
    faults: [],
  });
  const pieceArrivals: number[] = [];
  const done = { at: -1 };
  const marks: { at: number; what: "plan" | "confirm" | "next" }[] = [];
  const clock = sim.clock;
  const module = new VirtualModule({
    serial: sim.link.b,
    // The module runs on while the MCU is busy (erasing, writing).
    clock: clock.world,
    digests: sim.digests,
    plan,
    packages: () => image,
    onTrace: (entry) => {
      if (s.trace && !(entry.kind === "read" || entry.text.startsWith("AT+QIOTOTARD=")))
        console.log(`${clock.now().toFixed(1).padStart(9)} ${entry.kind} ${entry.text}`);
      if (entry.kind === "rx" && entry.text === "AT+QIOTUPDATE=1")
        marks.push({ at: clock.now(), what: "confirm" });
      if (entry.kind === "rx" && entry.text === "AT+QIOTUPDATE=2")
        marks.push({ at: clock.now(), what: "next" });
      if (entry.kind !== "urc") return;
      if (entry.text.includes("7,10700")) marks.push({ at: clock.now(), what: "plan" });
      // The URC's last byte reaches the device one line time later (the line is idle around URCs here).
      const arrival = clock.now() + lineTimeMs(entry.text.length + 4, s.baud);
      if (entry.text.includes("7,10703")) pieceArrivals.push(arrival);
      else if (entry.text.includes("7,10705")) done.at = arrival;
    },
  });
  return { sim, module, pieceArrivals, done, marks };
}

function bounds(s: WireScenario): { line: number; stopAndWait: number; reads: number } {
  let stopAndWait = 0;
  let reads = 0;
  for (let piece = 0; piece < s.imageSize; piece += PIECE) {
    const end = Math.min(s.imageSize, piece + PIECE);
    for (let at = piece; at < end; at += s.readLength) {
      stopAndWait += lineTimeMs(readExchangeBytes(at, Math.min(s.readLength, end - at)), s.baud);
      reads++;
    }
  }
  return { line: lineTimeMs(s.imageSize, s.baud), stopAndWait, reads };
}

/** Runs one update to its 10705 (or a 2-hour virtual limit). */
export async function runWire(s: WireScenario): Promise<WireResult> {
  const { sim, module, pieceArrivals, done, marks } = world(s);
  const clock = sim.clock;
  const erases: { at: number; ms: number }[] = [];
  const flash = sim.flash;
  const eraseBlock = flash.eraseBlock.bind(flash);
  flash.eraseBlock = (first: number, end?: number): void => {
    const at = clock.now();
    eraseBlock(first, end);
    erases.push({ at, ms: clock.now() - at });
    if (s.trace) console.log(`${at.toFixed(1).padStart(9)} erase ${first}`);
  };
  // Power-on: the board starts the MCU and the module together; the module's RDY ends its boot.
  module.powerOn();
  const start = clock.now();
  const pieceEnds: number[] = [];
  const onBytes = (bytes: number): void => {
    if (bytes === Math.min(s.imageSize, (pieceEnds.length + 1) * PIECE)) pieceEnds.push(clock.now());
  };
  if (s.client === "engine") {
    const host = new HostDevice({
      serial: sim.link.a,
      clock,
      flash: sim.flash,
      layout: sim.layout,
      digests: sim.digests,
      kv: sim.kv,
      component: COMPONENT,
      baud: s.baud,
      once: true,
      engine: { maxReadLength: s.readLength },
      onProgress: (p) => {
        if (p.state === "reading") onBytes(p.bytes);
      },
    });
    void host.run();
  } else {
    void naiveClient(sim, s, onBytes);
  }
  await clock.runUntil(() => done.at >= 0, 2 * 3_600_000);
  const b = bounds(s);
  let reading = 0;
  for (let i = 0; i < pieceEnds.length; i++) reading += pieceEnds[i]! - (pieceArrivals[i] ?? pieceEnds[i]!);
  // Windows where the module waits for the MCU: the plan until its confirm, each piece's end until its QIOTUPDATE=2.
  const windows: [number, number][] = [];
  const plan = marks.find((m) => m.what === "plan");
  const confirm = marks.find((m) => m.what === "confirm");
  if (plan && confirm) windows.push([plan.at, confirm.at]);
  const nexts = marks.filter((m) => m.what === "next");
  for (let i = 0; i < nexts.length && i < pieceEnds.length; i++) windows.push([pieceEnds[i]!, nexts[i]!.at]);
  let quietErase = 0;
  for (const e of erases) if (windows.some(([from, to]) => e.at >= from && e.at < to)) quietErase += e.ms;
  return {
    ok: done.at >= 0 && pieceEnds.length === Math.ceil(s.imageSize / PIECE),
    lineBoundMs: b.line,
    stopAndWaitMs: b.stopAndWait,
    readingMs: reading,
    totalMs: done.at - start,
    reads: b.reads,
    droppedBytes: sim.link.a.droppedBytes,
    erases: sim.flash.stats.eraseCount,
    quietEraseMs: quietErase,
  };
}

function is(kind: QuecEvent["kind"]): (event: QuecEvent) => boolean {
  return (event) => event.kind === kind;
}

/**
 * The baseline: the simplest client that works. Connect, report, ask, confirm, then per piece: erase the sector a read
 * enters, read, write; then install and report the new version. No resume, no checks: a yardstick, not firmware.
 */
async function naiveClient(sim: SimDevice, s: WireScenario, onBytes: (bytes: number) => void): Promise<void> {
  await moduleBooted(sim);
  const client = new ModuleClient(sim.link.a, sim.clock, { baud: s.baud, startQuietMs: 0 });
  const flash = sim.flash;
  const slot = sim.layout.slots[1];
  const blockLength = sim.layout.blockLength;
  const block = new Uint8Array(s.readLength);
  await client.command(AT.echoOff());
  await client.command(AT.register(1));
  await client.waitFor((e) => e.kind === "qiot" && e.type === 3, 60_000);
  await client.command(AT.mcuVersion(COMPONENT, "1.0.0"));
  await client.command(AT.otaRequest(true));
  await client.waitFor(is("plan"), 60_000);
  await client.command(AT.update(UpdateAction.Confirm));
  const info = await client.waitFor(is("download-start"), 60_000);
  if (info?.kind !== "download-start") throw new Error("naive client: no 10701");
  let erasedTo = 0;
  let received = 0;
  for (;;) {
    const piece = await client.waitFor(is("piece"), 600_000);
    if (piece?.kind !== "piece") throw new Error("naive client: no 10703");
    const end = piece.pieceStart + piece.pieceLength;
    while (received < end) {
      const want = Math.min(s.readLength, end - received);
      while (erasedTo < received + want) {
        flash.eraseBlock((slot.offset + erasedTo) / blockLength);
        erasedTo += blockLength;
      }
      const reply = await client.readBlock(received, want, block);
      if (reply.final !== "OK" || reply.length !== want) throw new Error("naive client: read failed");
      flash.write(want === block.length ? block : block.subarray(0, want), slot.offset + received);
      received += want;
      onBytes(received);
    }
    if (end >= info.size) break;
    await client.command(AT.update(UpdateAction.NextPiece));
  }
  await client.command(AT.update(UpdateAction.Updating));
  // The "reboot" into the new image, then its version report ends the OTA with 10705.
  await client.command(AT.mcuVersion(COMPONENT, "1.1.0"));
}

/** A simple client speaks to the module once it said it is up (RDY). */
function moduleBooted(sim: SimDevice): Promise<void> {
  const port = sim.link.a;
  const chunk = new Uint8Array(64);
  let seen = "";
  return new Promise((resolve) => {
    port.onReadable = () => {
      for (let n = port.read(chunk); n > 0; n = port.read(chunk))
        seen += String.fromCharCode(...chunk.subarray(0, n));
      if (!seen.includes("RDY\r\n")) return;
      port.onReadable = undefined;
      resolve();
    };
  });
}
