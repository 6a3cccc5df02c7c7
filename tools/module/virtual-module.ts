// The virtual QuecThing module + Developer Center per docs/protocol.md: this front wires its sections and owns power.
// Portable (ports only), so it runs on the sim link in virtual time, on a pty, a real UART, or inside XS.

import type { SerialPort } from "../../hal/serial.js";
import type { Clock, TimerHandle } from "../../hal/clock.js";
import type { DigestFactory } from "../../hal/digest.js";
import { AtPort } from "./at-port.js";
import { executeCommand } from "./commands-table.js";
import { DevCenter, type PackageSource } from "./devcenter.js";
import { FaultTriggers } from "./fault-triggers.js";
import { describeFault, type Fault } from "./faults.js";
import { Link } from "./link.js";
import { mcuListText } from "./mcu-versions.js";
import { ModuleContext, type TraceEntry } from "./module-context.js";
import { blankFlash, copyFlash, type ModuleFlash } from "./module-flash.js";
import { MonitorLog } from "./monitor.js";
import { burst, OtaDownload } from "./ota-download.js";
import { lostAtBoot, OtaState, recoverAtBoot } from "./ota-states.js";
import type { Plan } from "./plan.js";
import { resolveSettings, type ModuleSettings } from "./settings.js";

export { OtaState, type OtaStateNumber } from "./ota-states.js";
export { LinkState } from "./link.js";
export { MCU_LIST_CAPACITY } from "./mcu-versions.js";
export type { ModuleFlash } from "./module-flash.js";
export type { TraceEntry, TraceKind } from "./module-context.js";
export type { PackageSource } from "./devcenter.js";

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

export class VirtualModule {
  readonly monitor: MonitorLog;
  readonly settings: ModuleSettings;
  private readonly m: ModuleContext;
  private readonly faultTimers = new Set<TimerHandle>();

  constructor(options: VirtualModuleOptions) {
    this.settings = resolveSettings(options.plan.settings, options.settings);
    this.monitor = options.monitor ?? new MonitorLog();
    const settings = this.settings;
    const flash =
      options.flash ??
      blankFlash(
        settings.productKey || "",
        settings.productSecret || options.plan.productSecret,
        settings.regMode,
      );
    const faults = new FaultTriggers([...options.plan.faults, ...(options.faults ?? [])]);
    const m = new ModuleContext(
      settings,
      flash,
      options.plan,
      options.clock,
      faults,
      this.monitor,
      options.onTrace,
    );
    m.port = new AtPort(m, options.serial, (command) => executeCommand(m, command));
    m.link = new Link(m);
    m.center = new DevCenter(m, options.packages, options.digests);
    m.ota = new OtaDownload(m);
    m.front = { reboot: (reason) => this.reboot(reason), fireFault: (fault) => this.fireFault(fault) };
    this.m = m;
  }

  // ---------------------------------------------------------------- read-only views

  get otaState(): number {
    return this.m.otaState;
  }
  /** QIOTSTATE value. */
  get state(): number {
    return this.m.link.state;
  }
  get online(): boolean {
    return this.m.link.online;
  }
  get echoOn(): boolean {
    return this.m.port.echo;
  }
  get firstStartFlag(): boolean {
    return this.m.ota.firstStart;
  }
  get downloadFailures(): number {
    return this.m.ota.failures;
  }
  get storedTarget(): string {
    return this.m.flash.otaTarget;
  }
  get storedComponent(): string {
    return this.m.flash.otaComponent;
  }
  get shaOption(): number {
    return this.m.flash.shaOption;
  }
  get regMode(): number {
    return this.m.flash.regMode;
  }
  get readCount(): number {
    return this.m.ota.reads;
  }
  /** The stored `id:ver;...` list exactly as the module keeps it. */
  get mcuVersionList(): string {
    return mcuListText(this.m.flash.mcuList);
  }
  get pieceWindow(): { start: number; length: number; fileSize: number } | undefined {
    return this.m.ota.pieceWindow;
  }
  /** A copy of the module flash (persisted fields), e.g. to save between CLI runs. */
  get flashContents(): ModuleFlash {
    return copyFlash(this.m.flash);
  }

  // ---------------------------------------------------------------- power

  /** Power-on: RDY after bootDelayMs, then the module accepts commands. */
  powerOn(): void {
    const m = this.m;
    if (m.powered) return;
    m.powered = true;
    m.powerOnTime = m.clock.now();
    m.port.open();
    for (const fault of m.faults.all) {
      if (fault.afterMs === undefined) continue;
      const handle = m.clock.setTimer(() => {
        this.faultTimers.delete(handle);
        this.fireFault(fault);
      }, fault.afterMs);
      this.faultTimers.add(handle);
    }
    this.boot();
  }

  /** Module reboot (docs/protocol.md §6, §9a): RAM state lost, RDY again, echo back on, UPDATING restored with 10704. */
  reboot(reason = "reboot"): void {
    const m = this.m;
    if (!m.powered) return;
    m.trace("note", `module reboot (${reason})`);
    this.clearTimers();
    if (lostAtBoot(m.otaState)) {
      const download = m.ota.download;
      for (const c of m.center.task?.components ?? (download ? [download.component] : []))
        m.log(c, "download-failed", `module reboot in state ${m.otaState}`);
    }
    this.boot();
  }

  /** Power off: every timer stops and the port closes. */
  powerOff(): void {
    const m = this.m;
    if (!m.powered) return;
    this.clearTimers();
    for (const handle of this.faultTimers) m.clock.clearTimer(handle);
    this.faultTimers.clear();
    m.powered = false;
    m.booted = false;
    m.port.close();
  }

  /** Connection loss (2,10473 heartbeat timeout / 2,10474 network timeout); mode 2 reconnects by itself. */
  loseConnection(code: 10473 | 10474 = 10473): void {
    this.m.link.loseConnection(code);
  }

  /** The platform pushes the plan now (as at the 10-minute marks). */
  platformPush(): void {
    this.m.center.offer("push");
  }

  private boot(): void {
    const m = this.m;
    m.booted = false;
    m.port.reset();
    m.link.reset();
    m.ota.reset();
    m.center.reset();
    const recovered = recoverAtBoot(m.otaState);
    m.ota.failures = recovered.downloadFailures;
    m.setOtaState(recovered.state);
    // QIOTREG=1 is saved but reverts at boot: only mode 2 reconnects by itself (docs/protocol.md §6).
    if (m.flash.regMode === 1) m.flash.regMode = 0;
    m.after(m.settings.bootDelayMs, () => {
      m.booted = true;
      m.port.send("\r\nRDY\r\n", "urc", "RDY");
      if (m.otaState === OtaState.UPDATING) {
        m.port.urc("+QIOTEVT: 7,10704");
        m.ota.startUpdateTimer();
      }
      if (m.flash.regMode === 2 && m.flash.productKey) m.link.connect();
    });
  }

  private clearTimers(): void {
    this.m.clearTimers();
    this.m.center.forgetTimers();
    this.m.ota.forgetTimers();
  }

  /** Faults that happen at a moment (after a read, at a piece, after some time). */
  private fireFault(fault: Fault): void {
    const m = this.m;
    if (!m.powered || !m.faults.use(fault)) return;
    m.trace("fault", describeFault(fault));
    switch (fault.kind) {
      case "reboot":
        this.reboot(`fault: ${describeFault(fault)}`);
        break;
      case "inject10706":
        m.ota.finish(false, "injected 10706");
        break;
      case "disconnect":
        m.link.loseConnection(fault.code === 10474 ? 10474 : 10473);
        break;
      case "burst":
        burst(m, fault.count ?? 5);
        break;
      default:
        break;
    }
  }
}
