// Module settings of the virtual QuecThing module: every timer, size and quirk switch, with the reference defaults.

export type OverLengthRead = "error" | "clamp";
export type OutOfWindowRead = "error" | "zero";
export type DigestCase = "lower" | "upper";
export type FotaEndUrc = "after" | "before" | "none";

export interface ModuleSettings {
  /** Device key (DK) the platform uses for white/black lists and the monitoring log. */
  deviceId: string;
  /** Module firmware version shown by `AT+QIOTCFG="productinfo"`. */
  moduleVersion: string;
  /** QuecThing SDK version shown by `AT+QIOTINFO?`. */
  sdkVersion: string;
  /** Received signal in dBm for AT+CSQ; null = unknown (rssi 99). */
  signalDbm: number | null;
  /** Module flash free for the package cache: the piece length (sampled once per OTA). */
  freeSpace: number;
  /** Largest AT+QIOTOTARD length, announced by AT+QIOTOTARD=?. */
  maxReadLength: number;
  /** A read longer than maxReadLength: ERROR (default) or clamp to the maximum. */
  overLengthRead: OverLengthRead;
  /** A read the SDK answers with 0 bytes (outside the piece window, len <= 0, wrong state): ERROR (default) or `+QIOTOTARD: <start>,0`. */
  outOfWindowRead: OutOfWindowRead;
  /** Hex case of MD5/SHA-256 in 10701: printed as the platform sent them, so a device compares case-insensitively (docs/protocol.md §9a). */
  digestCase: DigestCase;
  /** `+QIND: "FOTA","END",0` after 10705 (D4), before it (D8), or not at all: the sources disagree (docs/protocol.md §10). */
  fotaEndUrc: FotaEndUrc;
  /** Echo at power-on (a module fresh from reset echoes). */
  echo: boolean;
  /** Per-command processing latency. */
  latencyMs: number;
  /** UART rate for pacing (0 = the link paces, e.g. the sim link); a pty ignores baud. */
  baud: number;
  /** Power-on until RDY. */
  bootDelayMs: number;
  /** Delay before each connection event (1,10200 / 2,10200 / 3,10200). */
  connectStepMs: number;
  /** QIOTOTAREQ until the platform's 10700. */
  planDelayMs: number;
  /** Race of docs/protocol.md §9a: 10700 is printed this long before the plan is recorded (UPDATE=1 meanwhile: ERROR). */
  planRecordDelayMs: number;
  /** Confirm (UPDATE=1) until the download information arrives (>= confirmTimeoutMs gives 10706). */
  downloadInfoDelayMs: number;
  /**
   * Download rate of a piece into the module, bytes per second (plan file `settings.downloadBytesPerSecond`): about
   * 2000 for NB-IoT, 20000 for LTE Cat-1; 1e9 is as good as instant. While it downloads, the engine erases ahead.
   */
  downloadBytesPerSecond: number;
  /** 10702 repeat interval while a piece downloads. */
  progressIntervalMs: number;
  /** Confirm until download information, else 10706. */
  confirmTimeoutMs: number;
  /** MCU read watchdog (after 10703, between reads, last read to UPDATE=3), else 10706. */
  readTimeoutMs: number;
  /** UPDATING (10704) until the version report, else 10706. */
  updateTimeoutMs: number;
  /** Platform re-push of an active plan while online and idle. */
  repushIntervalMs: number;
  /** The Nth cumulative download failure gives 10706; the ones before are silent. */
  maxDownloadFailures: number;
  /** Largest number of components in one plan (more: the plan is dropped silently). */
  maxPlanComponents: number;
  /** Print `+QIOTEVT: 7,10707,0` on confirm/refuse of a multi-component task. */
  multiComponentResultEvent: boolean;
  /** Product key/secret already saved in the module (as if configured earlier); "" = none. */
  productKey: string;
  productSecret: string;
  /** QIOTREG mode saved in the module at first power-on (2 = connect at every boot). */
  regMode: 0 | 1 | 2;
}

export const DEFAULT_SETTINGS: Readonly<ModuleSettings> = Object.freeze({
  deviceId: "virtual-device-1",
  moduleVersion: "EC200U_VIRTUAL_01.001",
  sdkVersion: "2.9.2",
  signalDbm: -71,
  freeSpace: 65536,
  maxReadLength: 1024,
  overLengthRead: "error",
  outOfWindowRead: "error",
  digestCase: "lower",
  fotaEndUrc: "after",
  echo: true,
  latencyMs: 0,
  baud: 0,
  bootDelayMs: 200,
  connectStepMs: 500,
  planDelayMs: 300,
  planRecordDelayMs: 0,
  downloadInfoDelayMs: 1000,
  downloadBytesPerSecond: 20000,
  progressIntervalMs: 5000,
  confirmTimeoutMs: 30_000,
  readTimeoutMs: 60_000,
  updateTimeoutMs: 20 * 60_000,
  repushIntervalMs: 10 * 60_000,
  maxDownloadFailures: 6,
  maxPlanComponents: 20,
  multiComponentResultEvent: true,
  productKey: "",
  productSecret: "",
  regMode: 0,
});

export function resolveSettings(...layers: Array<Partial<ModuleSettings> | undefined>): ModuleSettings {
  const settings: ModuleSettings = { ...DEFAULT_SETTINGS };
  for (const layer of layers) {
    if (!layer) continue;
    for (const key of Object.keys(layer) as Array<keyof ModuleSettings>) {
      if (layer[key] !== undefined) (settings as unknown as Record<string, unknown>)[key] = layer[key];
    }
  }
  return settings;
}
