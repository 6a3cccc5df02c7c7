// The engine's settings: what an app may set (SotaEngineConfig) and the defaults that fill the rest.

import type { ComponentConfig } from "../components/config.js";

export interface SotaEngineConfig {
  /** Our component id, as the Developer Center knows it. */
  component: string;
  /** Bytes the inactive slot can hold (the size gate). */
  slotSize: number;
  allowDowngrade?: boolean;
  /** How often to ask for a plan with AT+QIOTOTAREQ=1 (the platform also pushes every 10 min). */
  planIntervalMs?: number;
  /** Upper bound of one AT+QIOTOTARD read (the module's own maximum may be lower). */
  maxReadLength?: number;
  /** How long to wait for a 10700 after AT+QIOTOTAREQ=1 before reporting "no plan". */
  planWaitMs?: number;
  /** No 10701/10702/10703 for this long while downloading = a silent download failure (docs/protocol.md §6). */
  downloadStallMs?: number;
  /** From QIOTUPDATE=1 to the download information (the module gives up after 30 s). */
  downloadInfoWaitMs?: number;
  /** How long to wait for 3,10200 after AT+QIOTREG=1 before trying again. */
  connectTimeoutMs?: number;
  /** The Developer Center product's key and secret: set in the module at start-up when it holds others. */
  productKey?: string;
  productSecret?: string;
  /** Take differential packages (for the running version only): a delta package is applied as it streams in. */
  acceptDifferential?: boolean;
  /** Failed downloads of one version after which its offers are refused (each try erases the slot). */
  maxFailures?: number;
  /** A trial image that has not confirmed within this time (no module, no connection) is rejected. */
  trialTimeoutMs?: number;
  /** NB-IoT module: hold UART sleep off (AT+QSCLK=0) so the first bytes after idle are not lost (docs/protocol.md §9.14). */
  nbIot?: boolean;
  /** The trial boot's health check; false rejects the new image and rolls back. */
  healthCheck?: () => boolean | Promise<boolean>;
  /** A health check that has not answered within this time failed (keep it below the board's watchdog). */
  healthCheckTimeoutMs?: number;
  /** Hardware flow control on the module's UART (AT+IFC=2,2 at start-up); the board wires RTS/CTS. */
  flowControl?: boolean;
  /**
   * Several components updated as one set (src/components/README.md): data and mod components with their areas,
   * and the image (this engine's `component`, added when missing). Absent: the image alone, as before.
   */
  components?: ComponentConfig[];
}

type Optional = "healthCheck" | "productKey" | "productSecret" | "components";

export type ResolvedConfig = Required<Omit<SotaEngineConfig, Optional>> & Pick<SotaEngineConfig, Optional>;

const DEFAULTS = {
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
  healthCheckTimeoutMs: 20_000,
  flowControl: false,
};

/** The defaults, overridden by every setting given; a setting given as undefined keeps its default. */
export function resolveConfig(config: SotaEngineConfig): ResolvedConfig {
  const given = Object.fromEntries(
    Object.entries(config).filter(([, value]) => value !== undefined),
  ) as SotaEngineConfig;
  return { ...DEFAULTS, ...given };
}
