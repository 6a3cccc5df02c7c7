// The engine's side of a multi-component task (docs/protocol.md §7): which component is in work, the cycle a
// staged component closes with its version report (10705) before the next one downloads, and the version
// reports of every component at start-up and after the set's trial.

import { isUpdateEnd } from "../quecthing/events.js";
import type { EngineContext } from "./context.js";
import { NO_WINDOW } from "./ota-record.js";
import { reportVersion } from "./report.js";

/** Makes `id` the component in work: the engine's checks (component, space) follow it. */
export function selectComponent(ctx: EngineContext, id: string): void {
  const set = ctx.set;
  if (!set || ctx.config.component === id) return;
  ctx.config.component = id;
  ctx.config.slotSize = set.capacity(id);
  ctx.progress.progress.component = id;
  set.current = id;
}

/**
 * A 10701 (or 10703) of another member of the task in progress: that component is in work now, with an OTA record
 * of its own bound to its target (its digests come with this 10701).
 */
export function followTask(ctx: EngineContext, id: string): void {
  const member = ctx.set?.taskMember(id);
  if (!member || member.status === "staged") return;
  selectComponent(ctx, id);
  const record = ctx.records.load();
  if (record?.component === id && record.targetVersion === member.target) return;
  ctx.session.advancedFrom = -1;
  ctx.session.readLength = 0;
  ctx.session.receiver = undefined;
  ctx.progress.progress.bytes = 0;
  ctx.progress.progress.targetVersion = member.target;
  // One write: the task's confirm covers this component too; its digests are bound when its 10701 is read.
  ctx.records.save({
    component: id,
    sourceVersion: "",
    targetVersion: member.target,
    stage: "confirmed",
    size: 0,
    md5: "",
    sha256: "",
    crc: 0,
    ...NO_WINDOW,
    securityCounter: 0,
  });
}

/**
 * Start-up after a reset inside a data or mod member's download: that member is in work again, so its piece
 * resumes into its area from the component's journal (the set survived the reset, docs/protocol.md §13.6).
 */
export function resumeMember(ctx: EngineContext): void {
  const record = ctx.records.load();
  const member = record ? ctx.set?.taskMember(record.component) : undefined;
  if (record && member && member.kind !== "image" && record.targetVersion === member.target)
    followTask(ctx, record.component);
}

/**
 * A staged member that is not the set's last: its cycle ends with its target version reported (10705), and the
 * next member's download information follows. Returns the deadline for it (0: none expected).
 */
export async function closeCycle(ctx: EngineContext): Promise<number> {
  const set = ctx.set!;
  const id = set.pendingClose;
  set.pendingClose = "";
  const target = set.reported(id);
  ctx.session.receiver = undefined;
  let end;
  // Only after this report does the module start the next component's download (docs/protocol.md §7).
  for (let round = 0; round < 3 && !end; round++) {
    await reportVersion(ctx, target, id);
    end = await ctx.client.waitFor(isUpdateEnd, 10_000);
  }
  ctx.records.clear();
  const next = set.nextInTask(id);
  ctx.progress.emit(
    "updating",
    `${id} ${target} staged (${end?.kind === "update-failed" ? "10706" : "10705"}); ${next ? `next: ${next.id}` : "set incomplete"}`,
  );
  if (!next) return 0;
  followTask(ctx, next.id);
  return ctx.clock.now() + ctx.config.downloadInfoWaitMs;
}

/**
 * Start-up: the version of every data and mod component (the image's is start-up's own report), except one whose
 * OTA is in progress at the module (a report would end it, docs/protocol.md §9.9).
 */
export async function reportMembers(ctx: EngineContext): Promise<void> {
  const set = ctx.set;
  if (!set) return;
  const record = ctx.records.load();
  for (const c of set.components) {
    if (c.kind === "image") continue;
    if (record && record.component === c.id && record.stage !== "stalled" && record.stage !== "installing") {
      ctx.progress.log(
        `OTA of ${c.id} ${record.targetVersion} in progress (${record.stage}): version report held back`,
      );
      continue;
    }
    await reportVersion(ctx, set.reported(c.id), c.id);
  }
}

/**
 * The set's trial confirmed (or a set without an image activated): the set is final, every component reports its
 * new version, and the task's last cycle, still open at the module, ends with 10705.
 */
export async function reportSetInstalled(ctx: EngineContext): Promise<false> {
  const set = ctx.set!;
  set.finalize();
  const record = ctx.records.load();
  ctx.records.raiseSecurityCounter(record?.securityCounter ?? 0);
  const open = record?.stage === "installing" ? record.component : "";
  for (const c of set.components) if (c.id !== open) await reportVersion(ctx, set.committed(c.id), c.id);
  let end;
  // A report lost on the line leaves the module UPDATING for 20 minutes: repeat it until 10705 or 10706.
  for (let round = 0; open && round < 3 && !end; round++) {
    await reportVersion(ctx, set.committed(open), open);
    end = await ctx.client.waitFor(isUpdateEnd, 10_000);
  }
  ctx.records.clear();
  selectComponent(ctx, set.imageId);
  const versions = set.components.map((c) => `${c.id} ${set.committed(c.id)}`).join(", ");
  ctx.progress.progress.targetVersion = set.committed(set.imageId);
  ctx.progress.emit(
    "updated",
    end?.kind === "update-failed" ? `set ${versions}; the module reported 10706` : `set ${versions}`,
  );
  return false;
}
