// What the sections of the virtual module share: settings, module flash, power, timers, the live trace, the
// monitoring log and the fault triggers, plus each section, so that one can call another.

import type { Clock, TimerHandle } from "../../hal/clock.js";
import type { Fault } from "./faults.js";
import type { FaultTriggers } from "./fault-triggers.js";
import type { ModuleFlash } from "./module-flash.js";
import type { MonitorEvent, MonitorLog } from "./monitor.js";
import type { Plan, PlanComponent } from "./plan.js";
import type { ModuleSettings } from "./settings.js";
import type { AtPort } from "./at-port.js";
import type { Link } from "./link.js";
import type { DevCenter } from "./devcenter.js";
import type { OtaDownload } from "./ota-download.js";

export type TraceKind = "rx" | "tx" | "urc" | "read" | "note" | "fault";
export interface TraceEntry {
  time: number;
  kind: TraceKind;
  text: string;
}

/** What the front (virtual-module.ts) does for the sections: power and the faults that act on the whole module. */
export interface ModuleFront {
  /** Module reboot (docs/protocol.md §6, §9a). */
  reboot(reason: string): void;
  /** A fault that happens at a moment (after a read, at a piece, after some time). */
  fireFault(fault: Fault): void;
}

export class ModuleContext {
  /** Powered: output goes to the UART. */
  powered = false;
  /** RDY printed: the UART listens and commands run. */
  booted = false;
  powerOnTime = 0;
  private readonly timers = new Set<TimerHandle>();

  // The sections, set once by the front before power-on.
  port!: AtPort;
  link!: Link;
  center!: DevCenter;
  ota!: OtaDownload;
  front!: ModuleFront;

  constructor(
    readonly settings: ModuleSettings,
    readonly flash: ModuleFlash,
    readonly plan: Plan,
    readonly clock: Clock,
    readonly faults: FaultTriggers,
    readonly monitor: MonitorLog,
    private readonly onTrace: ((entry: TraceEntry) => void) | undefined,
  ) {}

  get otaState(): number {
    return this.flash.otaState;
  }

  setOtaState(state: number): void {
    this.flash.otaState = state; // saved to module flash on every change (S1)
  }

  // ---------------------------------------------------------------- timers (all lost at reboot)

  after(ms: number, callback: () => void): TimerHandle {
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

  /** Cancels a timer; returns undefined to clear the caller's handle in one statement. */
  cancel(handle: TimerHandle | undefined): undefined {
    if (handle !== undefined) {
      this.clock.clearTimer(handle);
      this.timers.delete(handle);
    }
    return undefined;
  }

  clearTimers(): void {
    for (const handle of this.timers) this.clock.clearTimer(handle);
    this.timers.clear();
  }

  // ---------------------------------------------------------------- logs

  trace(kind: TraceKind, text: string): void {
    this.onTrace?.({ time: this.clock.now(), kind, text });
  }

  /** `text` is the reason of a failure, refusal or silent download failure, else a detail (who asked, which piece). */
  log(component: PlanComponent, event: MonitorEvent, text?: string): void {
    const isReason = event === "failure" || event === "refused" || event === "download-failed";
    this.monitor.add({
      // Rounded up: an entry never precedes the line event that caused it.
      time: Math.ceil(this.clock.now() - this.powerOnTime),
      device: this.settings.deviceId,
      component: component.id,
      event,
      targetVersion: component.targetVersion,
      ...(text ? (isReason ? { reason: text } : { detail: text }) : {}),
    });
  }
}
