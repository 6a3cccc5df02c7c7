// What every phase of the engine works with: the module client, boot control, the OTA record, settings,
// progress, and the little that lives only in RAM for the current download.

import type { Clock, TimerHandle } from "../../hal/clock.js";
import type { DigestFactory } from "../../hal/digest.js";
import type { SystemPort } from "../../hal/system.js";
import type { BootControl } from "../boot/types.js";
import type { ImageReceiver } from "../image/types.js";
import type { PackageVerifier } from "../package/verifier.js";
import type { ComponentSet } from "../components/set.js";
import type { ModuleClient } from "../quecthing/client.js";
import type { ResolvedConfig } from "./config.js";
import type { OtaRecordStore } from "./ota-record.js";
import type { ProgressReporter } from "./progress.js";

export interface EngineContext {
  readonly client: ModuleClient;
  readonly boot: BootControl;
  readonly records: OtaRecordStore;
  readonly config: ResolvedConfig;
  readonly clock: Clock;
  readonly system: SystemPort;
  readonly progress: ProgressReporter;
  /** Checks each package's MCUboot signature before activation; undefined = packages are not signed. */
  readonly packages: PackageVerifier | undefined;
  /** Digests for delta packages (the package's own MD5/SHA-256 beside the image's); undefined = no deltas. */
  readonly digests: DigestFactory | undefined;
  /** Several components as one set; undefined = the image alone. `config.component` is the one in work. */
  readonly set?: ComponentSet | undefined;
  /** RAM only: an MCU reset rebuilds it from the records (resume.ts says how). */
  readonly session: Session;
  /** Stops this engine and restarts the MCU (into the image boot control now selects). */
  restart(): void;
}

export interface Session {
  /** The image being received, or the partial one left by a reset. */
  receiver: ImageReceiver | undefined;
  /** The module's read maximum, learned once per download cycle (0 = ask). */
  readLength: number;
  /** The piece whose window QIOTUPDATE=2 moved on: a late or repeated 10703 for it must not move it again. */
  advancedFrom: number;
  trialTimer: TimerHandle | undefined;
  /** The trial's rejection once it began (the trial timer and the health check may both reach it). */
  rejection: Promise<void> | undefined;
  /** This boot's rollback was reported already (start-up runs again after a module reboot). */
  rollbackReported: boolean;
  /** A version whose report the module refused (ERROR each time): reported again before the next plan request. */
  unreported: string;
}

/** Thrown by a phase when the current OTA ended (failed or gave up); the engine goes on serving. */
export class OtaAborted extends Error {}

export function newSession(): Session {
  return {
    receiver: undefined,
    readLength: 0,
    advancedFrom: -1,
    trialTimer: undefined,
    rejection: undefined,
    rollbackReported: false,
    unreported: "",
  };
}
