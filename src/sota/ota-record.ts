// The engine's OTA record: the plan it confirmed and the digests bound to it, kept in the key-value store
// so that "an OTA is in progress" survives an MCU reset (no version report may interrupt it, §9.9).

import type { KeyValueStore } from "../../hal/kv.js";

export type OtaStage = "confirmed" | "downloading" | "stalled" | "installing";

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
}

/** A version that was rolled back here: never offered to the trial again, and announced once after the restart. */
export interface RejectedVersion {
  component: string;
  version: string;
  reason: string;
  announced: boolean;
}

const KEY = "sota.ota";
const REJECTED_KEY = "sota.rejected";

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

  rejected(): RejectedVersion | undefined {
    const text = this.#kv.get(REJECTED_KEY);
    if (text === undefined) return undefined;
    try {
      const value = JSON.parse(text) as Partial<RejectedVersion>;
      if (typeof value.component !== "string" || typeof value.version !== "string") return undefined;
      return { component: value.component, version: value.version, reason: String(value.reason ?? ""), announced: value.announced === true };
    } catch {
      return undefined;
    }
  }

  /** One key-value write (atomic in the store): the old or the new rejection survives a power cut. */
  reject(value: RejectedVersion): void {
    this.#kv.set(REJECTED_KEY, JSON.stringify(value));
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
    };
  } catch {
    // A record we cannot read is treated as absent: the worst case is one extra version report.
    return undefined;
  }
}
