// Start-up and reporting: echo off, buffer mode, product info, the connection, then the step the resume
// table picks (trial, report of an installed image, activation of a verified one, or the version report).

import type { TimerHandle } from "../../hal/clock.js";
import { isUpdateEnd, isUpdateFailed } from "../quecthing/events.js";
import { DeltaReceiver } from "../image/delta-receiver.js";
import type { EngineContext } from "./context.js";
import { abandonVerified } from "./finish.js";
import { reportVersion } from "./report.js";
import { resumeAction } from "./resume.js";
import { closeCycle, reportMembers, reportSetInstalled, resumeMember, selectComponent } from "./set-cycle.js";

/** Returns true when the engine handed over to a restart. */
export async function startUp(ctx: EngineContext): Promise<boolean> {
  const { client, boot, records, config, progress, session } = ctx;
  client.acknowledgeRestart();
  // Start-up speaks for the image first; a set's other components are reported after it (set-cycle.ts).
  if (ctx.set) selectComponent(ctx, ctx.set.imageId);
  if (boot.report.trial && session.trialTimer === undefined) {
    // A new image that cannot reach the module can never be updated again: that fails its trial too.
    session.trialTimer = ctx.clock.setTimer(() => {
      session.rejection ??= rejectTrial(ctx, "no confirmed connection to the module in time", true);
    }, config.trialTimeoutMs);
  }
  progress.emit("starting", "echo off, buffer mode");
  const buffer = await client.prepare(config.nbIot);
  // Some settings are refused while connected (a reset MCU finds the module online): the lexer honours
  // raw-byte downlink URCs by their length anyway, so this is not worth failing start-up for.
  if (buffer !== "OK")
    progress.log(`buffer mode answered ${buffer}: raw downlink URCs will be read by length`);
  if (config.flowControl) {
    const flow = await client.setFlowControl(true);
    if (flow !== "OK") progress.log(`AT+IFC=2,2 answered ${flow}: the module keeps its flow control setting`);
  }
  await configureProduct(ctx);
  await connect(ctx);

  const report = boot.report;
  const record = records.load();
  progress.progress.runningVersion = report.running.version;
  // A set without an image was activated by the restart (settled in the engine): its last cycle is still open.
  if (
    ctx.set &&
    record?.stage === "installing" &&
    record.component !== config.component &&
    ctx.set.committed(record.component) === record.targetVersion
  )
    return reportSetInstalled(ctx);
  const action = resumeAction({
    component: config.component,
    record,
    boot: report,
    history: records.lastHistory(),
    rollbackReported: session.rollbackReported,
  });

  switch (action.kind) {
    case "trial":
      return runTrial(ctx);
    case "report-installed":
      return ctx.set ? reportSetInstalled(ctx) : reportInstalled(ctx, report.running.version);
    case "activate-verified": {
      records.update({ stage: "installing" });
      const final = await client.finish();
      if (final !== "OK") {
        // The module no longer holds this OTA (it rebooted or gave up): the verified image stays uninstalled.
        abandonVerified(ctx, `QIOTUPDATE=3 after a reset answered ${final}`);
        await reportVersion(ctx, report.running.version);
        progress.emit(
          "failed",
          `the module no longer holds the OTA of ${action.slot.version}; keeping ${report.running.version}`,
        );
        progress.emit("online", `running ${report.running.version}`);
        return false;
      }
      boot.activate();
      if (ctx.set?.pendingClose) {
        // A set member before the set's last: staged now, its cycle closes and the next member follows.
        await closeCycle(ctx);
        progress.emit("online", `running ${report.running.version}`);
        return false;
      }
      progress.emit("restarting", `activating the verified ${action.slot.version} left by a reset`);
      ctx.restart();
      return true;
    }
    case "online":
      break;
  }

  if (action.dropVerified) boot.abandonReceive("verified image without a matching OTA record");
  if (action.dropRecord) records.clear();
  switch (action.report) {
    case "rollback":
      session.rollbackReported = true;
      // Not remembered as rejected: an unconfirmed trial may be a power cut, and the next offer deserves a try.
      records.clear();
      await reportVersion(ctx, report.running.version);
      progress.emit("failed", `rolled back to ${report.running.version}: ${report.rollbackReason}`);
      break;
    case "rejection": {
      const rejected = records.lastHistory()!;
      await reportVersion(ctx, report.running.version);
      records.saveHistory({ ...rejected, announced: true });
      const notice = rejected.rejectedReason || rejected.lastFailure;
      progress.emit(
        "failed",
        `${rejected.version} ${rejected.rejectedReason ? "rejected" : "not kept"} (${notice}): rolled back to ${report.running.version}`,
      );
      break;
    }
    case "hold": {
      const pending = records.load()!;
      progress.log(
        `OTA of ${pending.targetVersion} in progress (${pending.stage}): version report held back`,
      );
      break;
    }
    case "version":
      await reportVersion(ctx, ctx.set ? ctx.set.reported(config.component) : report.running.version);
      break;
  }
  await reportMembers(ctx);
  resumeMember(ctx);

  // After a module reboot the receive in RAM still knows what it erased ahead (none after an MCU reset: RAM is new).
  const inRam = session.receiver instanceof DeltaReceiver ? session.receiver.target : session.receiver;
  session.receiver = boot.resumeReceive(inRam);
  if (session.receiver) {
    progress.log(
      `resumable image ${session.receiver.descriptor.version}: ${session.receiver.received} bytes verified`,
    );
  }
  progress.emit("online", `running ${report.running.version}`);
  return false;
}

/** The trial boot of a new image: health check, confirm, then the version report ends the OTA with 10705. */
async function runTrial(ctx: EngineContext): Promise<boolean> {
  const { client, boot, config, progress, session } = ctx;
  const version = boot.report.running.version;
  progress.emit("trial", `trial boot of ${version}`);
  const healthy = config.healthCheck ? await checkHealth(ctx, config.healthCheck) : true;
  // The trial timer may have rejected the image while the health check ran.
  if (session.rejection) {
    await session.rejection;
    return true;
  }
  client.check();
  if (!healthy) {
    await (session.rejection = rejectTrial(ctx, "health check failed", true));
    return true;
  }
  if (client.hasEvent(isUpdateFailed)) {
    // The module ended this OTA as failed (10706) before we confirmed: keep the platform and the device agreed.
    // Counted, not banned: the image did nothing wrong, but a module that keeps failing must not loop forever.
    const reason = "the module ended the OTA (10706) before the trial was confirmed";
    await (session.rejection = rejectTrial(ctx, reason, false));
    return true;
  }
  ctx.clock.clearTimer(session.trialTimer);
  session.trialTimer = undefined;
  // The boot record's confirm is the atomic step; the counter follows it (and again at the next start if cut).
  boot.confirm();
  // The set's trial covered every component: they are confirmed with the image.
  return ctx.set ? reportSetInstalled(ctx) : reportInstalled(ctx, version);
}

/** The health check's verdict; one that throws or has not answered within healthCheckTimeoutMs failed. */
async function checkHealth(ctx: EngineContext, check: () => boolean | Promise<boolean>): Promise<boolean> {
  let timer: TimerHandle | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = ctx.clock.setTimer(() => {
      ctx.progress.log(`health check gave no answer within ${ctx.config.healthCheckTimeoutMs} ms`);
      resolve(false);
    }, ctx.config.healthCheckTimeoutMs);
  });
  try {
    return await Promise.race([Promise.resolve().then(check), late]);
  } catch (error) {
    ctx.progress.log(`health check threw: ${error instanceof Error ? error.message : String(error)}`);
    return false;
  } finally {
    ctx.clock.clearTimer(timer);
  }
}

/** Rejects the running trial image and restarts into the confirmed one, telling the module first. */
export async function rejectTrial(ctx: EngineContext, reason: string, remember: boolean): Promise<void> {
  const { client, boot, records, config, progress, session } = ctx;
  if (client.stopped) return;
  ctx.clock.clearTimer(session.trialTimer);
  session.trialTimer = undefined;
  const report = boot.report;
  const history = records.history(config.component, report.running.version);
  // The history is written first: a power cut after the rejection must still remember it.
  records.saveHistory(
    remember
      ? { ...history, rejectedReason: reason, announced: false }
      : { ...history, failures: history.failures + 1, lastFailure: reason, announced: false },
  );
  // The OTA record goes before the boot record: an "installing" record must never outlive its image.
  records.clear();
  boot.reject(reason);
  // The module is UPDATING: the old version's report ends its OTA now (10706), not after 20 minutes.
  const fallback = report.slots.find((slot) => slot.state === "confirmed");
  if (fallback && client.quiet) {
    try {
      await reportVersion(ctx, fallback.version);
    } catch {
      // A module that does not answer learns it at the next start-up's report.
    }
  }
  progress.emit("restarting", `${reason}: rolling back`);
  ctx.restart();
}

/** The new image runs confirmed: its version report ends the module's OTA with 10705. */
async function reportInstalled(ctx: EngineContext, version: string): Promise<false> {
  // A confirmed image raises the security counter floor: nothing older may be installed from here on.
  ctx.records.raiseSecurityCounter(ctx.records.load()?.securityCounter ?? 0);
  let done;
  // A report lost on the line leaves the module UPDATING for 20 minutes: repeat it until 10705 or 10706.
  for (let round = 0; round < 3 && !done; round++) {
    await reportVersion(ctx, version);
    done = await ctx.client.waitFor(isUpdateEnd, 10_000);
  }
  ctx.records.clear();
  ctx.progress.progress.targetVersion = version;
  ctx.progress.emit(
    "updated",
    done?.kind === "update-failed" ? "confirmed; the module reported 10706" : `running ${version}`,
  );
  return false;
}

/** Until the module is online, with each failed attempt and its back-off told to the app. */
export async function connect(ctx: EngineContext): Promise<void> {
  ctx.progress.emit("connecting", "AT+QIOTSTATE?, then AT+QIOTREG=1 if offline");
  await ctx.client.connect(ctx.config.connectTimeoutMs, {
    failed: (failure, backoffMs) =>
      ctx.progress.emit("connecting", `${failure}; retrying in ${Math.round(backoffMs / 1000)} s`),
    retrying: (attempt) => ctx.progress.emit("connecting", `retry ${attempt}`),
  });
}

async function configureProduct(ctx: EngineContext): Promise<void> {
  const { productKey, productSecret } = ctx.config;
  if (!productKey || !productSecret) return;
  const final = await ctx.client.configureProduct(productKey, productSecret);
  if (final !== "OK")
    ctx.progress.log(`product info answered ${final} (send AT+QIOTREG=0 first if connected)`);
}
