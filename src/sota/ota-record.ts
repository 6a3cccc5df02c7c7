// The engine's OTA record: the plan it confirmed and the digests bound to it, kept in the key-value store
// so that "an OTA is in progress" survives an MCU reset (no version report may interrupt it, docs/protocol.md §9.9).

import type { KeyValueStore } from "../../hal/kv.js";

// "confirming" is written before AT+QIOTUPDATE=1 goes out: from then on a version report could be compared
// with the previous OTA's target (docs/protocol.md §9.9), so a reset must find the record already there.
export type OtaStage = "confirming" | "confirmed" | "downloading" | "stalled" | "installing";

export interface OtaRecord {
  component: string;
  sourceVersion: string;
  targetVersion: string;
  stage: OtaStage;
  /** From 10701; 0 and "" until it arrives. */
  size: number;
  md5: string;
  sha256: string;
  crc: number;
  /** The module's current piece window from 10703 (length 0: none known): a reset inside it resumes reading. */
  pieceStart: number;
  pieceLength: number;
  /**
   * QIOTUPDATE=2 may have gone out and no 10703 has come since: the window moved, and a read before the next
   * 10703 would return stale bytes (docs/protocol.md §9a), so a restart waits for that 10703 instead.
   */
  advancing: boolean;
  /** A delta's target image SHA-256 (from its header, once accepted), "" otherwise: names the verified slot. */
  imageSha256?: string;
  /** The verified package's signed security counter (0 unsigned): stored as the floor once its trial confirms. */
  securityCounter: number;
}

/** No piece window known (before the first 10703, after a module reboot, or a new plan). */
export const NO_WINDOW = { pieceStart: 0, pieceLength: 0, advancing: false } as const;

const SECURITY_KEY = "sota.seccnt";

/** What this device learned about one target version: failed attempts, and a rejection by its own health check. */
export interface VersionHistory {
  component: string;
  version: string;
  /** Downloads of it that ended in failure (bad digests, 10706, gave up). */
  failures: number;
  /** Why its trial was rejected by this device (then it is never taken again), or "". */
  rejectedReason: string;
  /** Why its last install ended without it running (a 10706 during the trial), or "". */
  lastFailure: string;
  /** The rejection or failure was reported to the app after the rollback restart. */
  announced: boolean;
}

const KEY = "sota.ota";
const HISTORY_KEY = "sota.history";
const DELTA_KEY = "sota.delta";

export class OtaRecordStore {
  readonly #kv: KeyValueStore;
  #cached: OtaRecord | undefined | null = null;

  constructor(kv: KeyValueStore) {
    this.#kv = kv;
  }

  load(): OtaRecord | undefined {
    if (this.#cached === null) this.#cached = parse(this.#kv.get(KEY));
    return this.#cached;
  }

  /** One key-value write replaces the whole record, so a power cut leaves the old or the new one (the store's set is atomic). */
  save(record: OtaRecord): void {
    this.#kv.set(KEY, JSON.stringify(record));
    this.#cached = { ...record };
  }

  update(changes: Partial<OtaRecord>): void {
    const current = this.load();
    if (current) this.save({ ...current, ...changes });
  }

  clear(): void {
    this.#kv.delete(KEY);
    this.#cached = undefined;
  }

  /** The history of `version`, or a fresh one: only the latest target version is kept. */
  history(component: string, version: string): VersionHistory {
    const text = this.#kv.get(HISTORY_KEY);
    let value: Partial<VersionHistory> = {};
    try {
      if (text !== undefined) value = JSON.parse(text) as Partial<VersionHistory>;
    } catch {
      value = {};
    }
    if (value.component !== component || value.version !== version) {
      return { component, version, failures: 0, rejectedReason: "", lastFailure: "", announced: false };
    }
    return {
      component,
      version,
      failures: Number(value.failures ?? 0),
      rejectedReason: String(value.rejectedReason ?? ""),
      lastFailure: String(value.lastFailure ?? ""),
      announced: value.announced === true,
    };
  }

  /** The last history written, whatever its version. */
  lastHistory(): VersionHistory | undefined {
    const text = this.#kv.get(HISTORY_KEY);
    if (text === undefined) return undefined;
    try {
      const value = JSON.parse(text) as Partial<VersionHistory>;
      return typeof value.component === "string" && typeof value.version === "string"
        ? this.history(value.component, value.version)
        : undefined;
    } catch {
      return undefined;
    }
  }

  /** The lowest security counter a signed package may carry: raised only by a confirmed image. */
  securityCounter(): number {
    const value = Number(this.#kv.get(SECURITY_KEY) ?? 0);
    return Number.isInteger(value) && value > 0 ? value : 0;
  }

  /**
   * Raises the stored counter to `counter` (never lowers it). One key-value write, atomic in the store; it runs
   * after the boot record confirmed the image, and again at the next start while the OTA record is there.
   */
  raiseSecurityCounter(counter: number): void {
    if (counter > this.securityCounter()) this.#kv.set(SECURITY_KEY, String(counter));
  }

  /**
   * The delta applier's checkpoint for the package with MD5 `md5` (docs/delta-packages.md §4), saved after the
   * journal entry of the sector it ends at. One key-value write (atomic in the store): the old or the new one.
   */
  saveDeltaCheckpoint(md5: string, record: Uint8Array): void {
    let hex = "";
    for (let i = 0; i < record.length; i++) hex += (record[i]! < 16 ? "0" : "") + record[i]!.toString(16);
    this.#kv.set(DELTA_KEY, `${md5.toLowerCase()}:${hex}`);
  }

  /** The checkpoint saved for the package with MD5 `md5`, or undefined. */
  deltaCheckpoint(md5: string): Uint8Array | undefined {
    const text = this.#kv.get(DELTA_KEY);
    const prefix = `${md5.toLowerCase()}:`;
    if (text === undefined || !text.startsWith(prefix) || (text.length - prefix.length) % 2 !== 0)
      return undefined;
    const bytes = new Uint8Array((text.length - prefix.length) / 2);
    for (let i = 0; i < bytes.length; i++) {
      const value = parseInt(text.substr(prefix.length + 2 * i, 2), 16);
      if (Number.isNaN(value)) return undefined;
      bytes[i] = value;
    }
    return bytes;
  }

  clearDeltaCheckpoint(): void {
    if (this.#kv.get(DELTA_KEY) !== undefined) this.#kv.delete(DELTA_KEY);
  }

  /** One key-value write (atomic in the store): the old or the new history survives a power cut. */
  saveHistory(history: VersionHistory): void {
    this.#kv.set(HISTORY_KEY, JSON.stringify(history));
  }
}
function parse(text: string | undefined): OtaRecord | undefined {
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text) as Partial<OtaRecord>;
    if (typeof value.component !== "string" || typeof value.targetVersion !== "string") return undefined;
    return {
      component: value.component,
      sourceVersion: String(value.sourceVersion ?? ""),
      targetVersion: value.targetVersion,
      stage: (value.stage ?? "confirmed") as OtaStage,
      size: Number(value.size ?? 0),
      md5: String(value.md5 ?? ""),
      sha256: String(value.sha256 ?? ""),
      crc: Number(value.crc ?? 0),
      pieceStart: Number(value.pieceStart ?? 0),
      pieceLength: Number(value.pieceLength ?? 0),
      advancing: value.advancing === true,
      securityCounter: Number(value.securityCounter ?? 0),
      ...(value.imageSha256 ? { imageSha256: String(value.imageSha256) } : {}),
    };
  } catch {
    // A record we cannot read is treated as absent: the worst case is one extra version report.
    return undefined;
  }
}
