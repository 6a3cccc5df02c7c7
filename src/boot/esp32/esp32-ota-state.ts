// Pure decisions of the ESP32 boot backend: ESP-IDF rollback states + our image record -> BootReport (testable on Node).

import { OtaImageState, type OtaPartitionView } from "../../../hal/ota.js";
import { shortKey } from "../../../hal/kv.js";
import type { ImageDescriptor } from "../../image/types.js";
import { IMAGE_STATES, type ImageState, type SlotInfo } from "../types.js";

/** What we keep in NVS about the image in (or destined for) the next OTA partition. */
export interface Esp32ImageRecord extends ImageDescriptor {
  v: 2;
  /** The app partition label the image was written to ("ota_0" / "ota_1"). */
  label: string;
  state: ImageState;
  /** Bytes written and journaled (a whole number of erase blocks while receiving). */
  received: number;
  /** Why the image was abandoned or rejected, "" otherwise. */
  reason: string;
  /** True until the first start-up after a reject has reported it (then the reason is old news). */
  fresh: boolean;
  /** App id (esp_app_desc_t.app_elf_sha256, hex) of the image that ran when this record began: a stale-record check. */
  from: string;
  /** App id of the received image once verified, "" before: the check once it runs. */
  app: string;
  /** The next partition's otadata state when the download began (after invalidating the inactive slot). */
  nextWas: number;
  /** A signed package: its header size (the body starts there in the package, at 0 in the partition); 0 plain. */
  hdr: number;
  /** The body's size (the partition holds it); 0 until known. */
  img: number;
}

export interface RunningBuild {
  component: string;
  version: string;
}

export interface Esp32BootDecision {
  running: SlotInfo;
  trial: boolean;
  rollbackReason: string;
  /** The record to persist before anything else happens, null to delete it, undefined when it stays as it is. */
  record: Esp32ImageRecord | undefined | null;
  /** Whether the bootloader rolls back an unconfirmed image: "missing" when a new image runs in state NEW. */
  rollback: "supported" | "missing" | "unknown";
  /** Lines for the start-up trace (a stale record reset, a bootloader without rollback). */
  notices: string[];
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
  if (r.v !== 2 || !(IMAGE_STATES as readonly string[]).includes(r.state as string)) return undefined;
  if (!["label", "component", "version", "md5", "sha256", "reason", "from", "app"].every(isString))
    return undefined;
  if (typeof r.nextWas !== "number") return undefined;
  if (!["size", "crc", "received", "hdr", "img"].every(isCount) || typeof r.fresh !== "boolean")
    return undefined;
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

const SELECTED: readonly ImageState[] = ["verified", "pending-test", "confirmed"];

function rolledBack(
  plain: SlotInfo,
  onTrial: boolean,
  record: Esp32ImageRecord,
  reason: string,
  rollback: Esp32BootDecision["rollback"],
  notices: string[],
): Esp32BootDecision {
  return {
    running: plain,
    trial: onTrial,
    rollbackReason: reason,
    record: withState(record, "rejected", reason, false),
    rollback,
    notices,
  };
}

/**
 * The start-up decision. Ordering in Esp32BootControl makes each power cut land in one of these rows:
 * invalidate-then-record (startReceive), select-then-record (activate), mark-valid-then-record (confirm),
 * record-then-mark-invalid (reject). `runningApp` is the running image's app id ("" unknown).
 */
export function decideEsp32Boot(
  stored: Esp32ImageRecord | undefined,
  running: OtaPartitionView,
  next: OtaPartitionView,
  build: RunningBuild,
  runningApp: string,
): Esp32BootDecision {
  const onTrial = running.state === OtaImageState.pendingVerify;
  const notices: string[] = [];
  // A bootloader with rollback support turns NEW into PENDING_VERIFY before it starts an image: NEW means it has none.
  const rollback =
    running.state === OtaImageState.new ? "missing" : onTrial ? "supported" : ("unknown" as const);
  if (rollback === "missing")
    notices.push(
      "bootloader without rollback (CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE): this image runs untested and a bad update cannot roll back",
    );
  const plain: SlotInfo = {
    slot: slotNumber(running.label),
    state: onTrial ? "pending-test" : "confirmed",
    component: build.component,
    version: build.version,
    size: 0,
    md5: "",
    sha256: "",
  };
  let record = stored;
  let reset = false;
  if (record && runningApp !== "") {
    const ours = record.label === running.label;
    const describes = ours
      ? SELECTED.includes(record.state) && record.app === runningApp
      : record.from === runningApp;
    if (!describes) {
      // Re-flashing over USB resets otadata but not NVS: the record is about an image that is not what runs.
      notices.push(
        `image record (${record.state} ${record.version} in ${record.label}) does not describe the running image ${running.label}: reset`,
      );
      record = undefined;
      reset = true;
    }
  }
  const none = (): Esp32BootDecision => ({
    running: plain,
    trial: onTrial,
    rollbackReason: "",
    record: reset ? null : undefined,
    rollback,
    notices,
  });
  if (!record) return none();

  const ours = record.label === running.label;
  if (ours && SELECTED.includes(record.state)) {
    if (onTrial) {
      // Also the power cut between esp_ota_set_boot_partition and recording "pending-test".
      return {
        running: slotFromRecord(record, "pending-test", build),
        trial: true,
        rollbackReason: "",
        record: withState(record, "pending-test", "", false),
        rollback,
        notices,
      };
    }
    // Also the cut between esp_ota_mark_app_valid_cancel_rollback and recording "confirmed"; and (state NEW) an
    // image a bootloader without rollback started: it cannot be tried, so it is what runs from now on.
    return {
      running: slotFromRecord(record, "confirmed", build),
      trial: false,
      rollbackReason: "",
      record: withState(record, "confirmed", "", false),
      rollback,
      notices,
    };
  }
  if (
    !ours &&
    record.label === next.label &&
    (record.state === "pending-test" || record.state === "verified")
  ) {
    const state = next.state;
    const activated = record.state === "pending-test";
    if (state === OtaImageState.aborted || state === OtaImageState.invalid) {
      // The bootloader gave up on it (reset before confirm, or it died before JavaScript ran). "verified" is the cut
      // between esp_ota_set_boot_partition and recording "pending-test"; the stale state the download began with
      // (the inactive slot could not be invalidated) looks the same, so that case says so.
      const reason =
        !activated && record.nextWas === state
          ? "activation interrupted or trial not confirmed"
          : state === OtaImageState.aborted
            ? "trial not confirmed"
            : "trial rejected";
      return rolledBack(plain, onTrial, record, reason, rollback, notices);
    }
    if (state === OtaImageState.pendingVerify || state === OtaImageState.new)
      // Selected, yet the bootloader started the old image: the new one did not load.
      return rolledBack(plain, onTrial, record, "new image did not load", rollback, notices);
    if (activated) return rolledBack(plain, onTrial, record, "trial not confirmed", rollback, notices);
  }
  if (record.state === "rejected" && record.fresh) {
    return {
      running: plain,
      trial: onTrial,
      rollbackReason: record.reason,
      record: withState(record, "rejected", record.reason, false),
      rollback,
      notices,
    };
  }
  return none();
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
