// Entry bundled for the wire benchmark in XS: the engine's read path alone (download.ts over the module client, the
// AT transport and the image receiver), against a scripted port whose replies are made before the measurement.

import type { Clock } from "../hal/clock.js";
import type { Digest, DigestAlgorithm, DigestFactory } from "../hal/digest.js";
import type { FlashPartition, FlashStatus } from "../hal/flash.js";
import type { SerialPort } from "../hal/serial.js";
import { VirtualClock } from "../hal/sim/virtual-clock.js";
import { openBoot } from "../src/boot/generic-boot.js";
import { ModuleClient } from "../src/quecthing/client.js";
import { resolveConfig } from "../src/sota/config.js";
import { newSession } from "../src/sota/context.js";
import type { EngineContext } from "../src/sota/context.js";
import { handlePiece } from "../src/sota/download.js";
import { OtaRecordStore } from "../src/sota/ota-record.js";
import { ProgressReporter } from "../src/sota/progress.js";
import { patternImage } from "../tools/device/flash-setup.js";
import { createSimDevice } from "../tools/sim/device.js";

const g = globalThis as Record<string, unknown>;
const COMPONENT = "app";

function latin1(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

/** Flash in one RAM array: the simulated flash copies a sector on its first write, which is no device's cost. */
class RamFlash implements FlashPartition {
  readonly #bytes: Uint8Array;
  readonly #status: FlashStatus;
  constructor(status: FlashStatus, content: Uint8Array) {
    this.#status = status;
    this.#bytes = content;
  }
  status(): FlashStatus {
    return this.#status;
  }
  eraseBlock(start: number, end = start + 1): void {
    this.#bytes.fill(
      this.#status.eraseValue,
      start * this.#status.blockLength,
      end * this.#status.blockLength,
    );
  }
  read(into: Uint8Array, offset: number): void {
    for (let i = 0; i < into.length; i++) into[i] = this.#bytes[offset + i]!;
  }
  write(bytes: Uint8Array, offset: number): void {
    for (let i = 0; i < bytes.length; i++) this.#bytes[offset + i]! &= bytes[i]!;
  }
}

/**
 * The module as a script: every reply is made at setup; a read's reply is chosen by the offset digits of the command
 * and copied byte by byte. Replies wait until the driver delivers them one by one (a loop, not a recursion).
 */
class ScriptedPort implements SerialPort {
  onReadable: ((count: number) => void) | undefined = undefined;
  onWritable: ((count: number) => void) | undefined = undefined;
  reads = 0;
  #reply: Uint8Array | undefined;
  #at = 0;
  #queued: Uint8Array | undefined;
  readonly #replies: Uint8Array[];
  readonly #ok = latin1("\r\nOK\r\n");
  readonly #readLength: number;

  constructor(image: Uint8Array, readLength: number) {
    this.#readLength = readLength;
    this.#replies = [];
    for (let at = 0; at < image.length; at += readLength) {
      const n = Math.min(readLength, image.length - at);
      const head = latin1(`\r\n+QIOTOTARD: ${at},${n}\r\n`);
      const tail = latin1("\r\n\r\nOK\r\n");
      const reply = new Uint8Array(head.length + n + tail.length);
      reply.set(head, 0);
      reply.set(image.subarray(at, at + n), head.length);
      reply.set(tail, head.length + n);
      this.#replies.push(reply);
    }
  }

  read(into: Uint8Array): number {
    const reply = this.#reply;
    if (!reply) return 0;
    let n = 0;
    while (n < into.length && this.#at < reply.length) into[n++] = reply[this.#at++]!;
    if (this.#at >= reply.length) this.#reply = undefined;
    return n;
  }

  write(bytes: Uint8Array): void {
    // "AT+QIOTOTARD=<offset>,...": 13 bytes of command before the digits.
    let reply = this.#ok;
    if (bytes[7] === 0x4f /* O of OTARD */ && bytes[12] === 0x3d /* = */) {
      let offset = 0;
      for (let i = 13; bytes[i] !== 0x2c; i++) offset = offset * 10 + bytes[i]! - 0x30;
      reply = this.#replies[offset / this.#readLength]!;
      this.reads++;
    }
    this.#queued = reply;
  }

  /** Delivers the reply to the last command; false when none waits. */
  deliver(): boolean {
    const reply = this.#queued;
    if (!reply) return false;
    this.#queued = undefined;
    this.#reply = reply;
    this.#at = 0;
    this.onReadable?.(reply.length);
    return true;
  }

  close(): void {}
}

/** Stands for the device's native digest (Moddable `crypt`, C): it touches every byte and allocates nothing. */
class ByteSumDigest implements Digest {
  #sum = 0;
  readonly #out: Uint8Array;
  constructor(algorithm: DigestAlgorithm) {
    this.#out = new Uint8Array(algorithm === "MD5" ? 16 : 32);
  }
  write(chunk: Uint8Array): void {
    let sum = this.#sum;
    for (let i = 0; i < chunk.length; i++) sum = (sum + chunk[i]!) | 0;
    this.#sum = sum;
  }
  close(): Uint8Array {
    return this.#out;
  }
  reset(): void {
    this.#sum = 0;
  }
}

const nativeLike: DigestFactory = { create: (algorithm) => new ByteSumDigest(algorithm) };

let port: ScriptedPort | undefined;
let outcome = "";

/** Sets up one download of a `pieceLength` piece (of a file twice as long); its first read waits for wireRun. */
g.wireStart = (pieceLength: number, readLength: number, pureJsDigests: boolean): void => {
  const blockLength = 4096;
  const fileSize = 2 * pieceLength;
  const slotSize = Math.ceil((fileSize + 1) / blockLength) * blockLength;
  const sim = createSimDevice({
    baud: 921600,
    slotSize,
    partitionSize: (2 * (slotSize / blockLength) + 4) * blockLength,
    flashTime: "never",
    factory: { component: COMPONENT, version: "1.0.0", bytes: patternImage(COMPONENT, "1.0.0", 3000) },
  });
  const status = sim.flash.status();
  const content = new Uint8Array(status.size);
  sim.flash.read(content, 0);
  const flash = new RamFlash(status, content);
  const clock: Clock = new VirtualClock();
  const image = patternImage(COMPONENT, "1.1.0", fileSize);
  port = new ScriptedPort(image, readLength);
  const client = new ModuleClient(port, clock, { baud: 921600, startQuietMs: 0 });
  const system = {
    restart: () => undefined,
    batteryPercent: () => 100,
    deviceId: () => "xs",
    log: () => undefined,
  };
  const records = new OtaRecordStore(sim.kv);
  records.save({
    component: COMPONENT,
    sourceVersion: "1.0.0",
    targetVersion: "1.1.0",
    stage: "confirmed",
    size: fileSize,
    md5: "00000000000000000000000000000000",
    sha256: "",
    crc: 0,
    pieceStart: 0,
    pieceLength: 0,
    advancing: false,
    securityCounter: 0,
  });
  const boot = openBoot(flash, sim.layout, pureJsDigests ? sim.digests : nativeLike);
  const session = newSession();
  session.readLength = readLength;
  const ctx: EngineContext = {
    client,
    boot,
    records,
    config: resolveConfig({ component: COMPONENT, slotSize: sim.layout.slots[0].length }),
    clock,
    system,
    progress: new ProgressReporter(COMPONENT, clock, system, () => "1.0.0"),
    packages: undefined,
    digests: undefined,
    session,
    restart: () => undefined,
  };
  const block = new Uint8Array(2 * readLength);
  handlePiece(ctx, block, fileSize, 0, pieceLength).then(
    (after) => {
      outcome = after;
    },
    (error: unknown) => {
      outcome = `error: ${error instanceof Error ? error.message : String(error)}`;
    },
  );
};

/** Answers reads until `reads` more have been asked for (they all run in this one XS turn). */
g.wireRun = (reads: number): void => {
  const p = port!;
  const target = p.reads + reads;
  while (p.reads < target && p.deliver());
};

g.wireCheck = (reads: number): void => {
  if (port!.reads !== reads) throw new Error(`at read ${port!.reads}, not ${reads}; outcome ${outcome}`);
};
