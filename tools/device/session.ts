// The host-mode device: the SOTA engine on given ports, restarted on the same flash and serial after an activation,
// with the outcome of a plan mapped to the CLI's exit codes. Shared by `sota-device run` and the demo.

import type { Clock } from "../../hal/clock.js";
import type { DigestFactory } from "../../hal/digest.js";
import type { FlashPartition } from "../../hal/flash.js";
import type { KeyValueStore } from "../../hal/kv.js";
import type { SerialPort } from "../../hal/serial.js";
import type { SystemPort } from "../../hal/system.js";
import { openBoot } from "../../src/boot/generic-boot.js";
import type { FlashLayout } from "../../src/flash-format/layout.js";
import type { BootReport } from "../../src/boot/types.js";
import { ModuleClient } from "../../src/quecthing/client.js";
import type { PackageVerifier } from "../../src/package/verifier.js";
import { SotaEngine } from "../../src/sota/engine.js";
import type { SotaEngineConfig, SotaProgress, SotaState } from "../../src/sota/engine.js";

/** How one plan ended, as the CLI reports it. */
export type PlanOutcome = "updated" | "current" | "no-plan" | "refused" | "failed";
/** `error`: the device could not work (no module answering, I/O); `stopped`: stop() before an outcome. */
export type DeviceStatus = PlanOutcome | "error" | "stopped";

export const EXIT_CODES: Readonly<Record<DeviceStatus, number>> = Object.freeze({
  updated: 0,
  current: 0,
  stopped: 0,
  "no-plan": 10,
  refused: 11,
  failed: 12,
  error: 1,
});

export interface DeviceResult {
  status: DeviceStatus;
  exitCode: number;
  reason: string;
  /** The version running when the result was taken. */
  runningVersion: string;
  /** The version the plan offered, or "" when none was offered. */
  targetVersion: string;
  /** Image bytes received in this session (the verified prefix of a resume included). */
  bytes: number;
  /** Session time on the device's clock. */
  seconds: number;
  /** Engine restarts (activations and rollbacks) during the session. */
  restarts: number;
}

export interface HostDeviceOptions {
  /** The module's UART; stays open across engine restarts (an engine's stop() only detaches from it). */
  serial: SerialPort;
  /** Signed packages: each package is checked with this verifier before activation. */
  packages?: PackageVerifier;
  clock: Clock;
  flash: FlashPartition;
  layout: FlashLayout;
  digests: DigestFactory;
  /** The engine's OTA record store (a sidecar JSON file on the host, RAM in the demo). */
  kv: KeyValueStore;
  component: string;
  /** Flash areas of data and mod components (their configs come in `engine.components`). */
  areas?: Record<string, FlashPartition>;
  baud: number;
  batteryPercent?: number;
  deviceId?: string;
  /** Stop at the first outcome after the first offer (or at "no plan" / an error before any offer). */
  once: boolean;
  /** Engine settings beyond component, baud and slot size (timers, read length, downgrade). */
  engine?: Partial<Omit<SotaEngineConfig, "component" | "baud" | "slotSize">>;
  /** Every progress report; the object is reused by the engine: copy what you keep. */
  onProgress?: (progress: Readonly<SotaProgress>) => void;
  /** Each plan's outcome (in --once mode the only one); also called for outcomes while serving. */
  onOutcome?: (result: DeviceResult) => void;
  /** After each boot decision (the first start and every restart). */
  onBoot?: (report: BootReport, restart: number) => void;
  /** Engine diagnostics. */
  onLog?: (message: string) => void;
}

/** The engine's default wait for an offer after AT+QIOTOTAREQ=1 (src/sota/config.ts). */
const DEFAULT_PLAN_WAIT_MS = 15_000;
/** `<component>:<version>` of the last update this device installed, in the engine's store. */
export const LAST_UPDATE_KEY = "host.updated";

/** What a "no plan" means: what the device told the module, what it asked, and what to check, most likely first. */
export function noPlanReason(component: string, version: string, waitedSeconds: number): string {
  return (
    `no plan offered within ${waitedSeconds} s: the device reported component "${component}" version "${version}" ` +
    `(AT+QIOTMCUVER="${component}","${version}") and asked for a plan (AT+QIOTOTAREQ=1). ` +
    `Check in the plan: its component id is exactly "${component}" (case counts); this device is on its whitelist ` +
    `(when it has one) and not on its blacklist; its target version is not "${version}"` +
    `; the plan is started and belongs to the product key the module holds (the module's log says which)`
  );
}

const TERMINAL_AFTER_OFFER: ReadonlySet<SotaState> = new Set<SotaState>([
  "updated",
  "current",
  "refused",
  "failed",
]);

export class HostDevice {
  readonly #options: HostDeviceOptions;
  readonly #startedAt: number;
  #engine: SotaEngine | undefined;
  #report: BootReport | undefined;
  #restartRequested = false;
  #stopped = false;
  #offered = false;
  #targetVersion = "";
  #bytes = 0;
  #restarts = 0;
  #result: DeviceResult | undefined;
  #running: Promise<DeviceResult> | undefined;

  constructor(options: HostDeviceOptions) {
    this.#options = options;
    this.#startedAt = options.clock.now();
  }

  /** The boot decision of the current engine run. */
  get bootReport(): BootReport | undefined {
    return this.#report;
  }

  /** Resolves with the outcome (--once), or after stop() with the last outcome or "stopped". */
  run(): Promise<DeviceResult> {
    this.#running ??= this.#main();
    return this.#running;
  }

  stop(): void {
    this.#stopped = true;
    this.#engine?.stop();
  }

  async #main(): Promise<DeviceResult> {
    const options = this.#options;
    const system: SystemPort = {
      // A host "reboot": the engine has stopped; #main opens the boot control again on the same flash.
      restart: () => {
        this.#restartRequested = true;
      },
      batteryPercent: () => options.batteryPercent ?? 100,
      deviceId: () => options.deviceId ?? "host-device",
      log: (message) => options.onLog?.(message),
    };
    for (;;) {
      this.#restartRequested = false;
      const boot = openBoot(options.flash, options.layout, options.digests);
      this.#report = boot.report;
      options.onBoot?.(boot.report, this.#restarts);
      const client = new ModuleClient(options.serial, options.clock, { baud: options.baud });
      const engine = new SotaEngine(
        {
          client,
          clock: options.clock,
          boot,
          system,
          kv: options.kv,
          packages: options.packages,
          digests: options.digests,
          ...(options.areas ? { areas: options.areas } : {}),
        },
        {
          ...options.engine,
          component: options.component,
          slotSize: options.layout.slots[0].length,
        },
      );
      this.#engine = engine;
      engine.onProgress = (progress) => this.#onProgress(progress);
      if (this.#stopped) engine.stop();
      try {
        await engine.start();
      } catch (error) {
        // The engine handles module trouble itself; what escapes is flash or programming trouble.
        this.#finish("error", error instanceof Error ? error.message : String(error), true);
      }
      if (this.#result && options.once) break;
      if (this.#stopped || !this.#restartRequested) break;
      this.#restarts++;
    }
    this.#engine = undefined;
    return this.#result ?? this.#makeResult("stopped", "stopped before an outcome");
  }

  #onProgress(progress: Readonly<SotaProgress>): void {
    this.#options.onProgress?.(progress);
    const state = progress.state;
    if (state === "reading") {
      this.#bytes = progress.bytes;
      return;
    }
    if (state === "offered") {
      this.#offered = true;
      this.#targetVersion = progress.targetVersion;
      this.#bytes = 0;
      return;
    }
    if (this.#options.once && this.#result) return;
    if (this.#offered && TERMINAL_AFTER_OFFER.has(state)) {
      if (state === "updated") this.#rememberUpdate();
      this.#finish(state as PlanOutcome, progress.reason, this.#options.once);
      // While serving, the next plan is a new story.
      if (!this.#options.once) this.#offered = false;
    } else if (!this.#offered) {
      if (state === "no-plan") this.#noPlan();
      // A trial boot confirmed at start-up finishes an update an earlier run activated.
      else if (state === "updated") {
        this.#rememberUpdate();
        this.#finish("updated", progress.reason, this.#options.once);
      }
      // Before any offer, an engine error means the module does not work with us: nothing to wait for.
      else if (state === "failed" && progress.reason.startsWith("engine error") && this.#options.once) {
        this.#finish("error", progress.reason, true);
      }
    }
  }

  /** The platform offers nothing to a device at a plan's target: remember the target this device reached. */
  #rememberUpdate(): void {
    const version = this.#report?.running.version ?? "";
    if (version) this.#options.kv.set(LAST_UPDATE_KEY, `${this.#options.component}:${version}`);
  }

  /**
   * No offer after a request. Running the target of the last plan installed here is "already current" (the platform
   * stays silent then); otherwise say what was reported and asked, and what to check.
   */
  #noPlan(): void {
    const options = this.#options;
    const version = this.#report?.running.version ?? "";
    const waited = (options.engine?.planWaitMs ?? DEFAULT_PLAN_WAIT_MS) / 1000;
    if (version && options.kv.get(LAST_UPDATE_KEY) === `${options.component}:${version}`) {
      this.#finish(
        "current",
        `no plan offered within ${waited} s; ${version} is the target of the last plan installed here, and the platform offers nothing to a device at its plan's target`,
        options.once,
      );
      return;
    }
    this.#finish("no-plan", noPlanReason(options.component, version, waited), options.once);
  }

  #finish(status: DeviceStatus, reason: string, stopEngine: boolean): void {
    const result = this.#makeResult(status, reason);
    this.#result = result;
    this.#options.onOutcome?.(result);
    if (stopEngine) {
      this.#stopped = true;
      this.#engine?.stop();
    }
  }

  #makeResult(status: DeviceStatus, reason: string): DeviceResult {
    return {
      status,
      exitCode: EXIT_CODES[status],
      reason,
      runningVersion: this.#report?.running.version ?? "",
      targetVersion: this.#targetVersion,
      bytes: this.#bytes,
      seconds: Math.round(this.#options.clock.now() - this.#startedAt) / 1000,
      restarts: this.#restarts,
    };
  }
}
