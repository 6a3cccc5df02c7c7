// What a restart does, read from one table: the engine's state is its OTA record's stage (docs/architecture.md,
// "State model"), and this pure function maps that record and the boot decision to the step start-up takes.

import type { BootReport, SlotInfo } from "../boot/types.js";
import type { OtaRecord, VersionHistory } from "./ota-record.js";

/** Which version report start-up owes the module once the image side is settled. */
export type VersionReport =
  /** A trial fell back: reporting the old version ends the module's OTA now (10706), not after 20 min. */
  | "rollback"
  /** A version our health check rejected, or an install the module ended: announce it after the rollback. */
  | "rejection"
  /** An OTA is in progress at the module: a version report now would abort it (docs/protocol.md §9.9). */
  | "hold"
  | "version";

export type ResumeAction =
  /** A new image boots on trial: health check, confirm, then the version report that ends the OTA with 10705. */
  | { kind: "trial" }
  /** Confirmed before a reset could report it: the module is still UPDATING and waits for this report. */
  | { kind: "report-installed" }
  /** A reset between verification and activation: the image is whole and checked; finish the job. */
  | { kind: "activate-verified"; slot: SlotInfo }
  /** Online: drop what outlived its OTA, then report (or hold back) the running version. */
  | { kind: "online"; dropVerified: boolean; dropRecord: boolean; report: VersionReport };

export interface ResumeInput {
  component: string;
  record: OtaRecord | undefined;
  boot: BootReport;
  /** The latest target version's history (a rejection or failure to announce). */
  history: VersionHistory | undefined;
  /** This boot's rollback was already reported (start-up runs again after a module reboot). */
  rollbackReported: boolean;
}

export function resumeAction(input: ResumeInput): ResumeAction {
  const { record, boot } = input;
  if (boot.trial) return { kind: "trial" };
  if (record?.stage === "installing" && record.targetVersion === boot.running.version)
    return { kind: "report-installed" };
  const verified = boot.slots.find((slot) => slot.state === "verified");
  if (
    verified &&
    record &&
    record.component === verified.component &&
    record.targetVersion === verified.version &&
    (record.md5 === verified.md5 || (!!record.imageSha256 && record.imageSha256 === verified.sha256))
  )
    return { kind: "activate-verified", slot: verified };
  // Every live "installing" record returned above: this one outlived its image (a reset between two writes).
  const dropRecord = record?.stage === "installing";
  const live = dropRecord ? undefined : record;
  const history = input.history;
  const notice = history && !history.announced ? history.rejectedReason || history.lastFailure : "";
  let report: VersionReport = "version";
  if (boot.rollbackReason !== "" && !input.rollbackReported) report = "rollback";
  else if (notice !== "") report = "rejection";
  else if (live && live.component === input.component && live.stage !== "stalled") report = "hold";
  return { kind: "online", dropVerified: verified !== undefined, dropRecord, report };
}

/**
 * After start-up: how long to wait for the module's download news before calling the OTA stalled. A record
 * that is confirming, confirmed or downloading means the module may still be downloading after our reset.
 */
export function resumeWaitMs(record: OtaRecord | undefined, downloadInfoWaitMs: number): number {
  return record && record.stage !== "stalled" && record.stage !== "installing" ? downloadInfoWaitMs : 0;
}

/**
 * The piece window to go on reading at once after a restart: the module still holds it and waits for reads
 * (its 60 s read watchdog runs), so no new plan, version report or 10706 is needed. None while the window
 * is moving (QIOTUPDATE=2 sent, no 10703 yet): the next 10703 brings it.
 */
export function resumeWindow(
  record: OtaRecord | undefined,
): { fileSize: number; pieceStart: number; pieceLength: number } | undefined {
  if (!record || record.stage !== "downloading" || record.advancing) return undefined;
  if (record.pieceLength === 0 || record.md5 === "") return undefined;
  return { fileSize: record.size, pieceStart: record.pieceStart, pieceLength: record.pieceLength };
}
