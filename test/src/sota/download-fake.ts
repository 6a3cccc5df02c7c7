// A hand-made engine context for the download phase (src/sota/download.ts): a scripted module client that serves a
// package's bytes, a recording receiver and boot control, a clock that erases move on. Portable (Node and XS).

import { FlashError } from "../../../hal/flash.js";
import { MemoryKeyValueStore } from "../../../hal/sim/memory-kv.js";
import type { BootControl, BootReport } from "../../../src/boot/types.js";
import type { ImageDescriptor, ImageReceiver, VerifyResult } from "../../../src/image/types.js";
import type { FinalCode, ModuleClient, OtaReadResult } from "../../../src/quecthing/client.js";
import type { QuecEvent } from "../../../src/quecthing/events.js";
import { resolveConfig, type SotaEngineConfig } from "../../../src/sota/config.js";
import { newSession, type EngineContext } from "../../../src/sota/context.js";
import { NO_WINDOW, OtaRecordStore, type OtaRecord } from "../../../src/sota/ota-record.js";
import { ProgressReporter } from "../../../src/sota/progress.js";

export const MD5 = "0123456789abcdef0123456789abcdef";
export const SHA = "ab".repeat(32);

/** A receiver over whole 4096-byte blocks (or `blockLength`) that records its erases and writes in `ops`. */
export class FakeReceiver implements ImageReceiver {
  readonly descriptor: ImageDescriptor;
  received: number;
  erasedTo: number;
  readonly written: number[] = [];
  constructor(
    descriptor: ImageDescriptor,
    readonly ops: string[],
    readonly clock: { t: number },
    readonly eraseMs: number,
    readonly blockLength = 4096,
    received = 0,
    /** Throws this from the next erase or write. */
    public failWith: Error | undefined = undefined,
  ) {
    this.descriptor = descriptor;
    this.received = received;
    this.erasedTo = Math.ceil(received / blockLength) * blockLength;
  }
  /** Erases from here on throw FlashError("worn"). */
  eraseFailFrom = Infinity;
  /** Erases still wanted after the last byte (a delta's pending work). */
  extra = 0;
  needsErase(upTo: number): boolean {
    if (this.extra > 0) return true;
    // Up to the image's end the seal block (the next one) is wanted too.
    const size = this.descriptor.size;
    const end =
      upTo >= size ? Math.ceil(size / this.blockLength) * this.blockLength + this.blockLength : upTo;
    return this.erasedTo < end;
  }
  /** What a step that erases nothing costs on the clock. */
  stepMs = 0;
  /** Called before each erase (a test's hook: a stop, a failure). */
  onErase: ((at: number) => void) | undefined;
  eraseStep(upTo: number): boolean {
    if (this.failWith) throw this.failWith;
    if (this.extra > 0) {
      this.extra--;
      this.ops.push("erase extra");
      return true;
    }
    if (!this.needsErase(upTo)) {
      this.clock.t += this.stepMs;
      return false;
    }
    if (this.erasedTo >= this.eraseFailFrom) throw new FlashError("worn", "io");
    this.onErase?.(this.erasedTo);
    this.ops.push(`erase ${this.erasedTo}`);
    this.erasedTo += this.blockLength;
    this.clock.t += this.eraseMs;
    return true;
  }
  write(bytes: Uint8Array, length: number): void {
    if (this.failWith) throw this.failWith;
    if (this.received + length > this.erasedTo) throw new Error(`write at ${this.received} not erased`);
    this.ops.push(`write ${this.received}+${length}:${bytes[0]}`);
    for (let i = 0; i < length; i++) this.written.push(bytes[i]!);
    this.received += length;
  }
  readBack(_offset: number, _into: Uint8Array): void {
    throw new Error("not used");
  }
  incomplete?: () => string;
  finish(): VerifyResult {
    return { ok: true, reason: "", md5: this.descriptor.md5, sha256: this.descriptor.sha256 };
  }
}

/** One scripted reply of AT+QIOTOTARD (fields other than the defaults); `bytes` false: nothing copied. */
export type Reply = Partial<OtaReadResult> & { copy?: boolean };

export interface DownloadFake {
  ctx: EngineContext;
  kv: MemoryKeyValueStore;
  clock: { t: number };
  /** Client, boot and receiver calls in order (reads, erases, writes, polls, sleeps, reports). */
  ops: string[];
  states: string[];
  logs: string[];
  /** Replies used before the served bytes, one per read. */
  replies: Reply[];
  /** Events takeEvent may take. */
  events: QuecEvent[];
  /** The package the module serves. */
  data: Uint8Array;
  /** What AT+QIOTOTARD=? allows. */
  maxRead: number;
  nextPieceAnswer: FinalCode;
  /** Start-up's answers: AT+QIOTCFG buffer mode, AT+IFC, product info; connect's failures before it connects. */
  prepareAnswer: FinalCode;
  flowAnswer: FinalCode;
  productAnswer: FinalCode;
  connectFailures: [string, number][];
  /** Events hasEvent finds (they stay). */
  waiting: QuecEvent[];
  /** The boot report start-up reads (mutable), and what resumeReceive hands back. */
  report: BootReport;
  resumable: ImageReceiver | undefined;
  /** Timers set on the clock, by id: [ms, callback]; cleared ones are deleted. */
  timers: Map<number, [number, () => void]>;
  /** What QIOTUPDATE=1 answers. */
  confirmAnswer: FinalCode;
  /** What QIOTUPDATE=3 answers, and the event waited for after it. */
  finishAnswer: FinalCode;
  afterFinish: QuecEvent | undefined;
  quiet: boolean;
  eventsWaiting: boolean;
  stopped: boolean;
  /** Read replies wait here until `deliver()` when set. */
  hold: boolean;
  held: (() => void)[];
  eraseMs: number;
  receivers: FakeReceiver[];
  /** Rebind answers with this receiver, throws when undefined. */
  rebind: ((r: ImageReceiver, d: ImageDescriptor) => ImageReceiver) | undefined;
}

export function record(changes: Partial<OtaRecord> = {}): OtaRecord {
  return {
    component: "app",
    sourceVersion: "",
    targetVersion: "2.0.0",
    stage: "downloading",
    size: 10000,
    md5: MD5,
    sha256: SHA,
    crc: 7,
    ...NO_WINDOW,
    securityCounter: 0,
    ...changes,
  };
}

export function descriptor(changes: Partial<ImageDescriptor> = {}): ImageDescriptor {
  return { component: "app", version: "2.0.0", size: 10000, md5: MD5, sha256: SHA, crc: 7, ...changes };
}

export function downloadFake(
  options: {
    config?: Partial<SotaEngineConfig>;
    size?: number;
    blockLength?: number;
    noRebind?: boolean;
  } = {},
): DownloadFake {
  const kv = new MemoryKeyValueStore();
  const clock = { t: 1000 };
  const ops: string[] = [];
  const states: string[] = [];
  const logs: string[] = [];
  const size = options.size ?? 10000;
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 7 + 3) & 0xff;
  const f: DownloadFake = {
    ctx: undefined as unknown as EngineContext,
    kv,
    clock,
    ops,
    states,
    logs,
    replies: [],
    events: [],
    data,
    maxRead: 1024,
    nextPieceAnswer: "OK",
    confirmAnswer: "OK",
    prepareAnswer: "OK",
    flowAnswer: "OK",
    productAnswer: "OK",
    connectFailures: [],
    waiting: [],
    report: {
      running: {
        slot: 0,
        state: "confirmed",
        component: "app",
        version: "1.0.0",
        size: 3000,
        md5: "",
        sha256: "",
      },
      trial: false,
      rollbackReason: "",
      slots: [],
    } as unknown as BootReport,
    resumable: undefined,
    timers: new Map(),
    finishAnswer: "OK",
    afterFinish: { kind: "updating" },
    quiet: true,
    eventsWaiting: false,
    stopped: false,
    hold: false,
    held: [],
    eraseMs: 50,
    receivers: [],
    rebind: undefined,
  };
  let timerIds = 0;
  const system = {
    restart: (): void => {},
    batteryPercent: (): number => 100,
    deviceId: (): string => "dev",
    log: (message: string): void => void logs.push(message.replace(/^sota: /, "")),
  };
  const client = {
    get quiet(): boolean {
      return f.quiet;
    },
    get eventsWaiting(): boolean {
      return f.eventsWaiting;
    },
    get stopped(): boolean {
      return f.stopped;
    },
    lineTimeMs: (chars: number): number => (chars * 10000) / 115200,
    poll: (): void => void ops.push("poll"),
    check: (): void => {
      if (f.stopped) throw new Error("stopped");
    },
    readLimit: async (limit: number): Promise<number> => {
      ops.push(`limit ${limit}`);
      return Math.min(f.maxRead, limit);
    },
    readBlockThen: (
      offset: number,
      length: number,
      into: Uint8Array,
      done: (r: OtaReadResult) => void,
    ): void => {
      if (f.stopped) throw new Error("stopped");
      ops.push(`read ${offset}+${length}`);
      const scripted = f.replies.shift() ?? {};
      const n = Math.min(scripted.length ?? length, f.data.length - offset);
      if (scripted.copy !== false) into.set(f.data.subarray(offset, offset + Math.max(0, n)));
      const reply: OtaReadResult = {
        final: "OK",
        start: offset,
        length: n,
        headerMismatch: false,
        framingError: false,
        ...scripted,
      };
      const send = (): void => done(reply);
      if (f.hold) f.held.push(send);
      else void Promise.resolve().then(send);
    },
    takeEvent: (accept: (e: QuecEvent) => boolean): QuecEvent | undefined => {
      const i = f.events.findIndex(accept);
      return i < 0 ? undefined : f.events.splice(i, 1)[0];
    },
    sleep: async (ms: number): Promise<void> => {
      ops.push(`sleep ${ms}`);
      clock.t += ms;
      if (f.stopped) throw new Error("stopped in sleep");
    },
    nextPiece: async (): Promise<FinalCode> => {
      ops.push("QIOTUPDATE=2");
      return f.nextPieceAnswer;
    },
    acknowledgeRestart: (): void => void ops.push("acknowledge"),
    prepare: async (nbIot: boolean): Promise<FinalCode> => {
      ops.push(`prepare ${nbIot}`);
      return f.prepareAnswer;
    },
    setFlowControl: async (on: boolean): Promise<FinalCode> => {
      ops.push(`flow ${on}`);
      return f.flowAnswer;
    },
    configureProduct: async (key: string, secret: string): Promise<FinalCode> => {
      ops.push(`product ${key} ${secret}`);
      return f.productAnswer;
    },
    connect: async (
      ms: number,
      listener: { failed: (failure: string, backoffMs: number) => void; retrying: (attempt: number) => void },
    ): Promise<void> => {
      ops.push(`connect ${ms}`);
      f.connectFailures.forEach(([failure, backoffMs], i) => {
        listener.failed(failure, backoffMs);
        listener.retrying(i + 2);
      });
    },
    hasEvent: (accept: (e: QuecEvent) => boolean): boolean => f.waiting.some(accept),
    signalDbm: async (): Promise<number> => {
      ops.push("signal");
      return -70;
    },
    refuse: async (): Promise<void> => void ops.push("refuse"),
    confirm: async (): Promise<FinalCode> => {
      ops.push("confirm");
      return f.confirmAnswer;
    },
    finish: async (): Promise<FinalCode> => {
      ops.push("QIOTUPDATE=3");
      return f.finishAnswer;
    },
    waitFor: async (accept: (e: QuecEvent) => boolean, ms: number): Promise<QuecEvent | undefined> => {
      ops.push(`wait ${ms}`);
      return f.afterFinish && accept(f.afterFinish) ? f.afterFinish : undefined;
    },
    reportVersion: async (component: string, version: string): Promise<boolean> => {
      ops.push(`report ${component} ${version}`);
      return true;
    },
  } as unknown as ModuleClient;
  const boot = {
    get report(): BootReport {
      return f.report;
    },
    confirm: (): void => void ops.push("confirm image"),
    reject: (reason: string): void => void ops.push(`reject ${reason}`),
    resumeReceive: (previous?: ImageReceiver): ImageReceiver | undefined => {
      ops.push(`resume ${previous ? previous.descriptor.version : "-"}`);
      return f.resumable;
    },
    eraseBlockLength: options.blockLength,
    startReceive: (d: ImageDescriptor): ImageReceiver => {
      ops.push(`start ${d.version} ${d.size} ${d.md5.slice(0, 4)}`);
      const r = new FakeReceiver(d, ops, clock, f.eraseMs, options.blockLength ?? 4096);
      f.receivers.push(r);
      return r;
    },
    abandonReceive: (reason: string): void => void ops.push(`abandon ${reason}`),
    activate: (): void => void ops.push("activate"),
    rebindReceive: options.noRebind
      ? undefined
      : (r: ImageReceiver, d: ImageDescriptor): ImageReceiver => {
          ops.push(`rebind ${d.md5.slice(0, 4)}`);
          if (!f.rebind) throw new Error("not current");
          return f.rebind(r, d);
        },
  } as unknown as BootControl;
  const progress = new ProgressReporter("app", { now: () => clock.t } as never, system, () => "1.0.0");
  progress.onProgress = (p): void => void states.push(`${p.state}: ${p.reason}`);
  f.ctx = {
    client,
    boot,
    records: new OtaRecordStore(kv),
    config: resolveConfig({ component: "app", slotSize: 65536, ...options.config }),
    clock: {
      now: () => clock.t,
      setTimer: (callback: () => void, ms: number): number => {
        const id = ++timerIds;
        f.timers.set(id, [ms, callback]);
        ops.push(`timer ${ms}`);
        return id;
      },
      clearTimer: (id: number | undefined): void => {
        if (id !== undefined && f.timers.delete(id)) ops.push("clear timer");
      },
    } as never,
    system,
    progress,
    packages: undefined,
    digests: undefined,
    session: newSession(),
    restart: (): void => void ops.push("restart"),
  };
  return f;
}

/** Hands over the held read replies one by one until none is left. */
export async function deliverAll(f: DownloadFake): Promise<void> {
  for (let turn = 0; turn < 1000; turn++) {
    await Promise.resolve();
    const next = f.held.shift();
    if (!next) return;
    next();
  }
}
