// The virtual QuecThing module + Developer Center: plays the module side of the AT link per the protocol reference.
// Portable (ports only), so it runs on the sim link in virtual time, on a pty, a real UART, or inside XS.

import type { SerialPort } from "../../hal/serial.js";
import type { Clock, TimerHandle } from "../../hal/clock.js";
import type { DigestFactory } from "../../hal/digest.js";
import { applyByteFaults, describeFault, type Fault } from "./faults.js";
import { MonitorLog, type MonitorEvent } from "./monitor.js";
import { matchComponent, type Plan, type PlanComponent } from "./plan.js";
import { resolveSettings, type ModuleSettings } from "./settings.js";
import { packageDigests, type PackageDigests } from "./checksums.js";

/** Module OTA states of the SDK (S1); saved to module flash on every change. */
export const OtaState = {
  NOPLAN: 0,
  REVICEPLAN: 1,
  SUBMITOTA: 2,
  REFUSED: 3,
  DOWNLOADSTART: 4,
  DOWNLOADING: 5,
  DOWNLOADERROR: 6,
  DOWNLOADSUCCESS: 8,
  UPDATING: 9,
  UPDATESUCCESS: 11,
  UPDATEERROR: 12,
} as const;
export type OtaStateNumber = (typeof OtaState)[keyof typeof OtaState];

/** States in which an OTA is active: new plan notifications are ignored ("no restart", §9.12). S1 accepts them in
 * NOPLAN and REVICEPLAN only, so an offered but unanswered plan is offered again. */
const ACTIVE: ReadonlySet<number> = new Set([
  OtaState.SUBMITOTA,
  OtaState.DOWNLOADSTART,
  OtaState.DOWNLOADING,
  OtaState.DOWNLOADSUCCESS,
  OtaState.UPDATING,
]);
const COMPARING: ReadonlySet<number> = new Set([
  OtaState.SUBMITOTA,
  OtaState.DOWNLOADSTART,
  OtaState.DOWNLOADING,
  OtaState.DOWNLOADSUCCESS,
  OtaState.UPDATING,
]);
const DOWNLOAD_STATES: ReadonlySet<number> = new Set([
  OtaState.SUBMITOTA,
  OtaState.DOWNLOADSTART,
  OtaState.DOWNLOADING,
  OtaState.DOWNLOADSUCCESS,
]);

/** QIOTSTATE values used here. */
export const LinkState = {
  UNINIT: 0,
  AUTHENTICATING: 2,
  REGISTERING: 5,
  REGISTERED: 6,
  SUBSCRIBED: 8,
  DEREGISTERED: 11,
} as const;

export const MCU_LIST_CAPACITY = 512;

/** What the module keeps in its flash: survives reboot() (persisted per §6/§9a). */
export interface ModuleFlash {
  productKey: string;
  productSecret: string;
  regMode: 0 | 1 | 2;
  /** `id:ver` entries in list order (stored as one `;`-joined 512-byte string). */
  mcuList: Array<[string, string]>;
  otaComponent: string;
  otaTarget: string;
  otaType: "mcu" | "";
  otaState: number;
  shaOption: number;
  /** The first connection (1,10200) happened. */
  authenticated: boolean;
}

export type TraceKind = "rx" | "tx" | "urc" | "read" | "note" | "fault";
export interface TraceEntry {
  time: number;
  kind: TraceKind;
  text: string;
}

export type PackageSource = Map<string, Uint8Array> | ((name: string) => Uint8Array);

export interface VirtualModuleOptions {
  /** The module's end of the UART link. */
  serial: SerialPort;
  clock: Clock;
  digests: DigestFactory;
  plan: Plan;
  /** Package bytes by the plan's `package` name. */
  packages: PackageSource;
  /** Overrides of the plan's settings (e.g. from the CLI). */
  settings?: Partial<ModuleSettings>;
  /** Faults in addition to the plan's. */
  faults?: Fault[];
  monitor?: MonitorLog;
  /** Live exchange log (the CLI prints it). */
  onTrace?: (entry: TraceEntry) => void;
  /** Module flash contents to start from (e.g. a previous run's). */
  flash?: ModuleFlash;
}

interface Task {
  components: PlanComponent[];
  index: number;
}

interface Download {
  component: PlanComponent;
  data: Uint8Array;
  digests: PackageDigests;
  pieceSize: number;
  pieceIndex: number;
  pieceStart: number;
  pieceLen: number;
  /** The piece held in module flash; after UPDATE=2 it is the old piece until the new one lands (§9a race). */
  stored: Uint8Array | undefined;
  stale: boolean;
}

const encoder = (text: string): Uint8Array => {
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
};

/** UTF-8 to text; a malformed sequence keeps its bytes as Latin-1 characters (line noise must not throw). */
function decodeLine(bytes: Uint8Array, length: number): string {
  let text = "";
  for (let i = 0; i < length; i++) {
    const b = bytes[i]!;
    const extra = b >= 0xf0 && b < 0xf8 ? 3 : b >= 0xe0 ? 2 : b >= 0xc0 ? 1 : 0;
    let code = extra === 3 ? b & 7 : extra === 2 ? b & 15 : b & 31;
    let valid = extra > 0 && i + extra < length;
    for (let k = 1; valid && k <= extra; k++) {
      const c = bytes[i + k]!;
      if ((c & 0xc0) !== 0x80) valid = false;
      else code = (code << 6) | (c & 63);
    }
    if (b < 0x80 || !valid) {
      text += String.fromCharCode(b);
      continue;
    }
    text += String.fromCodePoint(code);
    i += extra;
  }
  return text;
}

function byteLength(text: string): number {
  return encoder(text).length;
}

interface Arg {
  quoted: boolean;
  value: string;
}

/** Splits `"a","b",3` into arguments; quotes carry no escapes in the QIOT syntax. Returns undefined on bad syntax. */
function parseArgs(text: string): Arg[] | undefined {
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

function integerArg(arg: Arg | undefined): number | undefined {
  if (!arg || arg.quoted || !/^-?\d{1,10}$/.test(arg.value)) return undefined;
  return Number(arg.value);
}

const CMD_NAME = /^AT(\+?[A-Z&]*\d*|[A-Z&]\d*)/i;

export class VirtualModule {
  readonly monitor: MonitorLog;
  readonly settings: ModuleSettings;
  private readonly serial: SerialPort;
  private readonly clock: Clock;
  private readonly digests: DigestFactory;
  private readonly plan: Plan;
  private readonly packages: PackageSource;
  private readonly faults: Fault[];
  private readonly faultUses = new Map<Fault, number>();
  private readonly commandCounts = new Map<Fault, number>();
  private readonly onTrace: ((entry: TraceEntry) => void) | undefined;
  private readonly digestCache = new Map<string, PackageDigests>();
  private readonly flash: ModuleFlash;

  // RAM state: lost at reboot.
  private powered = false;
  private booted = false;
  private echo = true;
  private readonly lineBuffer = new Uint8Array(2048);
  private lineLength = 0;
  private lineOverflow = false;
  private readonly scratch = new Uint8Array(512);
  private readonly queue: string[] = [];
  private busy = false;
  private linkState: number = LinkState.UNINIT;
  private connecting = false;
  private linkGeneration = 0;
  private bufferMode = 0;
  private lifetime = 120;
  private firstStart = true;
  private failures = 0;
  private task: Task | undefined;
  private download: Download | undefined;
  private recording = false;
  private readonly timers = new Set<TimerHandle>();
  private readonly faultTimers = new Set<TimerHandle>();
  private confirmTimer: TimerHandle | undefined;
  private readTimer: TimerHandle | undefined;
  private updateTimer: TimerHandle | undefined;
  private pieceTimer: TimerHandle | undefined;
  private pushTimer: TimerHandle | undefined;
  private streamPosition = 0;
  private reads = 0;
  private readBytesTotal = 0;
  private powerOnTime = 0;

  constructor(options: VirtualModuleOptions) {
    this.serial = options.serial;
    this.clock = options.clock;
    this.digests = options.digests;
    this.plan = options.plan;
    this.packages = options.packages;
    this.settings = resolveSettings(options.plan.settings, options.settings);
    this.faults = [...options.plan.faults, ...(options.faults ?? [])];
    for (const fault of this.faults) this.faultUses.set(fault, fault.times ?? 1);
    this.monitor = options.monitor ?? new MonitorLog();
    this.onTrace = options.onTrace;
    const productKey = this.settings.productKey || "";
    this.flash = options.flash ?? {
      productKey,
      productSecret: productKey ? this.settings.productSecret || this.plan.productSecret : "",
      regMode: this.settings.regMode,
      mcuList: [],
      otaComponent: "",
      otaTarget: "",
      otaType: "",
      otaState: OtaState.NOPLAN,
      shaOption: 0,
      authenticated: false,
    };
  }

  // ---------------------------------------------------------------- read-only views

  get otaState(): number {
    return this.flash.otaState;
  }
  /** QIOTSTATE value. */
  get state(): number {
    return this.linkState;
  }
  get online(): boolean {
    return this.linkState === LinkState.SUBSCRIBED;
  }
  get echoOn(): boolean {
    return this.echo;
  }
  get firstStartFlag(): boolean {
    return this.firstStart;
  }
  get downloadFailures(): number {
    return this.failures;
  }
  get storedTarget(): string {
    return this.flash.otaTarget;
  }
  get storedComponent(): string {
    return this.flash.otaComponent;
  }
  get shaOption(): number {
    return this.flash.shaOption;
  }
  get regMode(): number {
    return this.flash.regMode;
  }
  get readCount(): number {
    return this.reads;
  }
  /** The stored `id:ver;...` list exactly as the module keeps it. */
  get mcuVersionList(): string {
    return this.flash.mcuList.map(([id, ver]) => `${id}:${ver}`).join(";");
  }
  get pieceWindow(): { start: number; length: number; fileSize: number } | undefined {
    const d = this.download;
    return d ? { start: d.pieceStart, length: d.pieceLen, fileSize: d.data.length } : undefined;
  }
  /** A copy of the module flash (persisted fields), e.g. to save between CLI runs. */
  get flashContents(): ModuleFlash {
    return { ...this.flash, mcuList: this.flash.mcuList.map(([a, b]) => [a, b] as [string, string]) };
  }

  // ---------------------------------------------------------------- power

  /** Power-on: RDY after bootDelayMs, then the module accepts commands. */
  powerOn(): void {
    if (this.powered) return;
    this.powered = true;
    this.powerOnTime = this.clock.now();
    this.serial.onReadable = (count) => this.onReadable(count);
    for (const fault of this.faults) {
      if (fault.afterMs === undefined) continue;
      const handle = this.clock.setTimer(() => {
        this.faultTimers.delete(handle);
        this.timedFault(fault);
      }, fault.afterMs);
      this.faultTimers.add(handle);
    }
    this.boot();
  }

  /** Module reboot (§6, §9a): RAM state lost, RDY again, echo back on, UPDATING restored with 10704. */
  reboot(reason = "reboot"): void {
    if (!this.powered) return;
    this.trace("note", `module reboot (${reason})`);
    this.clearTimers();
    const state = this.flash.otaState;
    if (state === OtaState.REVICEPLAN || DOWNLOAD_STATES.has(state))
      for (const c of this.task?.components ?? (this.download ? [this.download.component] : []))
        this.log(c, "download-failed", `module reboot in state ${state}`);
    this.boot();
  }

  /** Power off: every timer stops and the port closes. */
  powerOff(): void {
    if (!this.powered) return;
    this.clearTimers();
    for (const handle of this.faultTimers) this.clock.clearTimer(handle);
    this.faultTimers.clear();
    this.powered = false;
    this.booted = false;
    this.serial.onReadable = undefined;
    this.serial.close();
  }

  private boot(): void {
    this.booted = false;
    this.echo = this.settings.echo;
    this.lineLength = 0;
    this.lineOverflow = false;
    this.queue.length = 0;
    this.busy = false;
    this.linkState = LinkState.UNINIT;
    this.connecting = false;
    this.bufferMode = 0;
    this.lifetime = 120;
    this.firstStart = true;
    this.failures = 0;
    this.task = undefined;
    this.download = undefined;
    this.recording = false;
    // S1 Ql_iotCmdOtaStatusRecovery at every boot (power-on with saved flash too): the plan and piece are RAM/cache
    // only, so a download state posts DOWNLOADERROR (counted: 1 of the 6) and the module is idle again, silently.
    const state = this.flash.otaState;
    if (DOWNLOAD_STATES.has(state)) this.failures = 1;
    if (state === OtaState.REVICEPLAN || DOWNLOAD_STATES.has(state)) this.setOtaState(OtaState.NOPLAN);
    // QIOTREG=1 is saved but reverts at boot: only mode 2 reconnects by itself (§6).
    if (this.flash.regMode === 1) this.flash.regMode = 0;
    this.after(this.settings.bootDelayMs, () => {
      this.booted = true;
      this.send("\r\nRDY\r\n", "urc", "RDY");
      if (this.flash.otaState === OtaState.UPDATING) {
        this.urc("+QIOTEVT: 7,10704");
        this.startUpdateTimer();
      }
      if (this.flash.regMode === 2 && this.flash.productKey) this.connect();
    });
  }

  // ---------------------------------------------------------------- timers

  private after(ms: number, callback: () => void): TimerHandle {
    const handle = this.clock.setTimer(
      () => {
        this.timers.delete(handle);
        callback();
      },
      Math.max(0, ms),
    );
    this.timers.add(handle);
    return handle;
  }

  private cancel(handle: TimerHandle | undefined): undefined {
    if (handle !== undefined) {
      this.clock.clearTimer(handle);
      this.timers.delete(handle);
    }
    return undefined;
  }

  private clearTimers(): void {
    for (const handle of this.timers) this.clock.clearTimer(handle);
    this.timers.clear();
    this.confirmTimer = this.readTimer = this.updateTimer = this.pieceTimer = this.pushTimer = undefined;
  }

  // ---------------------------------------------------------------- output

  private trace(kind: TraceKind, text: string): void {
    this.onTrace?.({ time: this.clock.now(), kind, text });
  }

  /** Every byte to the device passes here, so stream faults see one continuous position count. */
  private writeBytes(bytes: Uint8Array): void {
    if (!this.powered) return;
    const streamFaults = this.faults.filter(
      (f) => (f.kind === "drop" || f.kind === "corrupt" || f.kind === "dup") && f.read === undefined,
    );
    const out = streamFaults.length ? applyByteFaults(bytes, this.streamPosition, streamFaults) : bytes;
    if (out !== bytes)
      this.trace(
        "fault",
        `stream fault in bytes ${this.streamPosition}..${this.streamPosition + bytes.length - 1}`,
      );
    this.streamPosition += bytes.length;
    if (out.length) this.serial.write(out);
  }

  private send(text: string, kind: TraceKind, summary: string): void {
    this.trace(kind, summary);
    this.writeBytes(encoder(text));
  }

  private urc(line: string): void {
    this.send(`\r\n${line}\r\n`, "urc", line);
  }

  private respond(lines: string[], final: "OK" | "ERROR" = "OK"): void {
    let text = "";
    for (const line of lines) text += `\r\n${line}\r\n`;
    text += `\r\n${final}\r\n`;
    this.send(text, "tx", [...lines, final].join(" | "));
  }

  private ok(lines: string[] = []): void {
    this.respond(lines, "OK");
  }

  private error(): void {
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
    if (!this.booted) return; // the UART is not listening before RDY
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
    if (this.echo) this.writeBytes(encoder(`${line}\r\n`));
    const start = line.search(/AT/i);
    if (start < 0) {
      this.trace("note", `ignored non-AT line ${JSON.stringify(line)}`);
      return;
    }
    this.queue.push(line.slice(start));
    this.pump();
  }

  private pump(): void {
    if (this.busy || this.queue.length === 0 || !this.booted) return;
    const command = this.queue.shift()!;
    this.trace("rx", command);
    if (this.settings.latencyMs > 0) {
      this.busy = true;
      this.after(this.settings.latencyMs, () => {
        this.busy = false;
        this.execute(command);
        this.pump();
      });
    } else {
      this.execute(command);
      this.pump();
    }
  }

  // ---------------------------------------------------------------- commands

  private injectedError(command: string): boolean {
    const name = command.slice(2).replace(/^\+/, "").toUpperCase();
    for (const fault of this.faults) {
      if (fault.kind !== "error" || !name.startsWith(fault.cmd!)) continue;
      const seen = (this.commandCounts.get(fault) ?? 0) + 1;
      this.commandCounts.set(fault, seen);
      const first = fault.nth ?? 1;
      if (seen >= first && seen < first + (fault.times ?? 1)) {
        this.trace("fault", `ERROR injected for ${command} (${describeFault(fault)})`);
        return true;
      }
    }
    return false;
  }

  private execute(command: string): void {
    if (!this.booted) return;
    if (this.injectedError(command)) return this.error();
    const match = CMD_NAME.exec(command);
    const name = (match ? match[1]! : "").toUpperCase();
    let rest = command.slice(2 + (match ? match[1]!.length : 0));
    let mode: "exec" | "set" | "read" | "test" = "exec";
    if (rest === "?") mode = "read";
    else if (rest === "=?") mode = "test";
    else if (rest.startsWith("=")) {
      mode = "set";
      rest = rest.slice(1);
    } else if (rest !== "") return this.error();
    const args = mode === "set" ? parseArgs(rest) : [];
    if (!args) return this.error();
    switch (name) {
      case "":
        return mode === "exec" ? this.ok() : this.error();
      case "E0":
      case "E":
      case "E1":
        if (mode !== "exec") return this.error();
        this.echo = name === "E1";
        return this.ok();
      case "I":
        return mode === "exec"
          ? this.ok(["Quectel", "Virtual QuecThing module", `Revision: ${this.settings.moduleVersion}`])
          : this.error();
      case "+CSQ":
        return mode === "exec"
          ? this.ok([`+CSQ: ${this.rssi()},99`])
          : mode === "test"
            ? this.ok(["+CSQ: (0-31,99),(0-7,99)"])
            : this.error();
      case "+QSCLK":
        return mode === "set" && (args[0]?.value === "0" || args[0]?.value === "1")
          ? this.ok()
          : this.error();
      case "+QIOTINFO":
        return mode === "read"
          ? this.ok([`+QIOTINFO: "version","${this.settings.sdkVersion}"`])
          : this.error();
      case "+QIOTCFG":
        return this.cfg(mode, args);
      case "+QIOTREG":
        return this.reg(mode, args);
      case "+QIOTSTATE":
        return mode === "read" ? this.ok([`+QIOTSTATE: ${this.linkState}`]) : this.error();
      case "+QIOTMCUVER":
        return this.mcuVer(mode, args);
      case "+QIOTOTAREQ":
        return this.otaReq(mode, args);
      case "+QIOTUPDATE":
        return this.update(mode, args);
      case "+QIOTOTARD":
        return this.otaRead(mode, args);
      default:
        return this.error();
    }
  }

  private rssi(): number {
    const dbm = this.settings.signalDbm;
    if (dbm === null) return 99;
    return Math.max(0, Math.min(31, Math.floor((dbm + 113) / 2)));
  }

  private cfg(mode: string, args: Arg[]): void {
    if (mode !== "set" || !args[0]?.quoted) return this.error();
    const key = args[0].value.toLowerCase();
    const query = args.length === 1;
    const busyLink = this.online || this.connecting;
    switch (key) {
      case "productinfo":
        if (query)
          return this.ok([
            `+QIOTCFG: "productinfo","${this.flash.productKey}","${this.flash.productSecret}","${this.settings.moduleVersion}"`,
          ]);
        if (args.length !== 3 || busyLink) return this.error();
        if (
          byteLength(args[1]!.value) > 32 ||
          byteLength(args[2]!.value) > 32 ||
          !args[1]!.value ||
          !args[2]!.value
        )
          return this.error();
        this.flash.productKey = args[1]!.value;
        this.flash.productSecret = args[2]!.value;
        this.flash.authenticated = false;
        return this.ok();
      case "buffer": {
        if (query) return this.ok([`+QIOTCFG: "buffer",${this.bufferMode}`]);
        const value = integerArg(args[1]);
        if (args.length !== 2 || (value !== 0 && value !== 1)) return this.error();
        this.bufferMode = value;
        return this.ok();
      }
      case "lifetime": {
        if (query) return this.ok([`+QIOTCFG: "lifetime",${this.lifetime}`]);
        const value = integerArg(args[1]);
        if (args.length !== 2 || value === undefined || value < 1 || value > 65535) return this.error();
        this.lifetime = value;
        return this.ok();
      }
      case "server":
        if (query) return this.ok(['+QIOTCFG: "server",1,"mqtt://iot-south.acceleronix.io:1883"']);
        return busyLink || args.length !== 3 ? this.error() : this.ok();
      default:
        return this.error();
    }
  }

  private reg(mode: string, args: Arg[]): void {
    if (mode === "read") return this.ok([`+QIOTREG: ${this.flash.regMode}`]);
    if (mode === "test") return this.ok(["+QIOTREG: (0-2)"]);
    const value = integerArg(args[0]);
    if (mode !== "set" || args.length !== 1 || (value !== 0 && value !== 1 && value !== 2))
      return this.error();
    if (value === 0) {
      this.flash.regMode = 0;
      this.ok();
      if (this.online || this.connecting) this.deregister();
      return;
    }
    if (!this.flash.productKey || !this.flash.productSecret) return this.error();
    this.flash.regMode = value;
    this.ok();
    if (!this.online && !this.connecting) this.connect();
  }

  private connect(): void {
    const generation = ++this.linkGeneration;
    this.connecting = true;
    this.linkState = LinkState.AUTHENTICATING;
    const step = this.settings.connectStepMs;
    const register = () => {
      this.linkState = LinkState.REGISTERING;
      this.after(step, () => {
        if (generation !== this.linkGeneration) return;
        this.urc("+QIOTEVT: 2,10200");
        this.linkState = LinkState.REGISTERED;
        this.after(step, () => {
          if (generation !== this.linkGeneration) return;
          this.urc("+QIOTEVT: 3,10200");
          this.linkState = LinkState.SUBSCRIBED;
          this.connecting = false;
          this.schedulePush();
        });
      });
    };
    if (this.flash.authenticated) register();
    else
      this.after(step, () => {
        if (generation !== this.linkGeneration) return;
        // 1,10200 only on the very first connection with these credentials (D4/D8 logs show 2 and 3 only).
        this.flash.authenticated = true;
        this.urc("+QIOTEVT: 1,10200");
        register();
      });
  }

  private deregister(): void {
    this.linkGeneration++; // pending connection steps see a new generation and stop
    this.connecting = false;
    this.pushTimer = this.cancel(this.pushTimer);
    this.linkState = LinkState.DEREGISTERED;
    this.after(this.settings.connectStepMs, () => this.urc("+QIOTEVT: 6,10200"));
  }

  /** Connection loss (2,10473 heartbeat timeout / 2,10474 network timeout); mode 2 reconnects by itself. */
  loseConnection(code: 10473 | 10474 = 10473): void {
    if (!this.online && !this.connecting) return;
    this.linkGeneration++;
    this.connecting = false;
    this.pushTimer = this.cancel(this.pushTimer);
    this.linkState = LinkState.UNINIT;
    this.urc(`+QIOTEVT: 2,${code}`);
    if (this.flash.otaState === OtaState.DOWNLOADING || this.flash.otaState === OtaState.SUBMITOTA)
      this.downloadFailed("connection lost");
    if (this.flash.regMode === 2) this.after(this.settings.connectStepMs, () => this.connect());
  }

  // ---------------------------------------------------------------- MCU versions

  private mcuVer(mode: string, args: Arg[]): void {
    if (mode === "read")
      return this.ok(this.flash.mcuList.map(([id, ver]) => `+QIOTMCUVER: "${id}","${ver}"`));
    if (mode === "test") return this.ok(['+QIOTMCUVER: "<MCU_number>","<MCU_version>"']);
    if (mode !== "set" || args.length < 1 || args.length > 2 || !args.every((a) => a.quoted))
      return this.error();
    const id = args[0]!.value;
    const idLength = byteLength(id);
    const idValid = idLength >= 1 && idLength <= 32 && !/[:;]/.test(id);
    if (args.length === 1) {
      const entry = this.flash.mcuList.find(([i]) => i === id);
      return entry ? this.ok([`+QIOTMCUVER: "${entry[0]}","${entry[1]}"`]) : this.error();
    }
    const version = args[1]!.value;
    // S2 checks only the lengths before it compares; `:`/`;` are refused here (they would break the `id:ver;` list).
    const lengthsValid = idLength >= 1 && idLength <= 32 && byteLength(version) <= 64;
    const versionValid = lengthsValid && !/[:;]/.test(version);
    let stored = false;
    if (idValid && versionValid) {
      const unchanged =
        this.runningVersion(id) === version || (version === "" && this.runningVersion(id) === undefined);
      const list = this.flash.mcuList.filter(([i]) => i !== id);
      if (version !== "") list.push([id, version]); // an update moves the entry to the end; "" deletes
      const text = list.map(([i, v]) => `${i}:${v}`).join(";");
      if (unchanged)
        stored = true; // S2: an unchanged version is not written again, so it keeps its place
      else if (byteLength(text) <= MCU_LIST_CAPACITY) {
        this.flash.mcuList = list;
        stored = true;
      }
    }
    if (stored) this.ok();
    else this.error();
    // §3/§9.9: the comparison fires even when the command answered ERROR (list full) or the version is unchanged,
    // but not after a length error (S2 returns before it compares).
    if (
      lengthsValid &&
      id === this.flash.otaComponent &&
      this.flash.otaType === "mcu" &&
      COMPARING.has(this.flash.otaState)
    ) {
      if (version === this.flash.otaTarget) this.finishOta(true, "");
      else
        this.finishOta(
          false,
          `device reported ${JSON.stringify(version)}, target ${JSON.stringify(this.flash.otaTarget)}`,
        );
    }
  }

  private runningVersion(id: string): string | undefined {
    const entry = this.flash.mcuList.find(([i]) => i === id);
    return entry ? entry[1] : undefined;
  }

  // ---------------------------------------------------------------- plans

  private otaReq(mode: string, args: Arg[]): void {
    if (mode === "test") return this.ok(["+QIOTOTAREQ: (0,1)"]);
    if (mode === "read") return this.error();
    let option = 0;
    if (mode === "set") {
      const value = integerArg(args[0]);
      if (args.length !== 1 || value === undefined || value < 0) return this.error();
      option = value;
    }
    // §9a / S1 Ql_iotCmdOtaRequest: every request stores its option (saved in flash), even offline and even the
    // value 2 that answers ERROR; it decides whether later (also unsolicited) download information carries SHA-256.
    this.flash.shaOption = option;
    if (!this.online) return this.error();
    if (option >= 2) this.error();
    else this.ok();
    this.after(this.settings.planDelayMs, () => this.offer("request"));
  }

  private schedulePush(): void {
    this.pushTimer = this.cancel(this.pushTimer);
    this.pushTimer = this.after(this.settings.repushIntervalMs, () => {
      this.pushTimer = undefined;
      if (!this.online) return;
      this.offer("push");
      this.schedulePush();
    });
  }

  /** The platform pushes the plan now (as at the 10-minute marks). */
  platformPush(): void {
    this.offer("push");
  }

  private matchingComponents(): PlanComponent[] {
    if (this.plan.product && this.flash.productKey && this.plan.product !== this.flash.productKey) return [];
    return this.plan.components.filter(
      (c) => matchComponent(c, this.settings.deviceId, this.runningVersion(c.id)) === "",
    );
  }

  private offer(reason: "request" | "push"): void {
    if (!this.online) return;
    // §9.12: while an OTA is active new notifications are ignored ("no restart").
    if (ACTIVE.has(this.flash.otaState) || this.recording) return;
    const components = this.matchingComponents();
    if (components.length === 0) return;
    if (components.length > this.settings.maxPlanComponents) {
      this.trace(
        "note",
        `plan with ${components.length} components dropped silently (more than ${this.settings.maxPlanComponents})`,
      );
      return;
    }
    // S1 accepts download information only while idle (or confirmed), not with a plan waiting for an answer.
    const direct =
      this.flash.otaState !== OtaState.REVICEPLAN && this.takeFault((f) => f.kind === "direct-download");
    if (direct) {
      // Download information while idle: 10701/10702/10703 with no 10700 and no confirm in this cycle (§9.8).
      this.trace("fault", `platform sends download information without an offer (${reason})`);
      this.task = { components, index: 0 };
      this.flash.otaComponent = components[0]!.id;
      this.flash.otaType = "mcu";
      this.downloadInformation();
      return;
    }
    for (const c of components) {
      this.urc(
        `+QIOTEVT: 7,10700,"${c.id}","${c.sourceVersion}","${c.targetVersion}",${c.minBattery},${c.minSignal},${this.packageBytes(c).length}`,
      );
      this.log(c, "offered", reason === "push" ? "pushed by the platform" : "requested by the device");
    }
    const record = () => {
      this.recording = false;
      this.task = { components, index: 0 };
      // S1 ql_iotOtaPlanHandle stores the component of each offered plan (the last one wins); the target only
      // comes with the download information (§9.9).
      this.flash.otaComponent = components[components.length - 1]!.id;
      this.flash.otaType = "mcu";
      this.setOtaState(OtaState.REVICEPLAN);
    };
    const race = this.faults.find((f) => f.kind === "race");
    const delay = race ? race.ms! : this.settings.planRecordDelayMs;
    // §9a race: 10700 is printed before the plan is recorded.
    if (delay > 0) {
      this.recording = true;
      this.after(delay, record);
    } else record();
  }

  private packageBytes(component: PlanComponent): Uint8Array {
    const source = this.packages;
    const data = source instanceof Map ? source.get(component.package) : source(component.package);
    if (!data) throw new Error(`package "${component.package}" of component ${component.id} is not loaded`);
    return data;
  }

  // ---------------------------------------------------------------- QIOTUPDATE

  private update(mode: string, args: Arg[]): void {
    if (mode === "test") return this.ok(["+QIOTUPDATE: (0-3)"]);
    const action = integerArg(args[0]);
    if (mode !== "set" || args.length !== 1 || action === undefined) return this.error();
    const state = this.flash.otaState;
    const d = this.download;
    switch (action) {
      case 0: {
        if (state !== OtaState.REVICEPLAN || !this.task) return this.error();
        const task = this.task;
        this.task = undefined;
        this.setOtaState(OtaState.REFUSED);
        this.ok();
        for (const c of task.components) this.log(c, "refused");
        if (task.components.length > 1 && this.settings.multiComponentResultEvent)
          this.urc("+QIOTEVT: 7,10707,0");
        return;
      }
      case 1: {
        if (state === OtaState.SUBMITOTA) return this.ok();
        if (state !== OtaState.REVICEPLAN || !this.task) return this.error();
        const task = this.task;
        this.setOtaState(OtaState.SUBMITOTA);
        this.ok();
        for (const c of task.components) this.log(c, "confirmed");
        if (task.components.length > 1 && this.settings.multiComponentResultEvent)
          this.urc("+QIOTEVT: 7,10707,0");
        this.awaitDownloadInformation();
        return;
      }
      case 2: {
        if (state !== OtaState.DOWNLOADSUCCESS || !d || d.pieceStart + d.pieceLen >= d.data.length)
          return this.error();
        this.readTimer = this.cancel(this.readTimer);
        // §9a: the window moves at once while the old piece is still stored (stale reads until the next 10703).
        d.pieceStart += d.pieceLen;
        d.pieceLen = Math.min(d.pieceSize, d.data.length - d.pieceStart);
        d.pieceIndex++;
        d.stale = true;
        this.setOtaState(OtaState.DOWNLOADING);
        this.ok();
        this.urc("+QIOTEVT: 7,10702");
        this.downloadPiece();
        return;
      }
      case 3: {
        if (state === OtaState.UPDATING) return this.ok(); // no new 10704, the 20-min timer keeps running
        if (state !== OtaState.DOWNLOADSUCCESS || !d || d.pieceStart + d.pieceLen < d.data.length)
          return this.error();
        this.readTimer = this.cancel(this.readTimer);
        this.download = undefined; // the piece is erased
        this.setOtaState(OtaState.UPDATING);
        this.ok();
        this.urc("+QIOTEVT: 7,10704");
        this.log(d.component, "updating");
        this.startUpdateTimer();
        return;
      }
      default:
        return this.error();
    }
  }

  private awaitDownloadInformation(): void {
    this.confirmTimer = this.cancel(this.confirmTimer);
    this.confirmTimer = this.after(this.settings.confirmTimeoutMs, () => {
      this.confirmTimer = undefined;
      this.finishOta(
        false,
        `no download information within ${this.settings.confirmTimeoutMs} ms of the confirm`,
      );
    });
    if (this.takeFault((f) => f.kind === "no-download-info")) {
      this.trace("fault", "the platform does not send the download information");
      return;
    }
    // The platform sends the download information over the connection: offline, only the 30-s timer remains.
    this.after(this.settings.downloadInfoDelayMs, () => {
      if (this.flash.otaState === OtaState.SUBMITOTA && this.online) this.downloadInformation();
    });
  }

  private startUpdateTimer(): void {
    this.updateTimer = this.cancel(this.updateTimer);
    this.updateTimer = this.after(this.settings.updateTimeoutMs, () => {
      this.updateTimer = undefined;
      this.finishOta(false, `no version report within ${this.settings.updateTimeoutMs} ms of 10704`);
    });
  }

  // ---------------------------------------------------------------- download

  /** The platform's download information for the task's current component arrives. */
  private downloadInformation(): void {
    const task = this.task;
    if (!task) return;
    const component = task.components[task.index]!;
    this.confirmTimer = this.cancel(this.confirmTimer);
    if (this.takeFault((f) => f.kind === "invalid-download-info")) {
      this.trace("fault", "invalid download information");
      this.finishOta(
        false,
        this.flash.shaOption === 1
          ? "invalid download information (SHA-256 requested but missing)"
          : "invalid download information",
      );
      return;
    }
    const data = this.packageBytes(component);
    let digests = this.digestCache.get(component.package);
    if (!digests) {
      digests = packageDigests(data, this.digests);
      this.digestCache.set(component.package, digests);
    }
    // The target is stored (and persisted) only now: before this, QIOTMCUVER compares with the previous one (§9.9).
    this.flash.otaComponent = component.id;
    this.flash.otaType = "mcu";
    this.flash.otaTarget = component.targetVersion;
    this.setOtaState(OtaState.DOWNLOADSTART);
    if (this.firstStart) {
      this.firstStart = false;
      // §9a: the digests are printed as the platform sent them (either hex case).
      const hex = (text: string) => (this.settings.digestCase === "upper" ? text.toUpperCase() : text);
      const sha = this.flash.shaOption === 1 ? `,"${hex(digests.sha256)}"` : "";
      this.urc(
        `+QIOTEVT: 7,10701,"${component.id}",${data.length},"${hex(digests.md5)}",${digests.crc32}${sha}`,
      );
    } else {
      // §9.8: the first-start flag is only set at boot and by 10705/10706, so after a silent failure this is 10702.
      this.urc("+QIOTEVT: 7,10702");
    }
    this.log(component, "downloading");
    this.download = {
      component,
      data,
      digests,
      pieceSize: Math.max(1, this.settings.freeSpace), // sampled once per OTA: all pieces but the last are equal
      pieceIndex: 1,
      pieceStart: 0,
      pieceLen: Math.min(this.settings.freeSpace, data.length),
      stored: undefined,
      stale: false,
    };
    this.setOtaState(OtaState.DOWNLOADING);
    this.downloadPiece();
  }

  private downloadPiece(): void {
    const d = this.download!;
    const rate = this.settings.downloadBytesPerSecond;
    const duration = Math.ceil((d.pieceLen * 1000) / rate);
    const failure = this.takeFault(
      (f) => f.kind === "fail" && (f.piece === undefined || f.piece === d.pieceIndex) && f.byte! < d.pieceLen,
    );
    const end = failure ? Math.ceil((failure.byte! * 1000) / rate) : duration;
    const interval = this.settings.progressIntervalMs;
    let elapsed = 0;
    const tick = () => {
      const next = Math.min(elapsed + interval, end);
      this.pieceTimer = this.after(next - elapsed, () => {
        this.pieceTimer = undefined;
        elapsed = next;
        if (elapsed >= end) {
          if (failure) {
            this.trace("fault", `download fails at byte ${failure.byte} of piece ${d.pieceIndex}`);
            this.downloadFailed(`download failed at byte ${failure.byte} of piece ${d.pieceIndex}`);
          } else this.pieceReady();
          return;
        }
        this.urc("+QIOTEVT: 7,10702");
        tick();
      });
    };
    tick();
    this.pieceFaults(d.pieceIndex);
  }

  private pieceReady(): void {
    const d = this.download!;
    d.stored = d.data.subarray(d.pieceStart, d.pieceStart + d.pieceLen);
    d.stale = false;
    this.setOtaState(OtaState.DOWNLOADSUCCESS);
    this.urc(`+QIOTEVT: 7,10703,"${d.component.id}",${d.data.length},${d.pieceStart},${d.pieceLen}`);
    this.log(d.component, "piece", `${d.pieceStart}+${d.pieceLen}`);
    this.restartReadTimer();
  }

  private restartReadTimer(): void {
    this.readTimer = this.cancel(this.readTimer);
    this.readTimer = this.after(this.settings.readTimeoutMs, () => {
      this.readTimer = undefined;
      this.finishOta(false, `MCU read idle for ${this.settings.readTimeoutMs} ms`);
    });
  }

  /** A download failure: silent (idle, piece erased, plan lost) until the Nth cumulative one gives 10706. */
  private downloadFailed(reason: string): void {
    this.failures++;
    const component = this.download?.component ?? this.task?.components[this.task.index];
    if (this.failures >= this.settings.maxDownloadFailures) {
      this.finishOta(false, `${reason} (download failure ${this.failures})`);
      return;
    }
    this.pieceTimer = this.cancel(this.pieceTimer);
    this.readTimer = this.cancel(this.readTimer);
    this.confirmTimer = this.cancel(this.confirmTimer);
    this.download = undefined;
    this.task = undefined;
    this.setOtaState(OtaState.DOWNLOADERROR);
    if (component) this.log(component, "download-failed", `${reason} (silent failure ${this.failures})`);
  }

  /** 10705/10706: the OTA ends; the first-start flag and failure count reset, the piece is erased. */
  private finishOta(success: boolean, reason: string): void {
    const task = this.task;
    const component =
      task?.components[task.index] ?? this.plan.components.find((c) => c.id === this.flash.otaComponent);
    this.confirmTimer = this.cancel(this.confirmTimer);
    this.readTimer = this.cancel(this.readTimer);
    this.updateTimer = this.cancel(this.updateTimer);
    this.pieceTimer = this.cancel(this.pieceTimer);
    this.download = undefined;
    this.firstStart = true;
    this.failures = 0;
    this.setOtaState(success ? OtaState.UPDATESUCCESS : OtaState.UPDATEERROR);
    if (success) {
      const fotaEnd = this.settings.fotaEndUrc;
      if (fotaEnd === "before") this.urc('+QIND: "FOTA","END",0');
      this.urc("+QIOTEVT: 7,10705");
      if (fotaEnd === "after") this.urc('+QIND: "FOTA","END",0');
    } else this.urc("+QIOTEVT: 7,10706");
    if (component) this.log(component, success ? "success" : "failure", reason || undefined);
    if (success && task && task.index + 1 < task.components.length) {
      // Multi-component task: the next component's download information follows its predecessor's 10705 (§7).
      // The module is idle meanwhile (S1 goes to NOPLAN and accepts download information there), so a version
      // report in between compares nothing and no 30-s confirm timer runs.
      task.index++;
      this.after(this.settings.downloadInfoDelayMs, () => {
        if (
          this.task === task &&
          this.online &&
          !ACTIVE.has(this.flash.otaState) &&
          this.flash.otaState !== OtaState.REVICEPLAN
        )
          this.downloadInformation();
      });
    } else this.task = undefined;
  }

  // ---------------------------------------------------------------- QIOTOTARD

  private otaRead(mode: string, args: Arg[]): void {
    if (mode === "test") return this.ok([`+QIOTOTARD: <start>,(1-${this.settings.maxReadLength})`]);
    const start = integerArg(args[0]);
    let length = integerArg(args[1]);
    if (mode !== "set" || args.length !== 2 || start === undefined || length === undefined)
      return this.error();
    this.reads++;
    const readNumber = this.reads;
    const d = this.download;
    for (const f of this.faults) if (f.kind === "burst" && f.read === readNumber) this.burst(f.count ?? 5);
    if (length > this.settings.maxReadLength) {
      if (this.settings.overLengthRead === "error") {
        this.trace("read", `read ${start}+${length} → ERROR (above ${this.settings.maxReadLength})`);
        this.error();
        this.afterRead(readNumber);
        return;
      }
      length = this.settings.maxReadLength;
    }
    // S1 Ql_iotCmdOtaMcuFWDataRead returns 0 bytes for a wrong state as for a start outside the piece or len 0:
    // the AT layer prints both the same way (ERROR, or `+QIOTOTARD: <start>,0` in the configured variant).
    const readable = d && d.stored && (this.flash.otaState === OtaState.DOWNLOADSUCCESS || d.stale);
    const pieceEnd = d ? d.pieceStart + d.pieceLen : 0;
    if (!readable || start < d.pieceStart || start >= pieceEnd || length <= 0) {
      this.trace(
        "read",
        readable
          ? `read ${start}+${length} → outside ${d.pieceStart}..${pieceEnd - 1}`
          : `read ${start}+${length} → nothing to read (state ${this.flash.otaState})`,
      );
      if (this.settings.outOfWindowRead === "zero") this.sendReadReply(start, new Uint8Array(0), readNumber);
      else this.error();
      this.afterRead(readNumber);
      return;
    }
    // Stale after UPDATE=2: the old piece's bytes under the new window's offsets (§9a).
    const offset = start - d.pieceStart;
    const count = Math.max(0, Math.min(length, pieceEnd - start, d.stored!.length - offset));
    const payload = d.stored!.subarray(offset, offset + count);
    if (!d.stale) this.restartReadTimer();
    this.trace("read", `read ${start}+${length} → ${count} bytes${d.stale ? " (stale piece)" : ""}`);
    this.sendReadReply(start, payload, readNumber);
    this.readBytesTotal += count;
    this.afterRead(readNumber);
  }

  /** §5 layout: "\r\n+QIOTOTARD: <start>,<n>\r\n" + n raw bytes + "\r\n" + "\r\nOK\r\n". */
  private sendReadReply(start: number, payload: Uint8Array, readNumber: number): void {
    const badOffset = this.faults.find((f) => f.kind === "bad-offset" && f.read === readNumber);
    const shownStart = badOffset ? start + (badOffset.delta ?? 1) : start;
    const payloadFaults = this.faults.filter(
      (f) => (f.kind === "drop" || f.kind === "corrupt" || f.kind === "dup") && f.read === readNumber,
    );
    const body = payloadFaults.length ? applyByteFaults(payload, 0, payloadFaults) : payload;
    const urcBeforeOk = this.faults.some((f) => f.kind === "urc-before-ok" && f.read === readNumber);
    const header = encoder(`\r\n+QIOTOTARD: ${shownStart},${payload.length}\r\n`);
    const trailer = encoder(urcBeforeOk ? "\r\n\r\n+QIOTEVT: 4,10200\r\n\r\nOK\r\n" : "\r\n\r\nOK\r\n");
    const reply = new Uint8Array(header.length + body.length + trailer.length);
    reply.set(header, 0);
    reply.set(body, header.length);
    reply.set(trailer, header.length + body.length);
    if (badOffset || payloadFaults.length || urcBeforeOk)
      this.trace(
        "fault",
        `read ${readNumber}: ${[
          badOffset,
          ...payloadFaults,
          urcBeforeOk ? { kind: "urc-before-ok" } : undefined,
        ]
          .filter(Boolean)
          .map((f) => describeFault(f as Fault))
          .join(" ")}`,
      );
    this.writeBytes(reply);
  }

  private afterRead(readNumber: number): void {
    for (const f of this.faults) {
      if (f.read !== readNumber) continue;
      if (f.kind === "reboot" || f.kind === "inject10706" || f.kind === "disconnect") this.timedFault(f);
    }
    for (const f of this.faults) {
      if (
        f.kind === "reboot" &&
        f.readBytes !== undefined &&
        this.readBytesTotal >= f.readBytes &&
        this.useFault(f)
      ) {
        this.trace("fault", `reboot after ${this.readBytesTotal} bytes read`);
        this.reboot(`fault: after ${f.readBytes} bytes read`);
        return;
      }
    }
  }

  // ---------------------------------------------------------------- faults

  private useFault(fault: Fault): boolean {
    const left = this.faultUses.get(fault) ?? 0;
    if (left <= 0) return false;
    this.faultUses.set(fault, left - 1);
    return true;
  }

  private takeFault(predicate: (fault: Fault) => boolean): Fault | undefined {
    for (const fault of this.faults) if (predicate(fault) && this.useFault(fault)) return fault;
    return undefined;
  }

  private pieceFaults(piece: number): void {
    for (const f of this.faults) if (f.piece === piece && f.kind !== "fail") this.timedFault(f);
  }

  /** Faults that happen at a moment (after a read, at a piece, after some time). */
  private timedFault(fault: Fault): void {
    if (!this.powered || !this.useFault(fault)) return;
    this.trace("fault", describeFault(fault));
    switch (fault.kind) {
      case "reboot":
        this.reboot(`fault: ${describeFault(fault)}`);
        break;
      case "inject10706":
        this.finishOta(false, "injected 10706");
        break;
      case "disconnect":
        this.loseConnection(fault.code === 10474 ? 10474 : 10473);
        break;
      case "burst":
        this.burst(fault.count ?? 5);
        break;
      default:
        break;
    }
  }

  private burst(count: number): void {
    const lines = ["+QIOTEVT: 4,10200", "+QIOTEVT: 5,10200", '+QIND: "FOTA","START"', "+QIOTEVT: 8,10428"];
    for (let i = 0; i < count; i++) this.urc(lines[i % lines.length]!);
  }

  // ---------------------------------------------------------------- bookkeeping

  private setOtaState(state: number): void {
    this.flash.otaState = state; // saved to module flash on every change (S1)
  }

  /** `text` is the reason of a failure, refusal or silent download failure, else a detail (who asked, which piece). */
  private log(component: PlanComponent, event: MonitorEvent, text?: string): void {
    const isReason = event === "failure" || event === "refused" || event === "download-failed";
    this.monitor.add({
      time: Math.round(this.clock.now() - this.powerOnTime),
      device: this.settings.deviceId,
      component: component.id,
      event,
      targetVersion: component.targetVersion,
      ...(text ? (isReason ? { reason: text } : { detail: text }) : {}),
    });
  }
}
