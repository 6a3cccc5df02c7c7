// Offers and policy: judge the 10700s of one task, confirm or refuse it, and bind the download information
// (10701) to the confirmed plan. The OTA record is written before the confirm goes out.

import type { QuecEvent } from "../quecthing/events.js";
import { describeEvent } from "../quecthing/events.js";
import type { EngineContext } from "./context.js";
import { eraseBeforeConfirm } from "./download.js";
import { NO_WINDOW } from "./ota-record.js";
import type { OtaRecord } from "./ota-record.js";
import { decidePlan } from "./policy.js";
import { selectComponent } from "./set-cycle.js";
import type { PlanOffer } from "./policy.js";

/** Confirms or refuses the offers of one task; returns true if we confirmed. */
export async function decide(ctx: EngineContext, offers: PlanOffer[]): Promise<boolean> {
  if (offers.length === 0) return false;
  if (ctx.set) return decideSet(ctx, offers);
  const { client, boot, records, config, progress } = ctx;
  // The module offers nothing while its own OTA is active (docs/protocol.md §9.12): an offer means it is idle again.
  const previous = records.load();
  const ours = offers.find((offer) => offer.component === config.component);
  const offer = ours ?? offers[0]!;
  // QIOTUPDATE=1 confirms the whole task (docs/protocol.md §9a): a component we do not handle would fail it at its first 10703.
  const foreign = offers.find((other) => other.component !== config.component);
  progress.progress.targetVersion = offer.targetVersion;
  progress.progress.total = offer.space;
  progress.emit(
    "offered",
    `${offer.component} ${offer.sourceVersion || "(full)"} -> ${offer.targetVersion}, ${offer.space} bytes`,
  );
  const signalDbm = await client.signalDbm();
  const decision = decidePlan(ours && foreign ? foreign : offer, {
    component: config.component,
    runningVersion: boot.report.running.version,
    allowDowngrade: config.allowDowngrade,
    batteryPercent: ctx.system.batteryPercent(),
    signalDbm,
    slotSize: config.slotSize,
    acceptDifferential: config.acceptDifferential,
    history: records.history(offer.component, offer.targetVersion),
    maxFailures: config.maxFailures,
  });
  if (!decision.accept) {
    await client.refuse();
    const current = decision.code === "not-newer" && offer.targetVersion === boot.report.running.version;
    progress.emit(current ? "current" : "refused", decision.reason);
    // The module offers only when idle (docs/protocol.md §9.12): an OTA the record still calls in progress is over.
    markStalled(ctx, previous);
    return false;
  }
  return confirmOffer(ctx, offer, previous, decision.reason);
}

/** Records the plan, then confirms the task (QIOTUPDATE=1); true if the module took it. */
async function confirmOffer(
  ctx: EngineContext,
  offer: PlanOffer,
  previous: OtaRecord | undefined,
  reason: string,
): Promise<boolean> {
  const { client, records, progress, session } = ctx;
  // A retried download of the same plan may bring 10702 without 10701 (docs/protocol.md §9.8): keep that plan's digests.
  const samePlan =
    previous !== undefined &&
    previous.component === offer.component &&
    previous.targetVersion === offer.targetVersion;
  // Written before the confirm goes out: from then on a version report would be compared with the old target.
  records.save({
    component: offer.component,
    sourceVersion: offer.sourceVersion,
    targetVersion: offer.targetVersion,
    stage: "confirming",
    size: samePlan ? previous.size : 0,
    md5: samePlan ? previous.md5 : "",
    sha256: samePlan ? previous.sha256 : "",
    crc: samePlan ? previous.crc : 0,
    ...NO_WINDOW,
    securityCounter: 0,
  });
  // The module waits for this answer and fetches nothing meanwhile: the first sectors are erased now (decision 82).
  eraseBeforeConfirm(ctx, offer);
  const final = await client.confirm();
  if (final === "ERROR" || final === "CME ERROR") {
    // A definite no: the module has no plan to download, so nothing is in progress.
    if (previous) records.save({ ...previous, stage: "stalled" });
    else records.clear();
    progress.emit("failed", `the module did not take the confirm (${final})`);
    return false;
  }
  // A timed-out confirm may still have been taken: the record stays, and silence will mark it stalled.
  records.update({ stage: "confirmed" });
  // A new download cycle: its pieces and the module's read length are learned afresh.
  session.advancedFrom = -1;
  session.readLength = 0;
  progress.emit("confirmed", reason);
  return true;
}

/**
 * A task of several components (docs/protocol.md §9a: QIOTUPDATE=0/1 acts on the whole task): confirmed only if every
 * component is ours and passes its gates, else refused as a whole with the reason of each component.
 */
async function decideSet(ctx: EngineContext, offers: PlanOffer[]): Promise<boolean> {
  const { client, records, config, progress } = ctx;
  const set = ctx.set!;
  const previous = records.load();
  progress.progress.targetVersion = offers[0]!.targetVersion;
  progress.progress.total = offers.reduce((sum, o) => sum + o.space, 0);
  progress.emit(
    "offered",
    offers
      .map((o) => `${o.component} ${o.sourceVersion || "(full)"} -> ${o.targetVersion}, ${o.space} bytes`)
      .join("; "),
  );
  const signalDbm = await client.signalDbm();
  const refusals: string[] = [];
  let current = 0;
  for (const offer of offers) {
    const id = offer.component;
    const member = set.member(id);
    if (!member) {
      refusals.push(`${id}: not a component of this device (${set.components.map((c) => c.id).join(", ")})`);
      continue;
    }
    // A data or mod area is written as received: only the image's download applies a patch (docs/delta-packages.md).
    if (offer.sourceVersion !== "" && member.kind !== "image") {
      refusals.push(
        `${id}: a differential package for a ${member.kind} component (only the image takes deltas)`,
      );
      continue;
    }
    const decision = decidePlan(offer, {
      component: id,
      runningVersion: set.committed(id),
      allowDowngrade: config.allowDowngrade,
      batteryPercent: ctx.system.batteryPercent(),
      signalDbm,
      slotSize: set.capacity(id),
      acceptDifferential: config.acceptDifferential,
      history: records.history(id, offer.targetVersion),
      maxFailures: config.maxFailures,
    });
    if (decision.accept) continue;
    if (decision.code === "not-newer" && offer.targetVersion === set.committed(id)) current++;
    refusals.push(`${id}: ${decision.reason}`);
  }
  if (refusals.length > 0) {
    await client.refuse();
    for (const refusal of refusals) progress.log(`task refused: ${refusal}`);
    progress.emit(current === offers.length ? "current" : "refused", refusals.join("; "));
    markStalled(ctx, previous);
    return false;
  }
  set.beginTask(offers);
  const first = offers[0]!;
  selectComponent(ctx, first.component);
  const reason = offers
    .map((o) => `${o.component} ${set.committed(o.component)} -> ${o.targetVersion}`)
    .join(", ");
  return confirmOffer(ctx, first, previous, `update ${reason}`);
}

/** An OTA the record still calls in progress is over: keep its digests for a resume, mark it stalled. */
export function markStalled(ctx: EngineContext, record: OtaRecord | undefined): void {
  if (record && record.stage !== "stalled") ctx.records.save({ ...record, stage: "stalled" });
}

/** An offer the decoder could not read must still be answered, or the module waits in REVICEPLAN. */
export async function refuseUnreadable(ctx: EngineContext, line: string, reason: string): Promise<void> {
  ctx.progress.emit("offered", line);
  await ctx.client.refuse();
  ctx.progress.emit("refused", `unreadable offer (${reason})`);
}

/** Binds a 10701's digests to the confirmed plan; false if the download is not ours. */
export function bindDownload(
  ctx: EngineContext,
  event: Extract<QuecEvent, { kind: "download-start" }>,
): boolean {
  const { records, config, progress, session } = ctx;
  const record = records.load();
  if (event.component !== config.component || !record || record.component !== event.component) {
    progress.log(`download information without a plan of ours ignored: ${describeEvent(event)}`);
    return false;
  }
  if (record.md5 !== "" && (record.md5 !== event.md5 || record.size !== event.size)) {
    // Other digests for the same plan: another package came without a 10700 (docs/protocol.md §9.8). Do not guess.
    progress.log(
      `download information for another file than the plan's (${describeEvent(event)}): not bound`,
    );
    records.clear();
    return false;
  }
  if (event.size > config.slotSize) {
    records.clear();
    progress.emit("failed", `image of ${event.size} bytes does not fit the ${config.slotSize}-byte slot`);
    return false;
  }
  records.update({
    stage: "downloading",
    size: event.size,
    md5: event.md5,
    sha256: event.sha256,
    crc: event.crc,
  });
  session.advancedFrom = -1;
  session.readLength = 0;
  progress.progress.total = event.size;
  progress.emit(
    "downloading",
    `${event.size} bytes, md5 ${event.md5}${event.sha256 ? ", sha256 " + event.sha256 : ""}`,
  );
  return true;
}

/** A 10702 for our OTA: the record moves to "downloading" once (10702 repeats every few seconds). */
export function noteDownloading(ctx: EngineContext): boolean {
  const record = ctx.records.load();
  // A stalled record is not revived by a bare 10702: it carries no component (a FOTA download prints it too).
  if (
    record?.component !== ctx.config.component ||
    record.stage === "installing" ||
    record.stage === "stalled"
  )
    return false;
  if (record.stage !== "downloading") {
    ctx.records.update({ stage: "downloading" });
    ctx.progress.emit("downloading", "the module is downloading");
  }
  return true;
}
