// The SOTA engine: the MCU side of the QuecThing SOTA flow (reference §8), from connect to the confirmed
// new version, resumable after power cuts and module resets. Talks to the module only through the
// AT transport and to flash only through boot control.

import type { Clock, TimerHandle } from "../../hal/clock.js";
import type { KeyValueStore } from "../../hal/kv.js";
import type { SerialPort } from "../../hal/serial.js";
import type { SystemPort } from "../../hal/system.js";
import { AtTransport } from "../at/transport.js";
import type { AtResponse } from "../at/transport.js";
import type { BootControl } from "../boot/types.js";
import type { ImageDescriptor, ImageReceiver } from "../image/types.js";
import {
  AT,
  UpdateAction,
  parseOtaReadMax,
  parseQiotState,
  parseRegisterMode,
  parseSignal,
} from "../quecthing/commands.js";
import { decodeEvent, describeEvent } from "../quecthing/events.js";
import type { QuecEvent } from "../quecthing/events.js";
import { decidePlan } from "./policy.js";
import type { PlanOffer } from "./policy.js";
import { OtaRecordStore } from "./ota-record.js";
import type { OtaRecord, VersionHistory } from "./ota-record.js";
import { FlashError } from "../../hal/flash.js";

export interface SotaEngineConfig {
  /** Our component id, as the Developer Center knows it. */
  component: string;
  baud: number;
  /** Bytes the inactive slot can hold (the size gate). */
  slotSize: number;
  allowDowngrade?: boolean;
  /** How often to ask for a plan with AT+QIOTOTAREQ=1 (the platform also pushes every 10 min). */
  planIntervalMs?: number;
  /** Upper bound of one AT+QIOTOTARD read (the module's own maximum may be lower). */
  maxReadLength?: number;
  /** How long to wait for a 10700 after AT+QIOTOTAREQ=1 before reporting "no plan". */
  planWaitMs?: number;
  /** No 10701/10702/10703 for this long while downloading = a silent download failure (reference §6). */
  downloadStallMs?: number;
  /** From QIOTUPDATE=1 to the download information (the module gives up after 30 s). */
  downloadInfoWaitMs?: number;
  /** How long to wait for 3,10200 after AT+QIOTREG=1 before trying again. */
  connectTimeoutMs?: number;
  /** The Developer Center product's key and secret: set in the module at start-up when it holds others. */
  productKey?: string;
  productSecret?: string;
  /** Take differential packages as whole images for their source version (nothing here patches a delta). */
  acceptDifferential?: boolean;
  /** Failed downloads of one version after which its offers are refused (each try erases the slot). */
  maxFailures?: number;
  /** A trial image that has not confirmed within this time (no module, no connection) is rejected. */
  trialTimeoutMs?: number;
  /** NB-IoT module: hold UART sleep off (AT+QSCLK=0) so the first bytes after idle are not lost (§9.14). */
  nbIot?: boolean;
  /** The trial boot's health check; false rejects the new image and rolls back. */
  healthCheck?: () => boolean | Promise<boolean>;
}

export interface SotaEnginePorts {
  serial: SerialPort;
  clock: Clock;
  boot: BootControl;
  system: SystemPort;
  /** Where the engine keeps its OTA record; RAM if absent (then an MCU reset forgets the OTA in progress). */
  kv?: KeyValueStore;
}

export type SotaState =
  | "starting"
  | "connecting"
  | "online"
  | "requesting"
  | "no-plan"
  | "offered"
  | "refused"
  | "confirmed"
  | "downloading"
  | "reading"
  | "verifying"
  | "updating"
  | "activating"
  | "restarting"
  | "trial"
  | "reporting"
  | "updated"
  | "current"
  | "failed"
  | "stopped";

/** One progress report. The engine reuses the object: copy what you keep. */
export interface SotaProgress {
  state: SotaState;
  component: string;
  /** The version running now. */
  runningVersion: string;
  /** The version being installed, or "" outside an update. */
  targetVersion: string;
  bytes: number;
  total: number;
  percent: number;
  rateBytesPerSecond: number;
  /** Why the engine is in this state (refusal, failure, or what it is doing). */
  reason: string;
}

class ModuleReset extends Error {}
class EngineStopped extends Error {}
class OtaAborted extends Error {}

const MAX_QUEUED_EVENTS = 32;
const READ_ATTEMPTS = 8;

export class SotaEngine {
  onProgress: ((progress: SotaProgress) => void) | undefined;

  readonly #ports: SotaEnginePorts;
  readonly #clock: Clock;
  readonly #boot: BootControl;
  readonly #config: Required<Omit<SotaEngineConfig, "healthCheck" | "productKey" | "productSecret">> &
    Pick<SotaEngineConfig, "healthCheck" | "productKey" | "productSecret">;
  readonly #transport: AtTransport;
  readonly #records: OtaRecordStore;
  readonly #block: Uint8Array;
  readonly #progress: SotaProgress;
  readonly #events: QuecEvent[] = [];
  #wake: (() => void) | undefined;
  #moduleReset = false;
  #stopped = false;
  #running: Promise<void> | undefined;
  #planRequested = false;
  #readLength = 0;
  #receiver: ImageReceiver | undefined;
  #rateStart = 0;
  #trialTimer: TimerHandle | undefined;
  #rejection: Promise<void> | undefined;
  #rollbackHandled = false;
  // The piece whose window QIOTUPDATE=2 moved on: a late or repeated 10703 for it must not move it again.
  #advancedFrom = -1;
  readonly #sleepers = new Set<() => void>();
  #rateBytes = 0;

  constructor(ports: SotaEnginePorts, config: SotaEngineConfig) {
    this.#ports = ports;
    this.#clock = ports.clock;
    this.#boot = ports.boot;
    this.#config = {
      allowDowngrade: false,
      planIntervalMs: 3_600_000,
      maxReadLength: 1024,
      planWaitMs: 15_000,
      downloadStallMs: 15_000,
      downloadInfoWaitMs: 35_000,
      connectTimeoutMs: 60_000,
      acceptDifferential: false,
      maxFailures: 3,
      trialTimeoutMs: 600_000,
      nbIot: false,
      // A setting given as undefined keeps its default (an app passes its config object through).
      ...(Object.fromEntries(
        Object.entries(config).filter(([, value]) => value !== undefined),
      ) as SotaEngineConfig),
    };
    // After an MCU reset the module may still be answering the previous engine's last command.
    this.#transport = new AtTransport(ports.serial, ports.clock, { baud: config.baud, startQuietMs: 400 });
    this.#records = new OtaRecordStore(ports.kv ?? new Map<string, string>());
    this.#block = new Uint8Array(this.#config.maxReadLength);
    const running = this.#boot.report.running;
    this.#progress = {
      state: "starting",
      component: config.component,
      runningVersion: running.version,
      targetVersion: "",
      bytes: 0,
      total: 0,
      percent: 0,
      rateBytesPerSecond: 0,
      reason: "",
    };
    this.#transport.onUnsolicited((line) => this.#onLine(line));
    if (!ports.kv) {
      ports.system.log(
        "sota: WARNING no key-value store: an MCU reset during an OTA will report the version and can end it wrongly (§9.9)",
      );
    }
  }

  /** The latest progress (the same object the listener gets). */
  get progress(): Readonly<SotaProgress> {
    return this.#progress;
  }

  /** Runs start-up, then serves plans until stop() (or a restart into a new image). */
  start(): Promise<void> {
    this.#running ??= this.#main();
    return this.#running;
  }

  /** Asks the module for a plan now (AT+QIOTOTAREQ=1) instead of at the next scheduled time. */
  requestPlan(): void {
    this.#planRequested = true;
    this.#wake?.();
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#clock.clearTimer(this.#trialTimer);
    this.#trialTimer = undefined;
    for (const wake of this.#sleepers) wake();
    this.#transport.close();
    this.#wake?.();
  }

  // ---- main loop -------------------------------------------------------------------------------

  async #main(): Promise<void> {
    let failures = 0;
    while (!this.#stopped) {
      try {
        const restarting = await this.#startUp();
        if (restarting) return;
        failures = 0;
        await this.#serve();
      } catch (error) {
        if (error instanceof EngineStopped || this.#stopped) break;
        if (error instanceof ModuleReset) {
          this.#log("module restarted (RDY): running start-up again");
          continue;
        }
        failures++;
        const message = error instanceof Error ? error.message : String(error);
        this.#emit("failed", `engine error: ${message}`);
        await this.#sleep(Math.min(60_000, 1000 * 2 ** Math.min(failures, 6)));
      }
    }
    this.#emit("stopped", "");
  }

  /** Returns true when the engine handed over to a restart (a verified image left over from a power cut). */
  async #startUp(): Promise<boolean> {
    this.#moduleReset = false;
    if (this.#boot.report.trial && this.#trialTimer === undefined) {
      // A new image that cannot reach the module can never be updated again: that fails its trial too.
      this.#trialTimer = this.#clock.setTimer(() => {
        this.#rejection ??= this.#rejectTrial("no confirmed connection to the module in time", true);
      }, this.#config.trialTimeoutMs);
    }
    this.#emit("starting", "echo off, buffer mode");
    await this.#expectOk(AT.echoOff(), "ATE0", 5);
    const buffer = await this.#transport.send(AT.bufferMode(true));
    this.#check();
    // Some settings are refused while connected (a reset MCU finds the module online): the lexer honours
    // raw-byte downlink URCs by their length anyway, so this is not worth failing start-up for.
    if (buffer.final !== "OK")
      this.#log(`buffer mode answered ${buffer.final}: raw downlink URCs will be read by length`);
    if (this.#config.nbIot) await this.#transport.send(AT.sleepOff());
    await this.#configureProduct();
    await this.#connect();

    const report = this.#boot.report;
    const record = this.#records.load();
    const component = this.#config.component;
    this.#progress.runningVersion = report.running.version;

    if (report.trial) {
      // The trial boot of a new image: health check, confirm, then the version report ends the OTA with 10705.
      this.#emit("trial", `trial boot of ${report.running.version}`);
      const healthy = this.#config.healthCheck ? await this.#config.healthCheck() : true;
      // The trial timer may have rejected the image while the health check ran.
      if (this.#rejection) {
        await this.#rejection;
        return true;
      }
      this.#check();
      if (!healthy) {
        await (this.#rejection = this.#rejectTrial("health check failed", true));
        return true;
      }
      if (this.#events.some((e) => e.kind === "update-failed")) {
        // The module ended this OTA as failed (10706) before we confirmed: keep the platform and the device agreed.
        // Counted, not banned: the image did nothing wrong, but a module that keeps failing must not loop forever.
        const reason = "the module ended the OTA (10706) before the trial was confirmed";
        await (this.#rejection = this.#rejectTrial(reason, false));
        return true;
      }
      this.#clock.clearTimer(this.#trialTimer);
      this.#trialTimer = undefined;
      this.#boot.confirm();
      return this.#reportInstalled(report.running.version);
    }

    if (record && record.stage === "installing" && record.targetVersion === report.running.version) {
      // Confirmed before a reset could report it: the module is still UPDATING and waits for this report.
      return this.#reportInstalled(report.running.version);
    }

    const verified = report.slots.find((slot) => slot.state === "verified");
    if (verified) {
      if (
        record &&
        record.component === verified.component &&
        record.targetVersion === verified.version &&
        record.md5 === verified.md5
      ) {
        // A reset between verification and activation: the image is whole and checked, finish the job.
        this.#records.update({ stage: "installing" });
        const reply = await this.#transport.send(AT.update(UpdateAction.Updating));
        this.#check();
        if (reply.final !== "OK") {
          // The module no longer holds this OTA (it rebooted or gave up): the verified image stays uninstalled.
          this.#abandonVerified(`QIOTUPDATE=3 after a reset answered ${reply.final}`);
          await this.#reportVersion(report.running.version);
          this.#emit(
            "failed",
            `the module no longer holds the OTA of ${verified.version}; keeping ${report.running.version}`,
          );
          this.#emit("online", `running ${report.running.version}`);
          return false;
        }
        this.#boot.activate();
        this.#emit("restarting", `activating the verified ${verified.version} left by a reset`);
        this.#restart();
        return true;
      }
      this.#boot.abandonReceive("verified image without a matching OTA record");
    }

    if (record?.stage === "installing") {
      // Every live "installing" case returned above: this one outlived its image (a reset between two writes).
      this.#records.clear();
    }
    const rejected = this.#records.lastHistory();
    const notice = rejected && !rejected.announced ? rejected.rejectedReason || rejected.lastFailure : "";
    const pending = this.#records.load();
    if (report.rollbackReason !== "" && !this.#rollbackHandled) {
      this.#rollbackHandled = true;
      // Reporting the old version ends the module's OTA (10706) instead of leaving it UPDATING for 20 min.
      // Not remembered as rejected: an unconfirmed trial may be a power cut, and the next offer deserves a try.
      this.#records.clear();
      await this.#reportVersion(report.running.version);
      this.#emit("failed", `rolled back to ${report.running.version}: ${report.rollbackReason}`);
    } else if (rejected && notice !== "") {
      await this.#reportVersion(report.running.version);
      this.#records.saveHistory({ ...rejected, announced: true });
      this.#emit(
        "failed",
        `${rejected.version} ${rejected.rejectedReason ? "rejected" : "not kept"} (${notice}): rolled back to ${report.running.version}`,
      );
    } else if (pending && pending.component === component && pending.stage !== "stalled") {
      // An OTA is in progress at the module: a version report now would abort it (reference §9.9).
      this.#log(`OTA of ${pending.targetVersion} in progress (${pending.stage}): version report held back`);
    } else {
      await this.#reportVersion(report.running.version);
    }

    this.#receiver = this.#boot.resumeReceive();
    if (this.#receiver) {
      this.#log(
        `resumable image ${this.#receiver.descriptor.version}: ${this.#receiver.received} bytes verified`,
      );
    }
    this.#emit("online", `running ${report.running.version}`);
    return false;
  }

  /** Rejects the running trial image and restarts into the confirmed one, telling the module first. */
  async #rejectTrial(reason: string, remember: boolean): Promise<void> {
    if (this.#stopped) return;
    this.#clock.clearTimer(this.#trialTimer);
    this.#trialTimer = undefined;
    const report = this.#boot.report;
    const history = this.#records.history(this.#config.component, report.running.version);
    // The history is written first: a power cut after the rejection must still remember it.
    this.#records.saveHistory(
      remember
        ? { ...history, rejectedReason: reason, announced: false }
        : { ...history, failures: history.failures + 1, lastFailure: reason, announced: false },
    );
    // The OTA record goes before the boot record: an "installing" record must never outlive its image.
    this.#records.clear();
    this.#boot.reject(reason);
    // The module is UPDATING: the old version's report ends its OTA now (10706), not after 20 minutes.
    const fallback = report.slots.find((slot) => slot.state === "confirmed");
    if (fallback && this.#transport.quiet) {
      try {
        await this.#reportVersion(fallback.version);
      } catch {
        // A module that does not answer learns it at the next start-up's report.
      }
    }
    this.#emit("restarting", `${reason}: rolling back`);
    this.#restart();
  }

  /** The new image runs confirmed: its version report ends the module's OTA with 10705. */
  async #reportInstalled(version: string): Promise<false> {
    let done: QuecEvent | undefined;
    // A report lost on the line leaves the module UPDATING for 20 minutes: repeat it until 10705 or 10706.
    for (let round = 0; round < 3 && !done; round++) {
      await this.#reportVersion(version);
      done = await this.#waitFor((e) => e.kind === "update-succeeded" || e.kind === "update-failed", 10_000);
    }
    this.#records.clear();
    this.#progress.targetVersion = version;
    this.#emit(
      "updated",
      done?.kind === "update-failed" ? "confirmed; the module reported 10706" : `running ${version}`,
    );
    return false;
  }

  /** Counts a failed download of the record's version: after maxFailures its offers are refused. */
  #countFailure(record: OtaRecord): void {
    const history: VersionHistory = this.#records.history(record.component, record.targetVersion);
    this.#records.saveHistory({ ...history, failures: history.failures + 1 });
  }

  async #serve(): Promise<void> {
    let nextPlanAt = this.#clock.now();
    let planDeadline = 0;
    let offerDeadline = 0;
    const offers: PlanOffer[] = [];
    const pending = this.#records.load();
    // After a reset mid-OTA the module may still be downloading; silence means it gave up.
    let stallDeadline =
      pending && pending.stage !== "stalled" && pending.stage !== "installing"
        ? this.#clock.now() + this.#config.downloadInfoWaitMs
        : 0;
    for (;;) {
      this.#check();
      const now = this.#clock.now();
      if (this.#planRequested || now >= nextPlanAt) {
        this.#planRequested = false;
        nextPlanAt = now + this.#config.planIntervalMs;
        const active = this.#records.load();
        if (!active || active.stage === "stalled") {
          this.#emit("requesting", "AT+QIOTOTAREQ=1");
          const reply = await this.#transport.send(AT.otaRequest(true));
          if (reply.final === "OK") planDeadline = this.#clock.now() + this.#config.planWaitMs;
          else await this.#connect();
        }
        continue;
      }
      const deadlines = [nextPlanAt, planDeadline, offerDeadline, stallDeadline].filter((t) => t > 0);
      const event = await this.#waitFor(() => true, Math.max(0, Math.min(...deadlines) - now), true);
      this.#check();
      const time = this.#clock.now();
      if (!event) {
        if (offerDeadline > 0 && time >= offerDeadline) {
          offerDeadline = 0;
          planDeadline = 0;
          stallDeadline = (await this.#decide(offers.splice(0))) ? time + this.#config.downloadInfoWaitMs : 0;
        } else if (planDeadline > 0 && time >= planDeadline) {
          planDeadline = 0;
          this.#emit("no-plan", "no plan offered");
        } else if (stallDeadline > 0 && time >= stallDeadline) {
          stallDeadline = 0;
          // Silent download failure (reference §6): keep the verified prefix, wait for the next offer.
          this.#records.update({ stage: "stalled" });
          this.#emit(
            "failed",
            "download stalled: no 10702/10703 from the module; waiting for the next offer",
          );
        }
        continue;
      }
      switch (event.kind) {
        case "plan":
          // Offers of one plan come back to back; collect them so a multi-component plan is judged whole.
          if (offers.length === 0) offerDeadline = time + 300;
          offers.push(event);
          planDeadline = 0;
          break;
        case "download-start":
          if (this.#bindDownload(event)) stallDeadline = time + this.#config.downloadStallMs;
          break;
        case "downloading": {
          const record = this.#records.load();
          // A stalled record is not revived by a bare 10702: it carries no component (a FOTA download prints it too).
          if (
            record?.component === this.#config.component &&
            record.stage !== "installing" &&
            record.stage !== "stalled"
          ) {
            // The record changes only when the stage does: 10702 repeats every few seconds.
            if (record.stage !== "downloading") {
              this.#records.update({ stage: "downloading" });
              this.#emit("downloading", "the module is downloading");
            }
            stallDeadline = time + this.#config.downloadStallMs;
          }
          break;
        }
        case "piece":
          stallDeadline = 0;
          if (event.component !== this.#config.component) {
            this.#log(`piece for another component ignored: ${describeEvent(event)}`);
            break;
          }
          try {
            const next = await this.#handlePiece(event.fileSize, event.pieceStart, event.pieceLength);
            if (next === "restart") return;
            if (next === "next-piece") stallDeadline = this.#clock.now() + this.#config.downloadStallMs;
          } catch (error) {
            if (!(error instanceof OtaAborted)) throw error;
          }
          break;
        case "update-failed":
          stallDeadline = 0;
          this.#failOta("the module reported failure (10706)");
          break;
        case "qiot":
          // 6,10200 is a successful deregistration, but it leaves us offline all the same.
          if ((!event.ok && event.type === 2) || event.type === 6) {
            this.#log(`connection lost: ${describeEvent(event)}`);
            await this.#connect();
          }
          break;
        case "unknown":
          if (/^\+QIOTEVT:\s*7,10700\b/.test(event.line)) {
            // An offer we cannot read must still be answered, or the module waits in REVICEPLAN.
            planDeadline = 0;
            this.#emit("offered", event.line);
            await this.#transport.send(AT.update(UpdateAction.Refuse));
            this.#check();
            this.#emit("refused", `unreadable offer (${event.reason})`);
          } else this.#log(`event: ${describeEvent(event)}`);
          break;
        default:
          // 10705 of another component, 10704, +QIND and the like: nothing of ours changes.
          this.#log(`event: ${describeEvent(event)}`);
      }
    }
  }

  // ---- start-up steps ----------------------------------------------------------------------------

  async #connect(): Promise<void> {
    let attempt = 0;
    for (;;) {
      this.#check();
      this.#emit(
        "connecting",
        attempt === 0 ? "AT+QIOTSTATE?, then AT+QIOTREG=1 if offline" : `retry ${attempt}`,
      );
      const state = await this.#transport.send(AT.stateQuery());
      this.#check();
      if (parseQiotState(state.lines) === 8) break;
      // Mode 2 (connect at every power-on) is saved in the module: QIOTREG=1 would overwrite it.
      const mode = await this.#transport.send(AT.registerQuery());
      this.#check();
      const automatic = attempt === 0 && parseRegisterMode(mode.lines) === 2;
      const reply = automatic ? mode : await this.#transport.send(AT.register(1));
      this.#check();
      let failure = reply.final === "OK" ? "" : `AT+QIOTREG=1 answered ${reply.final}`;
      if (!failure) {
        const event = await this.#waitFor(
          (e) =>
            e.kind === "qiot" && (e.type === 1 || e.type === 2 || e.type === 3) && (!e.ok || e.type === 3),
          this.#config.connectTimeoutMs,
        );
        this.#check();
        if (event?.kind === "qiot" && event.ok) break;
        if (event?.kind === "qiot") {
          const what = event.type === 1 ? "authentication" : event.type === 2 ? "access" : "subscription";
          failure = `${what} failed: ${event.code}${event.meaning ? " " + event.meaning : ""}`;
        } else {
          const check = await this.#transport.send(AT.stateQuery());
          this.#check();
          if (parseQiotState(check.lines) === 8) break;
          failure = "no 3,10200 from the module";
        }
      }
      attempt++;
      const backoff = Math.min(300_000, 5000 * 2 ** Math.min(attempt - 1, 6));
      this.#emit("connecting", `${failure}; retrying in ${Math.round(backoff / 1000)} s`);
      await this.#sleep(backoff);
    }
  }

  async #configureProduct(): Promise<void> {
    const { productKey, productSecret } = this.#config;
    if (!productKey || !productSecret) return;
    const current = await this.#transport.send(AT.productInfoQuery());
    this.#check();
    if (current.lines.some((line) => line.includes(`"${productKey}"`) || line.includes(`,${productKey},`)))
      return;
    // Saved in the module: normally this happens once per module, on the first start-up.
    const reply = await this.#transport.send(AT.productInfo(productKey, productSecret));
    this.#check();
    if (reply.final !== "OK")
      this.#log(`product info answered ${reply.final} (send AT+QIOTREG=0 first if connected)`);
  }

  async #reportVersion(version: string): Promise<boolean> {
    if (version === "") {
      // An empty version deletes the component in the module (§2): then no plan would ever match.
      this.#log("running version unknown (no boot record): not reported");
      return false;
    }
    this.#emit("reporting", `AT+QIOTMCUVER ${this.#config.component} ${version}`);
    // Without a stored version no plan matches (§2), and in UPDATING only this report ends the OTA: retry it.
    for (let attempt = 1; ; attempt++) {
      const reply = await this.#transport.send(AT.mcuVersion(this.#config.component, version));
      this.#check();
      if (reply.final === "OK") return true;
      this.#log(`version report answered ${reply.final} (attempt ${attempt})`);
      if (attempt === 3) return false;
      await this.#sleep(1000 * attempt);
      this.#check();
    }
  }

  // ---- plans -------------------------------------------------------------------------------------

  /** Confirms or refuses the offers of one plan; returns true if we confirmed. */
  async #decide(offers: PlanOffer[]): Promise<boolean> {
    if (offers.length === 0) return false;
    // The module offers nothing while its own OTA is active (§9.12), so an offer means it is idle again.
    const previous = this.#records.load();
    const ours = offers.find((offer) => offer.component === this.#config.component);
    const offer = ours ?? offers[0]!;
    // QIOTUPDATE=1 confirms the whole task (§9a): a component we do not handle would fail it at its first 10703.
    const foreign = offers.find((other) => other.component !== this.#config.component);
    this.#progress.targetVersion = offer.targetVersion;
    this.#progress.total = offer.space;
    this.#emit(
      "offered",
      `${offer.component} ${offer.sourceVersion || "(full)"} -> ${offer.targetVersion}, ${offer.space} bytes`,
    );
    const signal = await this.#transport.send(AT.signalQuery());
    this.#check();
    const decision = decidePlan(ours && foreign ? foreign : offer, {
      component: this.#config.component,
      runningVersion: this.#boot.report.running.version,
      allowDowngrade: this.#config.allowDowngrade,
      batteryPercent: this.#ports.system.batteryPercent(),
      signalDbm: parseSignal(signal.lines)?.dbm,
      slotSize: this.#config.slotSize,
      acceptDifferential: this.#config.acceptDifferential,
      history: this.#records.history(offer.component, offer.targetVersion),
      maxFailures: this.#config.maxFailures,
    });
    if (!decision.accept) {
      await this.#transport.send(AT.update(UpdateAction.Refuse));
      this.#check();
      const current =
        decision.code === "not-newer" && offer.targetVersion === this.#boot.report.running.version;
      this.#emit(current ? "current" : "refused", decision.reason);
      // The module offers only when idle (§9.12): an OTA the record still calls in progress is over.
      this.#markStalled(previous);
      return false;
    }
    // A retried download of the same plan may bring 10702 without 10701 (§9.8): keep that plan's digests.
    const samePlan =
      previous !== undefined &&
      previous.component === offer.component &&
      previous.targetVersion === offer.targetVersion;
    // Written before the confirm goes out: from then on a version report would be compared with the old target.
    this.#records.save({
      component: offer.component,
      sourceVersion: offer.sourceVersion,
      targetVersion: offer.targetVersion,
      stage: "confirming",
      size: samePlan ? previous.size : 0,
      md5: samePlan ? previous.md5 : "",
      sha256: samePlan ? previous.sha256 : "",
      crc: samePlan ? previous.crc : 0,
    });
    // 10700 is printed before the module records the plan: an immediate confirm can get ERROR (§9a).
    let reply = await this.#transport.send(AT.update(UpdateAction.Confirm));
    this.#check();
    if (reply.final === "ERROR" || reply.final === "CME ERROR") {
      await this.#sleep(1000);
      reply = await this.#transport.send(AT.update(UpdateAction.Confirm));
      this.#check();
    }
    if (reply.final === "ERROR" || reply.final === "CME ERROR") {
      // A definite no: the module has no plan to download, so nothing is in progress.
      if (previous) this.#records.save({ ...previous, stage: "stalled" });
      else this.#records.clear();
      this.#emit("failed", `the module did not take the confirm (${reply.final})`);
      return false;
    }
    // A timed-out confirm may still have been taken: the record stays, and silence will mark it stalled.
    this.#records.update({ stage: "confirmed" });
    // A new download cycle: its pieces and the module's read length are learned afresh.
    this.#advancedFrom = -1;
    this.#readLength = 0;
    this.#emit("confirmed", decision.reason);
    return true;
  }

  #markStalled(record: OtaRecord | undefined): void {
    if (record && record.stage !== "stalled") this.#records.save({ ...record, stage: "stalled" });
  }

  /** Binds a 10701's digests to the confirmed plan; false if the download is not ours. */
  #bindDownload(event: Extract<QuecEvent, { kind: "download-start" }>): boolean {
    const record = this.#records.load();
    if (event.component !== this.#config.component || !record || record.component !== event.component) {
      this.#log(`download information without a plan of ours ignored: ${describeEvent(event)}`);
      return false;
    }
    if (record.md5 !== "" && (record.md5 !== event.md5 || record.size !== event.size)) {
      // Other digests for the same plan: another package came without a 10700 (§9.8). Do not guess.
      this.#log(`download information for another file than the plan's (${describeEvent(event)}): not bound`);
      this.#records.clear();
      return false;
    }
    if (event.size > this.#config.slotSize) {
      this.#records.clear();
      this.#emit(
        "failed",
        `image of ${event.size} bytes does not fit the ${this.#config.slotSize}-byte slot`,
      );
      return false;
    }
    this.#records.update({
      stage: "downloading",
      size: event.size,
      md5: event.md5,
      sha256: event.sha256,
      crc: event.crc,
    });
    this.#advancedFrom = -1;
    this.#readLength = 0;
    this.#progress.total = event.size;
    this.#emit(
      "downloading",
      `${event.size} bytes, md5 ${event.md5}${event.sha256 ? ", sha256 " + event.sha256 : ""}`,
    );
    return true;
  }

  // ---- download --------------------------------------------------------------------------------

  async #handlePiece(
    fileSize: number,
    pieceStart: number,
    pieceLength: number,
  ): Promise<"next-piece" | "done" | "restart"> {
    const record = this.#bindFromJournal(fileSize);
    if (!record || record.size !== fileSize || record.md5 === "") {
      // No digests bound to this size: never guess. Reporting the running version ends the OTA (10706).
      this.#log(`piece of a ${fileSize}-byte file without matching download information`);
      this.#records.clear();
      await this.#reportVersion(this.#boot.report.running.version);
      this.#emit("failed", "download information missing or for another file: aborted");
      throw new OtaAborted();
    }
    const descriptor: ImageDescriptor = {
      component: record.component,
      version: record.targetVersion,
      size: record.size,
      md5: record.md5,
      sha256: record.sha256,
      crc: record.crc,
    };
    const pieceEnd = pieceStart + pieceLength;
    if (pieceStart === this.#advancedFrom) {
      // A late or repeated 10703 for the piece we already moved past: a second QIOTUPDATE=2 would skip one.
      this.#log(`10703 for the piece at ${pieceStart} again: ignored`);
      return "next-piece";
    }
    // Reads from here on: a reset must still find "an OTA is in progress" (no version report, §9.9).
    if (record.stage !== "downloading") this.#records.update({ stage: "downloading" });
    let receiver: ImageReceiver;
    try {
      receiver = this.#receiverFor(descriptor);
      if (receiver.received < pieceStart) {
        // A reset lost part of the previous piece (the journal keeps whole sectors): the module must start
        // over, and the verified part stays. Clearing the record first keeps the 10706 from counting a failure.
        this.#records.clear();
        await this.#reportVersion(this.#boot.report.running.version);
        this.#emit(
          "failed",
          `piece at ${pieceStart}, but ${receiver.received} bytes verified here: starting over later`,
        );
        throw new OtaAborted();
      }
      this.#emit("reading", `piece ${pieceStart}+${pieceLength}`);
      this.#rateStart = this.#clock.now();
      this.#rateBytes = 0;
      await this.#readWindow(receiver, pieceEnd);
    } catch (error) {
      // Flash or bounds trouble is this image's end, not the engine's: the running image is untouched.
      if (!(error instanceof FlashError || error instanceof RangeError)) throw error;
      this.#boot.abandonReceive(`flash: ${error.message}`);
      this.#receiver = undefined;
      this.#countFailure(record);
      this.#records.clear();
      await this.#reportVersion(this.#boot.report.running.version);
      this.#emit("failed", `writing the image failed: ${error.message}`);
      throw new OtaAborted();
    }

    if (pieceEnd < fileSize) {
      // Moving the window with QIOTUPDATE=2 makes reads stale until the next 10703 (§9a): no reads until then.
      this.#advancedFrom = pieceStart;
      let reply = await this.#transport.send(AT.update(UpdateAction.NextPiece));
      this.#check();
      if (reply.final === "TIMEOUT") {
        // The module prints 10702 at once when it takes the command; resend only if nothing shows it did,
        // since a second one after the next piece arrived would skip that piece.
        await this.#sleep(2000);
        this.#check();
        if (!this.#events.some((e) => e.kind === "downloading" || e.kind === "piece")) {
          reply = await this.#transport.send(AT.update(UpdateAction.NextPiece));
          this.#check();
        }
      }
      if (reply.final !== "OK") this.#log(`QIOTUPDATE=2 answered ${reply.final}`);
      this.#emit("downloading", "next piece");
      return "next-piece";
    }
    return this.#finish(receiver);
  }

  /** The OTA record, completed from the resume journal when the module skipped 10701 for the same plan. */
  #bindFromJournal(fileSize: number): OtaRecord | undefined {
    const record = this.#records.load();
    const partial = this.#receiver?.descriptor;
    if (record && record.md5 === "" && partial && partial.size === fileSize) {
      if (partial.component === record.component && partial.version === record.targetVersion) {
        this.#records.update({
          size: partial.size,
          md5: partial.md5,
          sha256: partial.sha256,
          crc: partial.crc,
          stage: "downloading",
        });
      }
    }
    return this.#records.load();
  }

  #receiverFor(descriptor: ImageDescriptor): ImageReceiver {
    const current = this.#receiver;
    if (current && sameImage(current.descriptor, descriptor)) return current;
    if (current) this.#log(`partial image ${current.descriptor.version} replaced by ${descriptor.version}`);
    this.#receiver = this.#boot.startReceive(descriptor);
    return this.#receiver;
  }

  async #readWindow(receiver: ImageReceiver, pieceEnd: number): Promise<void> {
    const block = this.#block;
    if (this.#readLength === 0) this.#readLength = await this.#queryReadLength();
    let attempts = 0;
    while (receiver.received < pieceEnd) {
      const offset = receiver.received;
      const want = Math.min(this.#readLength, pieceEnd - offset);
      // Flash work only while the line is quiet: erase what this read needs before asking for it.
      while (receiver.eraseStep(offset + want)) this.#check();
      const reply = await this.#transport.readOta(offset, want, block);
      this.#check();
      this.#checkOtaEvents();
      const usable = !reply.headerMismatch && !reply.framingError;
      if (reply.final === "OK" && usable && reply.length > 0 && reply.start === offset) {
        receiver.write(block, reply.length);
        attempts = 0;
        this.#rateBytes += reply.length;
        this.#emitBytes(receiver.received);
        continue;
      }
      attempts++;
      const why =
        reply.final !== "OK"
          ? reply.final
          : reply.headerMismatch
            ? `header ${reply.start},${reply.length} for ${offset},${want}`
            : reply.framingError
              ? "payload framing (a byte lost or doubled)"
              : "no data";
      if (attempts >= READ_ATTEMPTS) {
        // Keep the verified prefix: the module will time out (10706) or re-offer, and we resume from here.
        this.#records.update({ stage: "stalled" });
        this.#emit(
          "failed",
          `read at ${offset} failed ${attempts} times (${why}); waiting for the next offer`,
        );
        throw new OtaAborted();
      }
      // An ERROR may mean "longer than the module's maximum" (reference §5): retry shorter, and keep it.
      if (reply.final === "ERROR" && this.#readLength > 1)
        this.#readLength = Math.max(1, this.#readLength >> 1);
      this.#log(`read at ${offset} failed (${why}); attempt ${attempts + 1}`);
      await this.#sleep(Math.min(8000, 250 * 2 ** (attempts - 1)));
    }
  }

  async #queryReadLength(): Promise<number> {
    const reply = await this.#transport.send(AT.otaReadTest());
    this.#check();
    const max = reply.final === "OK" ? parseOtaReadMax(reply.lines) : undefined;
    return Math.max(1, Math.min(max ?? 1024, this.#block.length));
  }

  async #finish(receiver: ImageReceiver): Promise<"done" | "restart"> {
    this.#emit("verifying", "MD5 and SHA-256");
    const verdict = receiver.finish();
    if (!verdict.ok) {
      this.#boot.abandonReceive(`verification failed: ${verdict.reason}`);
      this.#receiver = undefined;
      const record = this.#records.load();
      if (record) this.#countFailure(record);
      this.#records.clear();
      // Never report the target version for a bad image: the old version ends the OTA with 10706.
      await this.#reportVersion(this.#boot.report.running.version);
      this.#emit(
        "failed",
        `image rejected: ${verdict.reason} mismatch; keeping ${this.#boot.report.running.version}`,
      );
      return "done";
    }
    // The "installing" record lets a reset between here and activation finish the activation.
    this.#records.update({ stage: "installing" });
    let reply = await this.#transport.send(AT.update(UpdateAction.Updating));
    this.#check();
    // A repeated QIOTUPDATE=3 in UPDATING answers OK and changes nothing (§9a): safe after a lost reply.
    if (reply.final === "TIMEOUT") reply = await this.#transport.send(AT.update(UpdateAction.Updating));
    this.#check();
    const updating =
      reply.final === "OK"
        ? await this.#waitFor((e) => e.kind === "updating" || e.kind === "update-failed", 5000)
        : undefined;
    if (reply.final !== "OK" || updating?.kind === "update-failed") {
      // The module's OTA is over (10706, a reboot, a timeout): installing now would leave the platform saying failed.
      const why =
        reply.final !== "OK"
          ? `QIOTUPDATE=3 answered ${reply.final}`
          : "the module reported failure (10706) at QIOTUPDATE=3";
      this.#abandonVerified(why);
      await this.#reportVersion(this.#boot.report.running.version);
      this.#emit("failed", `${why}; keeping ${this.#boot.report.running.version}`);
      return "done";
    }
    this.#emit("activating", `${verdict.sha256 || verdict.md5}`);
    this.#boot.activate();
    this.#receiver = undefined;
    this.#emit("restarting", "booting the new image on trial");
    this.#restart();
    return "restart";
  }

  /** Drops a verified image the module will not see installed, and counts it against its version. */
  #abandonVerified(reason: string): void {
    const record = this.#records.load();
    if (record) this.#countFailure(record);
    // The OTA record goes before the image: a verified image without a record is dropped at start-up.
    this.#records.clear();
    this.#boot.abandonReceive(reason);
    this.#receiver = undefined;
  }

  /** Ends the current OTA after a failure; the verified prefix stays for a resume of the same image. */
  #failOta(reason: string): void {
    this.#advancedFrom = -1;
    const record = this.#records.load();
    if (!record) return;
    this.#countFailure(record);
    this.#records.clear();
    this.#emit("failed", reason);
  }

  /** Between reads: a 10706 ends this piece. A lost connection does not: the piece is in module flash already. */
  #checkOtaEvents(): void {
    const index = this.#events.findIndex(isUpdateFailed);
    if (index < 0) return;
    // Taken from the queue here, so the main loop does not end (and count) the same OTA a second time.
    this.#events.splice(index, 1);
    this.#failOta("download interrupted: the module reported failure (10706)");
    throw new OtaAborted();
  }

  #restart(): void {
    this.stop();
    this.#ports.system.restart();
  }

  // ---- events, time, progress ------------------------------------------------------------------

  #onLine(line: string): void {
    const event = decodeEvent(line);
    if (event.kind === "ready") {
      // Nothing queued before a module reboot is still true after it (its plan and piece are gone).
      this.#events.length = 0;
      this.#moduleReset = true;
    } else if (isEngineEvent(event)) {
      if (this.#events.length >= MAX_QUEUED_EVENTS) this.#events.shift();
      this.#events.push(event);
    } else {
      this.#log(`event: ${describeEvent(event)}`);
    }
    this.#wake?.();
  }

  /** The first queued event matching `accept` (others stay queued), or undefined after `timeoutMs`. */
  async #waitFor(
    accept: (event: QuecEvent) => boolean,
    timeoutMs: number,
    interruptible = false,
  ): Promise<QuecEvent | undefined> {
    const deadline = this.#clock.now() + timeoutMs;
    for (;;) {
      this.#check();
      const index = this.#events.findIndex(accept);
      if (index >= 0) return this.#events.splice(index, 1)[0];
      const left = deadline - this.#clock.now();
      if (left <= 0 || (interruptible && this.#planRequested)) return undefined;
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

  /** Resolves after `ms`, or at once when the engine stops (callers check #check() after it). */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        this.#sleepers.delete(wake);
        this.#clock.clearTimer(timer);
        resolve();
      };
      const timer = this.#clock.setTimer(wake, ms);
      this.#sleepers.add(wake);
    });
  }

  async #expectOk(command: string, what: string, attempts: number): Promise<AtResponse> {
    let reply: AtResponse | undefined;
    for (let i = 0; i < attempts; i++) {
      reply = await this.#transport.send(command);
      if (this.#stopped) throw new EngineStopped();
      if (reply.final === "OK") return reply;
      await this.#sleep(500 * (i + 1));
    }
    throw new Error(`${what}: the module answered ${reply?.final ?? "nothing"}`);
  }

  #check(): void {
    if (this.#stopped) throw new EngineStopped();
    if (this.#moduleReset) throw new ModuleReset();
  }

  #emit(state: SotaState, reason: string): void {
    const p = this.#progress;
    p.state = state;
    p.reason = reason;
    p.runningVersion = this.#boot.report.running.version;
    if (state !== "reading") this.#log(`${state}${reason ? ": " + reason : ""}`);
    this.onProgress?.(p);
  }

  #emitBytes(bytes: number): void {
    const p = this.#progress;
    p.bytes = bytes;
    p.percent = p.total > 0 ? Math.floor((bytes * 100) / p.total) : 0;
    const elapsed = this.#clock.now() - this.#rateStart;
    p.rateBytesPerSecond = elapsed > 0 ? Math.round((this.#rateBytes * 1000) / elapsed) : 0;
    p.state = "reading";
    this.onProgress?.(p);
  }

  #log(message: string): void {
    this.#ports.system.log(`sota: ${message}`);
  }
}

// Module level: called between every two reads, so no closure is made per block.
function isUpdateFailed(event: QuecEvent): boolean {
  return event.kind === "update-failed";
}

/** OTA events, connection events (types 1, 2, 3, 6) and unreadable offers: uplink/downlink news stays out of the queue. */
function isEngineEvent(event: QuecEvent): boolean {
  if (event.kind === "qiot")
    return event.type === 1 || event.type === 2 || event.type === 3 || event.type === 6;
  if (event.kind === "unknown") return /^\+QIOTEVT:\s*7,10700\b/.test(event.line);
  return event.kind !== "qind";
}

function sameImage(a: ImageDescriptor, b: ImageDescriptor): boolean {
  return (
    a.component === b.component &&
    a.version === b.version &&
    a.size === b.size &&
    a.md5.toLowerCase() === b.md5.toLowerCase() &&
    a.sha256.toLowerCase() === b.sha256.toLowerCase()
  );
}

export type { OtaRecord };
