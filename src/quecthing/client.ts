// The module client: the one place that talks to the QuecThing module. It owns the AT transport, the queue
// of events the module printed, waiting with deadlines, and cancellation; the engine sees typed operations.

import type { Clock, TimerHandle } from "../../hal/clock.js";
import type { SerialPort } from "../../hal/serial.js";
import { AtTransport } from "../at/transport.js";
import type { AtResponse, FinalCode, OtaReadResult } from "../at/transport.js";
import {
  AT,
  UpdateAction,
  parseOtaReadMax,
  parseQiotState,
  parseRegisterMode,
  parseSignal,
} from "./commands.js";
import { decodeEvent, describeEvent } from "./events.js";
import type { QuecEvent } from "./events.js";

export type { AtResponse, FinalCode, OtaReadResult };

/** The client was stopped (the engine is stopping): every operation ends with this. */
export class ClientStopped extends Error {}
/** The module rebooted (RDY): nothing queued before is true any more; start-up must run again. */
export class ModuleRestarted extends Error {}

export interface ModuleClientOptions {
  baud: number;
  /**
   * Silence required before the first command (default 300 ms, the module's documented reply time): after an MCU
   * reset the module may still be answering the previous engine's last command. None when the previous client on
   * the same port stopped settled (docs/protocol.md §13, decision 63).
   */
  startQuietMs?: number;
  /**
   * Milliseconds since the MCU's reset (a lower bound), where the platform tells it: the quiet time then counts from
   * the reset, as the previous engine's last command went out before it (decision 83).
   */
  sinceResetMs?: number;
}

/** The module's documented longest reply time (docs/protocol.md §2). */
const START_QUIET_MS = 300;
/** Silence still required when the reset is older than the quiet time: a reply begun before may still stream. */
const MIN_START_SILENCE_MS = 50;

/** Ports whose last client stopped with no command in flight and no late reply pending (RAM: an MCU reset forgets). */
const settledPorts = new WeakSet<SerialPort>();

/** What `connect` tells while it tries: a failed attempt before its back-off, and each new attempt. */
export interface ConnectListener {
  failed(failure: string, backoffMs: number): void;
  retrying(attempt: number): void;
}

const MAX_QUEUED_EVENTS = 32;

export class ModuleClient {
  readonly #transport: AtTransport;
  readonly #clock: Clock;
  readonly #serial: SerialPort;
  readonly #baud: number;
  /** Where the client's notes go (events it does not queue, replies it retries). */
  onLog: ((message: string) => void) | undefined;
  readonly #events: QuecEvent[] = [];
  readonly #sleepers = new Set<() => void>();
  #wake: (() => void) | undefined;
  #stopped = false;
  #restarted = false;
  #interrupt = false;

  constructor(serial: SerialPort, clock: Clock, options: ModuleClientOptions) {
    this.#clock = clock;
    this.#serial = serial;
    this.#baud = options.baud;
    const settled = settledPorts.delete(serial);
    const quiet = options.startQuietMs ?? START_QUIET_MS;
    const sinceReset = options.sinceResetMs;
    const left =
      sinceReset === undefined || quiet === 0 ? quiet : Math.max(MIN_START_SILENCE_MS, quiet - sinceReset);
    this.#transport = new AtTransport(serial, clock, {
      baud: options.baud,
      startQuietMs: settled ? 0 : left,
    });
    this.#transport.onUnsolicited((line) => this.#onLine(line));
  }

  /** No command in flight or queued, no payload streaming in: flash work cannot cost bytes now. */
  get quiet(): boolean {
    return this.#transport.quiet;
  }

  /** Time on the line of `chars` characters (8N1) at this client's baud rate, in ms. */
  lineTimeMs(chars: number): number {
    return (chars * 10000) / this.#baud;
  }

  /** When bytes last came from the module. */
  get lastReceiveAt(): number {
    return this.#transport.lastReceiveAt;
  }

  /** Events queued and not yet taken. */
  get eventsWaiting(): boolean {
    return this.#events.length > 0;
  }

  /** Reads what waits in the port now (after flash work that kept the CPU from its reading). */
  poll(): void {
    this.#transport.poll();
  }

  /** Ends every wait and command; later operations throw ClientStopped. The serial port stays open. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    // Nothing can still answer us: the next client on this port may send at once.
    if (this.#transport.settled) settledPorts.add(this.#serial);
    for (const wake of this.#sleepers) wake();
    this.#transport.close();
    this.#wake?.();
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** Throws if the client was stopped or the module rebooted since the last `acknowledgeRestart`. */
  check(): void {
    if (this.#stopped) throw new ClientStopped();
    if (this.#restarted) throw new ModuleRestarted();
  }

  /** Start-up runs again after a module reboot: from here on, operations work again. */
  acknowledgeRestart(): void {
    this.#restarted = false;
  }

  /** Wakes a `nextEvent` wait early (the app asked for a plan now). */
  interrupt(): void {
    this.#interrupt = true;
    this.#wake?.();
  }

  // ---- commands --------------------------------------------------------------------------------

  /** Sends one command; throws if stopped or the module rebooted meanwhile. */
  async command(text: string): Promise<AtResponse> {
    const reply = await this.#transport.send(text);
    this.check();
    return reply;
  }

  /** Sends `text` until OK, `attempts` times with a growing pause; throws with the last answer. */
  async expectOk(text: string, what: string, attempts: number): Promise<AtResponse> {
    let reply: AtResponse | undefined;
    for (let i = 0; i < attempts; i++) {
      reply = await this.command(text);
      if (reply.final === "OK") return reply;
      await this.sleep(500 * (i + 1));
    }
    throw new Error(`${what}: the module answered ${reply?.final ?? "nothing"}`);
  }

  /** ATE0 and buffer mode; false if buffer mode was refused (raw downlink URCs are read by length anyway). */
  async prepare(nbIot: boolean): Promise<FinalCode> {
    await this.expectOk(AT.echoOff(), "ATE0", 5);
    const buffer = await this.command(AT.bufferMode(true));
    // NB-IoT: hold UART sleep off so the first bytes after idle are not lost (docs/protocol.md §9.14).
    if (nbIot) await this.command(AT.sleepOff());
    return buffer.final;
  }

  /** AT+IFC: RTS/CTS on the module's UART (the MCU's port must use them too); the answer's final code. */
  async setFlowControl(hardware: boolean): Promise<FinalCode> {
    return (await this.command(AT.flowControl(hardware))).final;
  }

  /** Sets the product key and secret unless the module holds them already; the answer's final code. */
  async configureProduct(productKey: string, productSecret: string): Promise<FinalCode> {
    const current = await this.command(AT.productInfoQuery());
    if (current.lines.some((line) => line.includes(`"${productKey}"`) || line.includes(`,${productKey},`)))
      return "OK";
    // Saved in the module: normally this happens once per module, on the first start-up.
    return (await this.command(AT.productInfo(productKey, productSecret))).final;
  }

  /** Until the module is subscribed (state 8): QIOTREG=1 unless it connects by itself, with back-off. */
  async connect(timeoutMs: number, listener: ConnectListener): Promise<void> {
    for (let attempt = 0; ;) {
      if (attempt > 0) listener.retrying(attempt);
      const state = await this.command(AT.stateQuery());
      if (parseQiotState(state.lines) === 8) return;
      // Mode 2 (connect at every power-on) is saved in the module: QIOTREG=1 would overwrite it.
      const mode = await this.command(AT.registerQuery());
      const automatic = attempt === 0 && parseRegisterMode(mode.lines) === 2;
      const reply = automatic ? mode : await this.command(AT.register(1));
      let failure = reply.final === "OK" ? "" : `AT+QIOTREG=1 answered ${reply.final}`;
      if (!failure) {
        const event = await this.waitFor(isConnectOutcome, timeoutMs);
        if (event?.kind === "qiot" && event.ok) return;
        if (event?.kind === "qiot") {
          const what = event.type === 1 ? "authentication" : event.type === 2 ? "access" : "subscription";
          failure = `${what} failed: ${event.code}${event.meaning ? " " + event.meaning : ""}`;
        } else {
          const check = await this.command(AT.stateQuery());
          if (parseQiotState(check.lines) === 8) return;
          failure = "no 3,10200 from the module";
        }
      }
      attempt++;
      const backoff = Math.min(300_000, 5000 * 2 ** Math.min(attempt - 1, 6));
      listener.failed(failure, backoff);
      await this.sleep(backoff);
    }
  }

  /** AT+QIOTMCUVER, retried: in UPDATING only this report ends the OTA (docs/protocol.md §2, §9.9). */
  async reportVersion(component: string, version: string): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      const reply = await this.command(AT.mcuVersion(component, version));
      if (reply.final === "OK") return true;
      this.onLog?.(`version report answered ${reply.final} (attempt ${attempt})`);
      if (attempt === 3) return false;
      await this.sleep(1000 * attempt);
    }
  }

  /** AT+QIOTOTAREQ=1 (with SHA-256): true if the module took the request. */
  async requestPlan(): Promise<boolean> {
    return (await this.command(AT.otaRequest(true))).final === "OK";
  }

  /** The signal in dBm from AT+CSQ, or undefined when the module does not know it. */
  async signalDbm(): Promise<number | undefined> {
    return parseSignal((await this.command(AT.signalQuery())).lines)?.dbm;
  }

  /** AT+QIOTUPDATE=0: refuse the offered task. */
  async refuse(): Promise<FinalCode> {
    return (await this.command(AT.update(UpdateAction.Refuse))).final;
  }

  /** AT+QIOTUPDATE=1, once more after a second on ERROR: 10700 is printed before the module records the plan (docs/protocol.md §9a). */
  async confirm(): Promise<FinalCode> {
    let final = (await this.command(AT.update(UpdateAction.Confirm))).final;
    if (final === "ERROR" || final === "CME ERROR") {
      await this.sleep(1000);
      final = (await this.command(AT.update(UpdateAction.Confirm))).final;
    }
    return final;
  }

  /**
   * AT+QIOTUPDATE=2. On a timeout it is sent again only if nothing shows the module took it (10702 comes at
   * once): a second one after the next piece arrived would skip that piece.
   */
  async nextPiece(): Promise<FinalCode> {
    let final = (await this.command(AT.update(UpdateAction.NextPiece))).final;
    if (final === "TIMEOUT") {
      await this.sleep(2000);
      if (!this.#events.some(isDownloadNews))
        final = (await this.command(AT.update(UpdateAction.NextPiece))).final;
    }
    return final;
  }

  /** AT+QIOTUPDATE=3, repeated once after a timeout (a repeat in UPDATING answers OK and changes nothing, docs/protocol.md §9a). */
  async finish(): Promise<FinalCode> {
    const final = (await this.command(AT.update(UpdateAction.Updating))).final;
    return final === "TIMEOUT" ? (await this.command(AT.update(UpdateAction.Updating))).final : final;
  }

  /** The module's largest AT+QIOTOTARD length (from AT+QIOTOTARD=?), at most `limit`; 1024 if unknown. */
  async readLimit(limit: number): Promise<number> {
    const reply = await this.command(AT.otaReadTest());
    const max = reply.final === "OK" ? parseOtaReadMax(reply.lines) : undefined;
    return Math.max(1, Math.min(max ?? 1024, limit));
  }

  /**
   * AT+QIOTOTARD=<offset>,<length> without a Promise: `done` gets the (reused) result once the port is drained. The
   * download loop's read: nothing is allocated per call. The caller checks `check()` in `done`.
   */
  readBlockThen(
    offset: number,
    length: number,
    into: Uint8Array,
    done: (result: OtaReadResult) => void,
  ): void {
    this.#transport.readOtaThen(offset, length, into, done);
  }

  /** AT+QIOTOTARD=<offset>,<length>: the payload lands in into[0..n). */
  async readBlock(offset: number, length: number, into: Uint8Array): Promise<OtaReadResult> {
    const reply = await this.#transport.readOta(AT.otaRead(offset, length), offset, length, into);
    this.check();
    return reply;
  }

  // ---- events and time -------------------------------------------------------------------------

  /** True if an event matching `accept` is queued (it stays queued). */
  hasEvent(accept: (event: QuecEvent) => boolean): boolean {
    return this.#events.some(accept);
  }

  /** Removes and returns the first queued event matching `accept`, without waiting. */
  takeEvent(accept: (event: QuecEvent) => boolean): QuecEvent | undefined {
    const index = this.#events.findIndex(accept);
    return index < 0 ? undefined : this.#events.splice(index, 1)[0];
  }

  /** The first queued event matching `accept` (others stay queued), or undefined after `timeoutMs`. */
  async waitFor(accept: (event: QuecEvent) => boolean, timeoutMs: number): Promise<QuecEvent | undefined> {
    return this.#wait(accept, timeoutMs, false);
  }

  /** The next event of any kind, or undefined after `timeoutMs` or when `interrupt()` is called. */
  async nextEvent(timeoutMs: number): Promise<QuecEvent | undefined> {
    return this.#wait(anyEvent, timeoutMs, true);
  }

  /** Resolves after `ms`; throws if the client stops or the module reboots meanwhile. */
  async sleep(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const wake = () => {
        this.#sleepers.delete(wake);
        this.#clock.clearTimer(timer);
        resolve();
      };
      const timer = this.#clock.setTimer(wake, ms);
      this.#sleepers.add(wake);
    });
    this.check();
  }

  async #wait(
    accept: (event: QuecEvent) => boolean,
    timeoutMs: number,
    interruptible: boolean,
  ): Promise<QuecEvent | undefined> {
    const deadline = this.#clock.now() + timeoutMs;
    for (;;) {
      this.check();
      const found = this.takeEvent(accept);
      if (found) return found;
      const left = deadline - this.#clock.now();
      if (interruptible && this.#interrupt) {
        this.#interrupt = false;
        return undefined;
      }
      if (left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const timer: TimerHandle = this.#clock.setTimer(() => {
          this.#wake = undefined;
          resolve();
        }, left);
        this.#wake = () => {
          this.#wake = undefined;
          this.#clock.clearTimer(timer);
          resolve();
        };
      });
    }
  }

  #onLine(line: string): void {
    const event = decodeEvent(line);
    if (event.kind === "ready") {
      // Nothing queued before a module reboot is still true after it (its plan and piece are gone).
      this.#events.length = 0;
      // Before our first command the module only finished booting: start-up has lost nothing to run again for.
      if (this.#transport.hasSent) this.#restarted = true;
    } else if (isEngineEvent(event)) {
      if (this.#events.length >= MAX_QUEUED_EVENTS) this.#events.shift();
      this.#events.push(event);
    } else {
      this.onLog?.(`event: ${describeEvent(event)}`);
    }
    this.#wake?.();
  }
}

// Module-level predicates: some run between every two reads, so no closure is made per block.
function anyEvent(): boolean {
  return true;
}

function isDownloadNews(event: QuecEvent): boolean {
  return event.kind === "downloading" || event.kind === "piece";
}

function isConnectOutcome(event: QuecEvent): boolean {
  return (
    event.kind === "qiot" &&
    (event.type === 1 || event.type === 2 || event.type === 3) &&
    (!event.ok || event.type === 3)
  );
}

/** OTA events, connection events (types 1, 2, 3, 6) and unreadable offers: uplink/downlink news stays out of the queue. */
function isEngineEvent(event: QuecEvent): boolean {
  if (event.kind === "qiot")
    return event.type === 1 || event.type === 2 || event.type === 3 || event.type === 6;
  if (event.kind === "unknown") return isUnreadableOffer(event.line);
  return event.kind !== "qind";
}

/** A 10700 line the decoder could not read: it must still be answered, or the module waits in REVICEPLAN. */
export function isUnreadableOffer(line: string): boolean {
  return /^\+QIOTEVT:\s*7,10700\b/.test(line);
}
