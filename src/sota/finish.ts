// Finish: verify the whole image, ask the module for the install step (QIOTUPDATE=3), activate it for a
// trial boot and restart; or end the OTA and keep the running image, counting the failure.

import type { ImageReceiver } from "../image/types.js";
import { isUpdatingOrFailed } from "../quecthing/events.js";
import type { EngineContext } from "./context.js";
import type { OtaRecord } from "./ota-record.js";
import { reportVersion, runningVersion } from "./report.js";

/** `block` is the download buffer, borrowed to read the image back for its signature check. */
export async function finish(
  ctx: EngineContext,
  receiver: ImageReceiver,
  block: Uint8Array,
): Promise<"done" | "restart"> {
  const { client, boot, records, progress } = ctx;
  progress.emit("verifying", ctx.packages ? "signature, MD5 and SHA-256" : "MD5 and SHA-256");
  // A delta whose patch did not build the whole target: nothing to check a signature over.
  const incomplete = receiver.incomplete?.() ?? "";
  if (incomplete) return refuse(ctx, "verification failed: delta", incomplete);
  // The signature first: an image is recorded verified only once it passed, so a reset cannot skip the check.
  const signed = ctx.packages
    ? checkSignature(ctx, receiver, block)
    : { ok: true as const, securityCounter: 0 };
  if (!signed.ok)
    return refuse(ctx, `verification failed: ${signed.reason}`, `package refused: ${signed.why}`);
  const verdict = receiver.finish();
  if (!verdict.ok)
    return refuse(
      ctx,
      `verification failed: ${verdict.reason}`,
      `image rejected: ${verdict.reason} mismatch`,
    );
  // The "installing" record lets a reset between here and activation finish the activation; the counter rides
  // along until the trial confirms (only then is it stored as the new floor).
  records.update({ stage: "installing", securityCounter: signed.securityCounter });
  // The image is verified: a delta's checkpoint has nothing left to resume.
  records.clearDeltaCheckpoint();
  const final = await client.finish();
  const updating = final === "OK" ? await client.waitFor(isUpdatingOrFailed, 5000) : undefined;
  if (final !== "OK" || updating?.kind === "update-failed") {
    // The module's OTA is over (10706, a reboot, a timeout): installing now would leave the platform saying failed.
    const why =
      final !== "OK"
        ? `QIOTUPDATE=3 answered ${final}`
        : "the module reported failure (10706) at QIOTUPDATE=3";
    abandonVerified(ctx, why);
    await reportVersion(ctx, runningVersion(ctx));
    progress.emit("failed", `${why}; keeping ${runningVersion(ctx)}`);
    return "done";
  }
  progress.emit("activating", `${verdict.sha256 || verdict.md5}`);
  boot.activate();
  ctx.session.receiver = undefined;
  // A set member before the set's last is only staged: its cycle closes and the engine goes on (set-cycle.ts).
  if (ctx.set?.pendingClose) return "restart";
  progress.emit("restarting", "booting the new image on trial");
  ctx.restart();
  return "restart";
}

/** A bad image: dropped, counted, and the running version reported (never the target's: the OTA ends with 10706). */
async function refuse(ctx: EngineContext, bootReason: string, why: string): Promise<"done"> {
  ctx.boot.abandonReceive(bootReason);
  ctx.session.receiver = undefined;
  const record = ctx.records.load();
  if (record) countFailure(ctx, record);
  ctx.records.clear();
  ctx.records.clearDeltaCheckpoint();
  await reportVersion(ctx, runningVersion(ctx));
  ctx.progress.emit("failed", `${why}; keeping ${runningVersion(ctx)}`);
  return "done";
}

/** Reads the received package back from flash through the signature verifier, a block at a time. */
function checkSignature(
  ctx: EngineContext,
  receiver: ImageReceiver,
  block: Uint8Array,
): { ok: true; securityCounter: number } | { ok: false; reason: string; why: string } {
  const verifier = ctx.packages!;
  // A delta's signature is the target image's (docs/delta-packages.md §1): checked over what will boot.
  const size = receiver.imageSize ?? receiver.descriptor.size;
  verifier.begin({
    targetVersion: receiver.descriptor.version,
    minSecurityCounter: ctx.records.securityCounter(),
  });
  for (let at = 0; at < size; at += block.length) {
    const view = at + block.length <= size ? block : block.subarray(0, size - at);
    receiver.readBack(at, view);
    verifier.write(view);
  }
  const verdict = verifier.finish();
  if (verdict.ok) {
    ctx.progress.log(
      `signed package ${verdict.versionString ?? receiver.descriptor.version}, security counter ${verdict.securityCounter}`,
    );
    return { ok: true, securityCounter: verdict.securityCounter };
  }
  return { ok: false, reason: verdict.reason, why: `${verdict.reason} (${verdict.detail})` };
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
