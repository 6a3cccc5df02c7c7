// Finish: verify the whole image, ask the module for the install step (QIOTUPDATE=3), activate it for a
// trial boot and restart; or end the OTA and keep the running image, counting the failure.

import type { ImageReceiver } from "../image/types.js";
import { isUpdatingOrFailed } from "../quecthing/events.js";
import type { EngineContext } from "./context.js";
import type { OtaRecord } from "./ota-record.js";
import { reportVersion } from "./report.js";

export async function finish(ctx: EngineContext, receiver: ImageReceiver): Promise<"done" | "restart"> {
  const { client, boot, records, progress, session } = ctx;
  progress.emit("verifying", "MD5 and SHA-256");
  const verdict = receiver.finish();
  if (!verdict.ok) {
    boot.abandonReceive(`verification failed: ${verdict.reason}`);
    session.receiver = undefined;
    const record = records.load();
    if (record) countFailure(ctx, record);
    records.clear();
    // Never report the target version for a bad image: the old version ends the OTA with 10706.
    await reportVersion(ctx, boot.report.running.version);
    progress.emit(
      "failed",
      `image rejected: ${verdict.reason} mismatch; keeping ${boot.report.running.version}`,
    );
    return "done";
  }
  // The "installing" record lets a reset between here and activation finish the activation.
  records.update({ stage: "installing" });
  const final = await client.finish();
  const updating = final === "OK" ? await client.waitFor(isUpdatingOrFailed, 5000) : undefined;
  if (final !== "OK" || updating?.kind === "update-failed") {
    // The module's OTA is over (10706, a reboot, a timeout): installing now would leave the platform saying failed.
    const why =
      final !== "OK"
        ? `QIOTUPDATE=3 answered ${final}`
        : "the module reported failure (10706) at QIOTUPDATE=3";
    abandonVerified(ctx, why);
    await reportVersion(ctx, boot.report.running.version);
    progress.emit("failed", `${why}; keeping ${boot.report.running.version}`);
    return "done";
  }
  progress.emit("activating", `${verdict.sha256 || verdict.md5}`);
  boot.activate();
  session.receiver = undefined;
  progress.emit("restarting", "booting the new image on trial");
  ctx.restart();
  return "restart";
}

/** Drops a verified image the module will not see installed, and counts it against its version. */
export function abandonVerified(ctx: EngineContext, reason: string): void {
  const record = ctx.records.load();
  if (record) countFailure(ctx, record);
  // The OTA record goes before the image: a verified image without a record is dropped at start-up.
  ctx.records.clear();
  ctx.boot.abandonReceive(reason);
  ctx.session.receiver = undefined;
}

/** Ends the current OTA after a failure; the verified prefix stays for a resume of the same image. */
export function failOta(ctx: EngineContext, reason: string): void {
  ctx.session.advancedFrom = -1;
  const record = ctx.records.load();
  if (!record) return;
  countFailure(ctx, record);
  ctx.records.clear();
  ctx.progress.emit("failed", reason);
}

/** Counts a failed download of the record's version: after maxFailures its offers are refused. */
export function countFailure(ctx: EngineContext, record: OtaRecord): void {
  const history = ctx.records.history(record.component, record.targetVersion);
  ctx.records.saveHistory({ ...history, failures: history.failures + 1 });
}
