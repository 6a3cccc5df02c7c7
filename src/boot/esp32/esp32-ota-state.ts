// Pure decisions of the ESP32 boot backend: ESP-IDF rollback states + our image record -> BootReport (testable on Node).

import { OtaImageState, type OtaPartitionView } from "../../../hal/ota.js";
import { shortKey } from "../../../hal/kv.js";
import type { ImageDescriptor } from "../../image/types.js";
import { IMAGE_STATES, type ImageState, type SlotInfo } from "../types.js";

/** What we keep in NVS about the image in (or destined for) the next OTA partition. */
export interface Esp32ImageRecord extends ImageDescriptor {
  v: 1;
  /** The app partition label the image was written to ("ota_0" / "ota_1"). */
  label: string;
  state: ImageState;
  /** Bytes written and journaled (a whole number of erase blocks while receiving). */
  received: number;
  /** Why the image was abandoned or rejected, "" otherwise. */
  reason: string;
  /** True until the first start-up after a reject has reported it (then the reason is old news). */
  fresh: boolean;
}

export interface RunningBuild {
  component: string;
  version: string;
}

export interface Esp32BootDecision {
  running: SlotInfo;
  trial: boolean;
  rollbackReason: string;
  /** The record to persist before anything else happens, or undefined when it stays as it is. */
  record: Esp32ImageRecord | undefined;
}

/** Parses a stored record; anything malformed (torn by an old firmware, hand-edited) reads as "no record". */
export function parseImageRecord(text: string | undefined): Esp32ImageRecord | undefined {
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const r = value as Record<string, unknown>;
  const isString = (key: string): boolean => typeof r[key] === "string";
  const isCount = (key: string): boolean =>
    typeof r[key] === "number" && Number.isInteger(r[key]) && (r[key] as number) >= 0;
  if (r.v !== 1 || !(IMAGE_STATES as readonly string[]).includes(r.state as string)) return undefined;
  if (!["label", "component", "version", "md5", "sha256", "reason"].every(isString)) return undefined;
  if (!["size", "crc", "received"].every(isCount) || typeof r.fresh !== "boolean") return undefined;
  if ((r.received as number) > (r.size as number)) return undefined;
  return value as Esp32ImageRecord;
}

/** "ota_0" -> 0, "ota_1" -> 1, ... ; anything else (factory, unknown) -> -1. */
export function slotNumber(label: string): number {
  const match = /^ota_(\d+)$/.exec(label);
  return match ? Number(match[1]) : -1;
}

function slotFromRecord(
  record: Esp32ImageRecord,
  state: ImageState,
  build: RunningBuild | undefined,
): SlotInfo {
  return {
    slot: slotNumber(record.label),
    state,
    component: build ? build.component : record.component,
    version: build ? build.version : record.version,
    size: record.size,
    md5: record.md5,
    sha256: record.sha256,
  };
}

function withState(
  record: Esp32ImageRecord,
  state: ImageState,
  reason: string,
  fresh: boolean,
): Esp32ImageRecord | undefined {
  if (record.state === state && record.reason === reason && record.fresh === fresh) return undefined;
  return { ...record, state, reason, fresh };
}

/**
 * The start-up decision. Ordering in Esp32BootControl makes each power cut land in one of these rows:
 * select-then-record (activate), mark-valid-then-record (confirm), record-then-mark-invalid (reject).
 */
export function decideEsp32Boot(
  record: Esp32ImageRecord | undefined,
  running: OtaPartitionView,
  build: RunningBuild,
): Esp32BootDecision {
  const onTrial = running.state === OtaImageState.pendingVerify;
  const plain: SlotInfo = {
    slot: slotNumber(running.label),
    state: onTrial ? "pending-test" : "confirmed",
    component: build.component,
    version: build.version,
    size: 0,
    md5: "",
    sha256: "",
  };
  if (!record) return { running: plain, trial: onTrial, rollbackReason: "", record: undefined };

  const ours = record.label === running.label;
  const selected =
    record.state === "verified" || record.state === "pending-test" || record.state === "confirmed";
  if (ours && selected) {
    if (onTrial) {
      // Also the power cut between esp_ota_set_boot_partition and recording "pending-test".
      return {
        running: slotFromRecord(record, "pending-test", build),
        trial: true,
        rollbackReason: "",
        record: withState(record, "pending-test", "", false),
      };
    }
    // Also the power cut between esp_ota_mark_app_valid_cancel_rollback and recording "confirmed".
    return {
      running: slotFromRecord(record, "confirmed", build),
      trial: false,
      rollbackReason: "",
      record: withState(record, "confirmed", "", false),
    };
  }
  if (!ours && record.state === "pending-test") {
    // Only the bootloader moves us off a selected trial image: it reset before confirm.
    const reason = "trial not confirmed";
    return {
      running: plain,
      trial: onTrial,
      rollbackReason: reason,
      record: withState(record, "rejected", reason, false),
    };
  }
  if (record.state === "rejected" && record.fresh) {
    return {
      running: plain,
      trial: onTrial,
      rollbackReason: record.reason,
      record: withState(record, "rejected", record.reason, false),
    };
  }
  return { running: plain, trial: onTrial, rollbackReason: "", record: undefined };
}

/** The next partition's SlotInfo for reports: the record's image if it targets that partition. */
export function nextSlotInfo(record: Esp32ImageRecord | undefined, next: OtaPartitionView): SlotInfo {
  if (record && record.label === next.label && record.state !== "confirmed")
    return slotFromRecord(record, record.state, undefined);
  return {
    slot: slotNumber(next.label),
    state: "empty",
    component: "",
    version: "",
    size: 0,
    md5: "",
    sha256: "",
  };
}

/** ESP32 NVS keys are at most 15 characters: longer keys keep a readable head and a hash of the whole. */
export function nvsKey(key: string): string {
  return shortKey(key, 15);
}
