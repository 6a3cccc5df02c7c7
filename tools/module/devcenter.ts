// The Developer Center behind the module: the plan, which components it offers a device, the offers it pushes or
// answers with (10700), the task a confirm starts, and the packages with their digests (download information).

import type { TimerHandle } from "../../hal/clock.js";
import type { DigestFactory } from "../../hal/digest.js";
import { integerArg, type Arg } from "./at-port.js";
import { packageDigests, type PackageDigests } from "./checksums.js";
import type { ModuleContext } from "./module-context.js";
import { runningVersion } from "./mcu-versions.js";
import { OTA_ACTIVE, OtaState } from "./ota-states.js";
import { matchComponent, type PlanComponent } from "./plan.js";

export type PackageSource = Map<string, Uint8Array> | ((name: string) => Uint8Array);

/** The components one confirm covers; `index` is the one downloading (one after another, docs/protocol.md §7). */
export interface Task {
  components: PlanComponent[];
  index: number;
}

export class DevCenter {
  /** The plan the module holds (offered, confirmed or downloading); RAM only. */
  task: Task | undefined;
  /** 10700 printed, plan not yet recorded (the confirm race, docs/protocol.md §9a). */
  private recording = false;
  private pushTimer: TimerHandle | undefined;
  private readonly digestCache = new Map<string, PackageDigests>();

  constructor(
    private readonly m: ModuleContext,
    private readonly packages: PackageSource,
    private readonly digests: DigestFactory,
  ) {}

  /** Boot: the module forgets the plan. */
  reset(): void {
    this.task = undefined;
    this.recording = false;
  }

  /** A silent download failure loses the plan: only the next offer starts again. */
  dropTask(): void {
    this.task = undefined;
  }

  forgetTimers(): void {
    this.pushTimer = undefined;
  }

  /** The component downloading (or offered) in the current task. */
  get taskComponent(): PlanComponent | undefined {
    return this.task?.components[this.task.index];
  }

  // ---------------------------------------------------------------- requests and pushes

  /** AT+QIOTOTAREQ[=<option>] while online: ERROR for an option of 2 or more, yet the plan still comes. */
  request(args: Arg[] | undefined): void {
    const option = this.requestOption(args);
    if (option === undefined) return this.m.port.error();
    this.m.flash.shaOption = option;
    if (option >= 2) this.m.port.error();
    else this.m.port.ok();
    this.m.after(this.m.settings.planDelayMs, () => this.offer("request"));
  }

  /**
   * docs/protocol.md §9a / S1 Ql_iotCmdOtaRequest: every request stores its option (saved in flash), even offline
   * and even the value 2 that answers ERROR; it decides whether later (also unsolicited) download information
   * carries SHA-256.
   */
  storeRequestOption(args: Arg[] | undefined): void {
    const option = this.requestOption(args);
    if (option !== undefined) this.m.flash.shaOption = option;
  }

  /** No arguments is option 0; a bad option is undefined. */
  private requestOption(args: Arg[] | undefined): number | undefined {
    if (!args) return 0;
    const value = integerArg(args[0]);
    return value === undefined || value < 0 ? undefined : value;
  }

  schedulePush(): void {
    this.pushTimer = this.m.cancel(this.pushTimer);
    this.pushTimer = this.m.after(this.m.settings.repushIntervalMs, () => {
      this.pushTimer = undefined;
      if (!this.m.link.online) return;
      this.offer("push");
      this.schedulePush();
    });
  }

  stopPush(): void {
    this.pushTimer = this.m.cancel(this.pushTimer);
  }

  private matchingComponents(): PlanComponent[] {
    const { plan, flash, settings } = this.m;
    if (plan.product && flash.productKey && plan.product !== flash.productKey) return [];
    return plan.components.filter(
      (c) => matchComponent(c, settings.deviceId, runningVersion(flash, c.id)) === "",
    );
  }

  /** Why each component of the plan is not offered to this device (the most likely real mistakes, said plainly). */
  notOfferedReasons(): Array<[PlanComponent, string]> {
    const { plan, flash, settings } = this.m;
    const reported =
      flash.mcuList.length > 0
        ? `the device reported ${flash.mcuList.map(([id, ver]) => `"${id}" ${ver}`).join(", ")}`
        : "the device reported no component (AT+QIOTMCUVER)";
    return plan.components.map((c): [PlanComponent, string] => {
      if (plan.product && flash.productKey && plan.product !== flash.productKey)
        return [c, `the module's product key ${flash.productKey} is not the plan's product ${plan.product}`];
      const running = runningVersion(flash, c.id);
      const why = matchComponent(c, settings.deviceId, running);
      if (why === "device is blacklisted")
        return [c, `device ${settings.deviceId} is on the plan's blacklist`];
      if (why === "device is not whitelisted")
        return [c, `device ${settings.deviceId} is not on the plan's whitelist (${c.whitelist.join(", ")})`];
      if (running === undefined)
        return [c, `component unknown: the plan's component is "${c.id}", ${reported}`];
      if (running === c.targetVersion)
        return [c, `version equal: the device already runs the target ${running}`];
      return [c, why];
    });
  }

  /** Nothing to offer: the console and the monitoring log say why, per component. */
  private explainNoOffer(reason: "request" | "push"): void {
    for (const [c, why] of this.notOfferedReasons()) {
      this.m.trace("note", `no plan offered (${reason}) for ${c.id} → ${c.targetVersion}: ${why}`);
      this.m.monitor.add({
        time: Math.round(this.m.clock.now() - this.m.powerOnTime),
        device: this.m.settings.deviceId,
        component: c.id,
        event: "not-offered",
        targetVersion: c.targetVersion,
        reason: why,
        detail: reason === "push" ? "pushed by the platform" : "requested by the device",
      });
    }
  }

  offer(reason: "request" | "push"): void {
    const m = this.m;
    if (!m.link.online) return;
    // docs/protocol.md §9.12: while an OTA is active new notifications are ignored ("no restart").
    if (OTA_ACTIVE.has(m.otaState) || this.recording) return;
    const components = this.matchingComponents();
    if (components.length === 0) return this.explainNoOffer(reason);
    if (components.length > m.settings.maxPlanComponents) {
      m.trace(
        "note",
        `plan with ${components.length} components dropped silently (more than ${m.settings.maxPlanComponents})`,
      );
      return;
    }
    // S1 accepts download information only while idle (or confirmed), not with a plan waiting for an answer.
    const direct = m.otaState !== OtaState.REVICEPLAN && m.faults.take((f) => f.kind === "direct-download");
    if (direct) {
      // Download information while idle: 10701/10702/10703 with no 10700 and no confirm (docs/protocol.md §9.8).
      m.trace("fault", `platform sends download information without an offer (${reason})`);
      this.task = { components, index: 0 };
      m.flash.otaComponent = components[0]!.id;
      m.flash.otaType = "mcu";
      this.downloadInformation();
      return;
    }
    for (const c of components) {
      m.port.urc(
        `+QIOTEVT: 7,10700,"${c.id}","${c.sourceVersion}","${c.targetVersion}",${c.minBattery},${c.minSignal},${this.packageBytes(c).length}`,
      );
      m.log(c, "offered", reason === "push" ? "pushed by the platform" : "requested by the device");
    }
    const record = () => {
      this.recording = false;
      this.task = { components, index: 0 };
      // S1 ql_iotOtaPlanHandle stores the component of each offered plan (the last one wins); the target only
      // comes with the download information (docs/protocol.md §9.9).
      m.flash.otaComponent = components[components.length - 1]!.id;
      m.flash.otaType = "mcu";
      m.setOtaState(OtaState.REVICEPLAN);
    };
    const race = m.faults.all.find((f) => f.kind === "race");
    const delay = race ? race.ms! : m.settings.planRecordDelayMs;
    // docs/protocol.md §9a race: 10700 is printed before the plan is recorded.
    if (delay > 0) {
      this.recording = true;
      m.after(delay, record);
    } else record();
  }

  // ---------------------------------------------------------------- the device's answer (QIOTUPDATE=0/1)

  /** AT+QIOTUPDATE=0 with a plan waiting: refused, the module is idle again. */
  refuse(): void {
    const m = this.m;
    const task = this.task!;
    this.task = undefined;
    m.setOtaState(OtaState.REFUSED);
    m.port.ok();
    // The module is not told why: the device's own output says it (battery, signal, version, size, policy).
    for (const c of task.components)
      m.log(
        c,
        "refused",
        `the device said no (AT+QIOTUPDATE=0): battery below ${c.minBattery} %, signal, version or its policy; its output says which`,
      );
    if (task.components.length > 1 && m.settings.multiComponentResultEvent) m.port.urc("+QIOTEVT: 7,10707,0");
  }

  /** AT+QIOTUPDATE=1: confirmed (a repeat in SUBMITOTA is OK and nothing else); the download information follows. */
  confirm(): void {
    const m = this.m;
    if (m.otaState === OtaState.SUBMITOTA) return m.port.ok();
    const task = this.task!;
    m.setOtaState(OtaState.SUBMITOTA);
    m.port.ok();
    for (const c of task.components) m.log(c, "confirmed");
    if (task.components.length > 1 && m.settings.multiComponentResultEvent) m.port.urc("+QIOTEVT: 7,10707,0");
    this.awaitDownloadInformation();
  }

  private awaitDownloadInformation(): void {
    const m = this.m;
    m.ota.startConfirmTimer();
    if (m.faults.take((f) => f.kind === "no-download-info")) {
      m.trace("fault", "the platform does not send the download information");
      return;
    }
    // The platform sends the download information over the connection: offline, only the 30-s timer remains.
    m.after(m.settings.downloadInfoDelayMs, () => {
      if (m.otaState === OtaState.SUBMITOTA && m.link.online) this.downloadInformation();
    });
  }

  // ---------------------------------------------------------------- download information and packages

  /** The platform's download information for the task's current component arrives. */
  private downloadInformation(): void {
    const m = this.m;
    const component = this.taskComponent;
    if (!component) return;
    m.ota.stopConfirmTimer();
    if (m.faults.take((f) => f.kind === "invalid-download-info")) {
      m.trace("fault", "invalid download information");
      m.ota.finish(
        false,
        m.flash.shaOption === 1
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
    m.ota.begin(component, data, digests);
  }

  /** After 10705/10706 of `task` (the one held when the OTA ended): the next component of it follows, or it ends. */
  otaEnded(success: boolean, task: Task | undefined): void {
    const m = this.m;
    if (success && task && task.index + 1 < task.components.length) {
      // The next component's download information follows its predecessor's 10705 (docs/protocol.md §7). The
      // module is idle meanwhile (S1 goes to NOPLAN and accepts download information there), so a version report
      // in between compares nothing and no 30-s confirm timer runs.
      task.index++;
      m.after(m.settings.downloadInfoDelayMs, () => {
        if (
          this.task === task &&
          m.link.online &&
          !OTA_ACTIVE.has(m.otaState) &&
          m.otaState !== OtaState.REVICEPLAN
        )
          this.downloadInformation();
      });
    } else this.task = undefined;
  }

  packageBytes(component: PlanComponent): Uint8Array {
    const source = this.packages;
    const data = source instanceof Map ? source.get(component.package) : source(component.package);
    if (!data) throw new Error(`package "${component.package}" of component ${component.id} is not loaded`);
    return data;
  }
}
