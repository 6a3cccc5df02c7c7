// A power-cut sweep through a delta update: a cut before every flash operation (plain and torn), then the
// restart must run a whole image and the update must end with the target built and confirmed (portable).

import { equal, ok } from "../../lib/assert.js";
import { inspectBoot, readSlotImage } from "../../../src/boot/generic-boot.js";
import { NEW_VERSION, OLD_VERSION, Rig } from "./rig.js";
import type { RigOptions } from "./rig.js";

const MINUTE = 60_000;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

export interface SweepResult {
  operations: number;
  covered: number;
  /** Restarts that went on from a delta checkpoint. */
  resumes: number;
  /** Restarts that found the new image already activated. */
  bootedNew: number;
}

async function reference(options: RigOptions): Promise<number> {
  const rig = new Rig(options);
  rig.bootDevice();
  ok(await rig.runUntil(() => rig.monitorHas("success") && rig.hasState("updated"), 20 * MINUTE));
  return rig.flash.stats.operations;
}

async function cutAndRecover(
  options: RigOptions,
  operation: number,
  torn: "none" | "any",
): Promise<{ resumed: boolean; bootedNew: boolean }> {
  const rig = new Rig(options);
  const oldSha = rig.sha256(rig.oldImage);
  const newSha = rig.sha256(rig.newImage);
  rig.flash.armPowerCut(operation, torn, operation * 7919);
  rig.bootDevice();
  ok(await rig.runUntil(() => rig.flash.cutHappened, 20 * MINUTE), `cut ${operation} happened`);
  rig.powerCut();
  rig.flash.powerOn();
  const commandsBefore = rig.commands.length;
  rig.bootDevice();
  const report = rig.boots[rig.boots.length - 1]!;
  const running = rig.runningSha256(report);
  ok(running === oldSha || running === newSha, `cut ${operation}/${torn}: a whole image runs`);
  equal(report.running.version, running === newSha ? NEW_VERSION : OLD_VERSION);
  ok(
    await rig.runUntil(() => rig.monitorHas("success") && rig.hasState("updated"), 60 * MINUTE),
    `cut ${operation}/${torn}: the update completes; states ${JSON.stringify(rig.states.slice(-4))}`,
  );
  await rig.clock.run(1000);
  const final = inspectBoot(rig.flash, rig.layout);
  const slot = final.slots.find((s) => s.version === NEW_VERSION && s.state === "confirmed");
  ok(slot !== undefined, `cut ${operation}/${torn}: ${JSON.stringify(final.slots)}`);
  ok(sameBytes(readSlotImage(rig.flash, rig.layout, slot.slot, slot.size), rig.newImage));
  // A resume from a checkpoint applies the package on from there: below it, only the digests' re-read.
  const resumed = rig.logs.map((l) => /delta resumes at package byte (\d+)/.exec(l)).find((m) => m !== null);
  if (resumed) {
    const from = Number(resumed[1]);
    const reads = rig.readStarts(commandsBefore);
    const prefix = rig.logs.some((l) =>
      l.includes(`the package's first ${from} bytes read again for its digests`),
    );
    const applied = prefix ? reads.slice(reads.findIndex((at, i) => i > 0 && at === from)) : reads;
    ok(applied.length > 0 && applied[0] === from, `cut ${operation}/${torn}: reads ${reads} from ${from}`);
    ok(
      !rig.logs.some((l) => l.includes("package digests not compared")) || !prefix,
      `cut ${operation}/${torn}: the digests were re-read, yet not compared`,
    );
  }
  equal(rig.link.a.droppedBytes, 0, `cut ${operation}/${torn}: no byte lost on the FIFO`);
  return { resumed: resumed !== undefined, bootedNew: running === newSha };
}

/** Cuts before every flash operation of the update `options` describes, plain and torn (or only `torns`). */
export async function sweepDeltaUpdate(
  options: RigOptions,
  torns: readonly ("none" | "any")[] = ["none", "any"],
): Promise<SweepResult> {
  const operations = await reference(options);
  const result: SweepResult = { operations, covered: 0, resumes: 0, bootedNew: 0 };
  for (let operation = 1; operation <= operations; operation++) {
    for (const torn of torns) {
      const outcome = await cutAndRecover(options, operation, torn);
      result.covered++;
      if (outcome.resumed) result.resumes++;
      if (outcome.bootedNew) result.bootedNew++;
    }
  }
  return result;
}
