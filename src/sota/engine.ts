// The SOTA engine: the MCU side of the QuecThing SOTA flow (docs/protocol.md §8), from connect to the
// confirmed new version, resumable after power cuts and resets. This file is the loop; each phase has its
// own file (startup, offers, download, finish), and resume.ts says what a restart does from each record.

import type { Clock } from "../../hal/clock.js";
import type { DigestFactory } from "../../hal/digest.js";
import type { FlashPartition } from "../../hal/flash.js";
import type { KeyValueStore } from "../../hal/kv.js";
import type { SystemPort } from "../../hal/system.js";
import type { BootControl } from "../boot/types.js";
import { checkComponents } from "../components/config.js";
import { ComponentSet } from "../components/set.js";
import { ClientStopped, ModuleRestarted, isUnreadableOffer } from "../quecthing/client.js";
import type { ModuleClient } from "../quecthing/client.js";
import { describeEvent } from "../quecthing/events.js";
import { resolveConfig } from "./config.js";
import type { SotaEngineConfig } from "./config.js";
import type { PackageVerifier } from "../package/verifier.js";
import { OtaAborted, newSession } from "./context.js";
import type { EngineContext } from "./context.js";
import { eraseAhead, eraseAheadAt, handlePiece, noteFetchStart } from "./download.js";
import { failOta } from "./finish.js";
import { bindDownload, decide, noteDownloading, refuseUnreadable } from "./offers.js";
import { NO_WINDOW, OtaRecordStore } from "./ota-record.js";
import type { PlanOffer } from "./policy.js";
import { ProgressReporter } from "./progress.js";
import type { SotaProgress } from "./progress.js";
import { resumeWaitMs, resumeWindow } from "./resume.js";
import { reportVersion } from "./report.js";
import { closeCycle, followTask } from "./set-cycle.js";
import { connect, startUp } from "./startup.js";

export type { SotaEngineConfig } from "./config.js";
export type { SotaProgress, SotaState } from "./progress.js";

export interface SotaEnginePorts {
  /** The module client on the module's UART (made with the line's baud rate). */
  client: ModuleClient;
  clock: Clock;
  boot: BootControl;
  system: SystemPort;
  /** Where the engine keeps its OTA record: what it holds is the engine's state after a reset. */
  kv: KeyValueStore;
  /**
   * Signed packages (docs/signed-packages.md): each package's signature, version and security counter are
   * checked before activation, and one that fails is refused like a digest mismatch. Absent: not checked.
   */
  packages?: PackageVerifier;
  /** Flash areas of data and mod components, by the names their config gives (`components`). */
  areas?: Record<string, FlashPartition>;
  /** Digests for differential packages and for data and mod downloads (the image's are boot control's own). */
  digests?: DigestFactory;
}

/** Offers of one task come back to back: the task is whole once the line is this quiet after one (docs/protocol.md §13, decision 64). */
function offerGapMs(client: ModuleClient): number {
  return Math.max(20, client.lineTimeMs(32));
}

export class SotaEngine {
  readonly #ctx: EngineContext;
  readonly #block: Uint8Array;
  #running: Promise<void> | undefined;
  #planRequested = false;
  #stopped = false;

  constructor(ports: SotaEnginePorts, config: SotaEngineConfig) {
    const resolved = resolveConfig(config);
    const progress = new ProgressReporter(
      resolved.component,
      ports.clock,
      ports.system,
      () => ports.boot.report.running.version,
    );
    ports.client.onLog = (message) => progress.log(message);
    let set: ComponentSet | undefined;
    if (resolved.components && resolved.components.length > 0) {
      if (!ports.digests) throw new Error("components need the digests port");
      set = new ComponentSet({
        kv: ports.kv,
        boot: ports.boot,
        areas: ports.areas ?? {},
        digests: ports.digests,
        components: checkComponents(resolved.components, resolved.component, ports.areas ?? {}),
        slotSize: resolved.slotSize,
        log: (message) => progress.log(message),
      });
    }
    const records = new OtaRecordStore(ports.kv);
    this.#ctx = {
      client: ports.client,
      boot: set ? set.boot : ports.boot,
      records,
      set,
      config: resolved,
      clock: ports.clock,
      system: ports.system,
      progress,
      packages: ports.packages,
      digests: ports.digests,
      session: newSession(),
      restart: () => {
        // A staged member that is not the set's last closes its cycle instead (set-cycle.ts).
        if (set?.pendingClose) return;
        this.stop();
        ports.system.restart();
      },
    };
    // Before the app runs anything of a component: the set in the records is settled (old set or new, never a mix).
    const settled = set?.settle(() => records.clear());
    if (settled) progress.log(settled);
    // Two reads' worth: one read is written to flash while the next one is on the line (download.ts).
    this.#block = new Uint8Array(2 * resolved.maxReadLength);
  }

  /** Called with every progress report (the same object each time: copy what you keep). */
  get onProgress(): ((progress: SotaProgress) => void) | undefined {
    return this.#ctx.progress.onProgress;
  }

  set onProgress(listener: ((progress: SotaProgress) => void) | undefined) {
    this.#ctx.progress.onProgress = listener;
  }

  /** The latest progress (the same object the listener gets). */
  get progress(): Readonly<SotaProgress> {
    return this.#ctx.progress.progress;
  }

  /** Runs start-up, then serves plans until stop() (or a restart into a new image). */
  start(): Promise<void> {
    this.#running ??= this.#main();
    return this.#running;
  }

  /** Asks the module for a plan now (AT+QIOTOTAREQ=1) instead of at the next scheduled time. */
  requestPlan(): void {
    this.#planRequested = true;
    this.#ctx.client.interrupt();
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#ctx.clock.clearTimer(this.#ctx.session.trialTimer);
    this.#ctx.session.trialTimer = undefined;
    this.#ctx.client.stop();
  }

  async #main(): Promise<void> {
    const { client, progress } = this.#ctx;
    let failures = 0;
    while (!this.#stopped) {
      try {
        const restarting = await startUp(this.#ctx);
        if (restarting) return;
        failures = 0;
        await this.#serve();
      } catch (error) {
        if (error instanceof ClientStopped || this.#stopped) break;
        if (error instanceof ModuleRestarted) {
          progress.log("module restarted (RDY): running start-up again");
          // A module reboot loses its piece window (docs/protocol.md §9a): nothing to resume reading in.
          const record = this.#ctx.records.load();
          if (record && (record.pieceLength > 0 || record.advancing)) this.#ctx.records.update(NO_WINDOW);
          continue;
        }
        failures++;
        const message = error instanceof Error ? error.message : String(error);
        progress.emit("failed", `engine error: ${message}`);
        // A module reboot during the back-off only shortens it: start-up runs next anyway.
        await client.sleep(Math.min(60_000, 1000 * 2 ** Math.min(failures, 6))).catch(() => undefined);
      }
    }
    progress.emit("stopped", "");
  }

  /** Serves the module's events and the plan schedule until a restart or an error. */
  async #serve(): Promise<void> {
    const ctx = this.#ctx;
    const { client, clock, config, records, progress } = ctx;
    let nextPlanAt = clock.now();
    let planDeadline = 0;
    let offerDeadline = 0;
    const offers: PlanOffer[] = [];
    // After a reset mid-OTA the module may still be downloading; silence means it gave up.
    const wait = resumeWaitMs(records.load(), config.downloadInfoWaitMs);
    let stallDeadline = wait > 0 ? clock.now() + wait : 0;
    const window = resumeWindow(records.load());
    if (window) {
      progress.log(`resuming the piece ${window.pieceStart}+${window.pieceLength} after a restart`);
      stallDeadline = await this.#readPiece(window.fileSize, window.pieceStart, window.pieceLength);
      if (stallDeadline < 0) return;
    }
    for (;;) {
      client.check();
      const now = clock.now();
      if (this.#planRequested || now >= nextPlanAt) {
        this.#planRequested = false;
        nextPlanAt = now + config.planIntervalMs;
        const active = records.load();
        if (!active || active.stage === "stalled") {
          // Unknown to the module, the component matches no plan (docs/protocol.md §2): report it first.
          if (!active && ctx.session.unreported) await reportVersion(ctx, ctx.session.unreported);
          progress.emit("requesting", "AT+QIOTOTAREQ=1");
          if (await client.requestPlan()) planDeadline = clock.now() + config.planWaitMs;
          else await connect(ctx);
        }
        continue;
      }
      const next = Math.min(...[nextPlanAt, planDeadline, offerDeadline, stallDeadline].filter((t) => t > 0));
      // While the module downloads a piece: one sector erased ahead, then a turn of the event loop.
      const erased = eraseAhead(ctx);
      if (erased) await client.sleep(0);
      // A piece expected within an erase is waited for; erasing ahead goes on after that (decision 82).
      const resumeAt = erased ? 0 : eraseAheadAt(ctx);
      const until = resumeAt > 0 ? Math.min(next, resumeAt) : next;
      const event = await client.nextEvent(erased ? 0 : Math.max(0, until - clock.now()));
      const time = clock.now();
      if (!event) {
        if (offerDeadline > 0 && time >= offerDeadline) {
          // Bytes since the last offer may be the next one's line: wait until the line has been quiet long enough.
          const quietAt = client.lastReceiveAt + offerGapMs(client);
          if (quietAt > time) {
            offerDeadline = quietAt;
            continue;
          }
          offerDeadline = 0;
          planDeadline = 0;
          stallDeadline = (await decide(ctx, offers.splice(0))) ? time + config.downloadInfoWaitMs : 0;
        } else if (planDeadline > 0 && time >= planDeadline) {
          planDeadline = 0;
          progress.emit("no-plan", "no plan offered");
        } else if (stallDeadline > 0 && time >= stallDeadline) {
          stallDeadline = 0;
          if (records.load()?.advancing) {
            // No 10703 after QIOTUPDATE=2 (lost in a reset, or the piece failed): no read may follow (docs/protocol.md §9a).
            // Ending its OTA now (record cleared first, so not counted) beats its 60 s watchdog; the prefix stays.
            records.clear();
            await reportVersion(ctx, ctx.boot.report.running.version);
            progress.emit("failed", "no 10703 for the next piece (reset or failed read): asking for a plan");
            this.#planRequested = true;
            continue;
          }
          // Silent download failure (docs/protocol.md §6): keep the verified prefix, wait for the next offer.
          records.update({ stage: "stalled" });
          progress.emit(
            "failed",
            "download stalled: no 10702/10703 from the module; waiting for the next offer",
          );
        }
        continue;
      }
      switch (event.kind) {
        case "plan":
          // Offers of one task come back to back; collect them so a multi-component task is judged whole.
          offerDeadline = time + offerGapMs(client);
          offers.push(event);
          planDeadline = 0;
          break;
        case "download-start":
          // The next component of a multi-component task (docs/protocol.md §7).
          followTask(ctx, event.component);
          if (bindDownload(ctx, event)) {
            stallDeadline = time + config.downloadStallMs;
            // The module fetches the first piece from now: its pace decides where the next piece's erases go.
            noteFetchStart(ctx, true);
          }
          break;
        case "downloading":
          if (noteDownloading(ctx)) stallDeadline = time + config.downloadStallMs;
          break;
        case "piece":
          stallDeadline = 0;
          followTask(ctx, event.component);
          if (event.component !== config.component) {
            progress.log(`piece for another component ignored: ${describeEvent(event)}`);
            break;
          }
          stallDeadline = await this.#readPiece(event.fileSize, event.pieceStart, event.pieceLength);
          if (stallDeadline < 0) return;
          break;
        case "update-failed":
          stallDeadline = 0;
          failOta(ctx, "the module reported failure (10706)");
          break;
        case "qiot":
          // 6,10200 is a successful deregistration, but it leaves us offline all the same.
          if ((!event.ok && event.type === 2) || event.type === 6) {
            progress.log(`connection lost: ${describeEvent(event)}`);
            await connect(ctx);
          }
          break;
        case "unknown":
          if (isUnreadableOffer(event.line)) {
            planDeadline = 0;
            await refuseUnreadable(ctx, event.line, event.reason);
          } else progress.log(`event: ${describeEvent(event)}`);
          break;
        default:
          // 10705 of another component, 10704, +QIND and the like: nothing of ours changes.
          progress.log(`event: ${describeEvent(event)}`);
      }
    }
  }

  /** Reads one piece; the new stall deadline (0: none), or -1 when the engine restarts into the new image. */
  async #readPiece(fileSize: number, pieceStart: number, pieceLength: number): Promise<number> {
    try {
      const after = await handlePiece(this.#ctx, this.#block, fileSize, pieceStart, pieceLength);
      // A staged member of a set that is not its last: its cycle closes, the next member's download follows.
      if (after === "restart" && this.#ctx.set?.pendingClose) return await closeCycle(this.#ctx);
      if (after === "restart") return -1;
      return after === "next-piece" ? this.#ctx.clock.now() + this.#ctx.config.downloadStallMs : 0;
    } catch (error) {
      if (!(error instanceof OtaAborted)) throw error;
      return 0;
    }
  }
}
