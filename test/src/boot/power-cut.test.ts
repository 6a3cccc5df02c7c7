// Power-cut sweep: a cut (plain and torn) before every flash operation of whole update cycles, on several geometries (portable).
import { equal, ok } from "../../lib/assert.js";
import type { FlashPartition } from "../../../hal/flash.js";
import { PowerLoss, SimNorFlash, type TornMode } from "../../../hal/sim/nor-flash.js";
import { REASON, formatFactory, openBoot, type GenericBootControl } from "../../../src/boot/generic-boot.js";
import type { FlashLayout } from "../../../src/flash-format/layout.js";
import type { ImageDescriptor } from "../../../src/image/types.js";
import {
  GEOMETRIES,
  describeImage,
  digests,
  download,
  inXS,
  makeFlash,
  makeImage,
  sha256Hex,
  type Geometry,
} from "./fixtures.js";

type Scenario = "confirm" | "no-confirm" | "reject";

interface Cycle {
  flash: FlashPartition;
  sim: SimNorFlash;
  layout: FlashLayout;
  oldImage: Uint8Array;
  newImage: Uint8Array;
  /** The new image's descriptor, hashed once per sweep (pure-JS hashing is most of a sweep's time). */
  descriptor: ImageDescriptor;
  chunk: number;
  scenario: Scenario;
  trialBoots: number;
  /** Least resumable prefix a resume must report (whole sectors journaled before the cut). */
  minPrefix: number;
  resumes: number;
}

interface Outcome {
  final: "new" | "old";
  reason: string;
}

const log = (line: string): void => {
  const g = globalThis as { console?: { log(s: string): void }; print?: (s: string) => void };
  if (g.console) g.console.log(line);
  else g.print?.(line);
};

/** Whatever start-up decided, the running slot holds exactly one of the two images, as its record says. */
function checkBoot(cycle: Cycle, boot: GenericBootControl, shas: { old: string; new: string }): void {
  const { running, trial } = boot.report;
  const record = boot.record();
  equal(running.state, trial ? "pending-test" : "confirmed", "running slot state");
  equal(trial, running.slot !== record.confirmedSlot, "trial iff not the confirmed slot");
  const expected = running.version === "1.0" ? shas.old : running.version === "2.0" ? shas.new : "?";
  equal(running.sha256, expected, `record of running ${running.version}`);
  // Byte-exact against the expected image: as strict as its SHA-256 and much cheaper in a sweep of hundreds of boots.
  const image = expected === shas.old ? cycle.oldImage : cycle.newImage;
  equal(running.size, image.length);
  const bytes = cycle.sim.inspect(cycle.layout.slots[running.slot]!.offset, image.length);
  for (let i = 0; i < image.length; i++)
    if (bytes[i] !== image[i]) equal(bytes[i], image[i], `running slot ${running.slot} byte ${i}`);
  // A torn record makes start-up re-check the confirmed image: "ok" then; never a mismatch.
  if (trial) equal(boot.report.integrity, "ok");
  else ok(boot.report.integrity !== "mismatch", "confirmed image intact");
}

/** The device's life from whatever state the flash is in until the cycle ends; every loop turn is a restart. */
function drive(cycle: Cycle, shas: { old: string; new: string }): Outcome {
  const descriptor = cycle.descriptor;
  for (let boots = 0; boots < 12; boots++) {
    const boot = openBoot(cycle.flash, cycle.layout, digests, { trialBoots: cycle.trialBoots });
    checkBoot(cycle, boot, shas);
    if (boot.report.trial) {
      if (cycle.scenario === "confirm") boot.confirm();
      if (cycle.scenario === "reject") boot.reject("self-test failed");
      continue;
    }
    const record = boot.record();
    const target = record.slots[1 - record.confirmedSlot];
    if (record.slots[record.confirmedSlot].version === "2.0") return { final: "new", reason: "" };
    if (target.state === "rejected" && target.version === "2.0") {
      ok(!target.reason.startsWith("verify"), `never a failed verification: ${target.reason}`);
      return { final: "old", reason: target.reason };
    }
    if (target.state === "empty") {
      const rx = boot.startReceive(descriptor);
      download(rx, cycle.newImage, cycle.chunk);
      const verdict = rx.finish();
      ok(verdict.ok, `image verifies (${verdict.reason})`);
    } else if (target.state === "receiving") {
      const rx = boot.resumeReceive()!;
      cycle.resumes++;
      equal(rx.descriptor.md5, descriptor.md5);
      const bl = cycle.layout.blockLength;
      ok(
        rx.received >= cycle.minPrefix,
        `resume lost journaled sectors: ${rx.received} < ${cycle.minPrefix}`,
      );
      ok(
        rx.received % bl === 0 || rx.received === descriptor.size,
        `prefix ${rx.received} on a sector boundary`,
      );
      const first = cycle.layout.slots[1 - record.confirmedSlot].offset / bl;
      const kept = Math.floor(rx.received / bl);
      const written = cycle.sim.stats.bytesWritten.slice(first, first + kept);
      const erased = cycle.sim.stats.erases.slice(first, first + kept);
      download(rx, cycle.newImage, cycle.chunk);
      for (let b = 0; b < kept; b++) {
        equal(cycle.sim.stats.bytesWritten[first + b], written[b], `verified sector ${b} rewritten`);
        equal(cycle.sim.stats.erases[first + b], erased[b], `verified sector ${b} erased`);
      }
      const verdict = rx.finish();
      ok(verdict.ok, `resumed image verifies (${verdict.reason})`);
    } else if (target.state !== "verified") {
      throw new Error(`unexpected target state ${target.state} outside a trial`);
    }
    // The engine activates and restarts; the next loop turn is that restart.
    boot.activate();
  }
  throw new Error("the cycle did not end within 12 start-ups");
}

/** Flash operation numbers (1-based, as the sim counts them) at which each journal entry was written. */
function journalOps(sim: SimNorFlash, layout: FlashLayout): { flash: FlashPartition; ops: number[] } {
  const ops: number[] = [];
  const flash: FlashPartition = {
    status: () => sim.status(),
    eraseBlock: (start, end) => sim.eraseBlock(start, end),
    read: (into, offset) => sim.read(into, offset),
    write: (bytes, offset) => {
      const inJournal =
        offset >= layout.journal.offset && offset < layout.journal.offset + layout.journal.length;
      if (inJournal && bytes.length > 0) ops.push(sim.stats.operations + 1);
      sim.write(bytes, offset);
    },
  };
  return { flash, ops };
}

function sweep(
  g: Geometry,
  scenario: Scenario,
  options: { stride: number; torn: TornMode[] },
): { cuts: number; resumes: number; ms: number } {
  const { flash: base, layout } = makeFlash(g);
  const oldImage = makeImage(g.blockLength + 77, 31);
  // A few sectors, fewer on 64 KiB blocks so the sweep stays fast (it hashes the image at every start-up).
  const newImage = makeImage(g.blockLength === 4096 ? 2 * 4096 + 2048 + 3 : g.blockLength + 3001, 32);
  formatFactory(base, layout, digests, { component: "app", version: "1.0", bytes: oldImage });
  const shas = { old: sha256Hex(oldImage), new: sha256Hex(newImage) };
  const descriptor = describeImage(newImage, "2.0");
  const chunk = g.blockLength === 4096 ? 1000 : 7000;
  const trialBoots = scenario === "confirm" ? 2 : 1;
  const expected: Outcome =
    scenario === "confirm"
      ? { final: "new", reason: "" }
      : { final: "old", reason: scenario === "reject" ? "self-test failed" : REASON.trialNotConfirmed };
  const started = Date.now();

  // The clean run: how many operations one cycle takes, and when each sector got journaled.
  const clean = SimNorFlash.from(base);
  const spy = journalOps(clean, layout);
  const cleanCycle: Cycle = {
    flash: spy.flash,
    sim: clean,
    layout,
    oldImage,
    newImage,
    descriptor,
    chunk,
    scenario,
    trialBoots,
    minPrefix: 0,
    resumes: 0,
  };
  const outcome = drive(cleanCycle, shas);
  equal(outcome.final, expected.final);
  equal(outcome.reason, expected.reason);
  const total = clean.stats.operations;
  let cuts = 0;
  let resumes = 0;
  for (let k = 1; k <= total; k += options.stride) {
    for (const torn of options.torn) {
      const sim = SimNorFlash.from(base);
      sim.armPowerCut(k, torn, k * 7919 + 1);
      const sectorsJournaled = spy.ops.filter((op) => op < k).length;
      const cycle: Cycle = {
        flash: sim,
        sim,
        layout,
        oldImage,
        newImage,
        descriptor,
        chunk,
        scenario,
        trialBoots,
        minPrefix: Math.min(newImage.length, sectorsJournaled * g.blockLength),
        resumes: 0,
      };
      let cut = false;
      try {
        drive(cycle, shas);
      } catch (error) {
        if (!(error instanceof PowerLoss))
          throw new Error(`${g.name} ${scenario} cut ${k} ${torn}: ${String(error)}`);
        cut = true;
      }
      ok(cut && sim.cutHappened, `cut ${k} of ${total} happened`);
      sim.powerOn();
      let after: Outcome;
      try {
        after = drive(cycle, shas);
      } catch (error) {
        throw new Error(
          `${g.name} ${scenario} after cut ${k}/${total} (${torn}): ${error instanceof Error ? error.message : String(error)}`,
        );
      }
      equal(after.final, expected.final, `${g.name} ${scenario} cut ${k} ${torn}: final image`);
      if (scenario === "reject")
        ok(after.reason === "self-test failed" || after.reason === REASON.trialNotConfirmed, after.reason);
      else equal(after.reason, expected.reason, `${g.name} ${scenario} cut ${k} ${torn}: reason`);
      cuts++;
      resumes += cycle.resumes;
    }
  }
  return { cuts, resumes, ms: Date.now() - started };
}

describe("src/boot power-cut sweep", () => {
  const scenarios: Scenario[] = ["confirm", "no-confirm", "reject"];
  // XS interprets ~50x slower: one geometry, two cycles, every 3rd cut, torn only.
  const geometries = inXS ? GEOMETRIES.filter((g) => g.name === "4K/16") : GEOMETRIES;
  for (const g of geometries) {
    for (const scenario of inXS ? scenarios.filter((s) => s !== "no-confirm") : scenarios) {
      it(`${g.name}: a cut before every flash operation of a "${scenario}" cycle boots a whole image and finishes the cycle`, () => {
        const result = sweep(
          g,
          scenario,
          inXS ? { stride: 3, torn: ["any"] } : { stride: 1, torn: ["none", "any"] },
        );
        log(
          `      ${g.name} ${scenario}: ${result.cuts} cut points (${result.resumes} resumed receives) in ${result.ms} ms`,
        );
        ok(result.resumes >= (inXS ? 1 : 5), "the sweep exercises resumed receives");
        ok(result.cuts >= (inXS ? 8 : 40), `${result.cuts} cut points`);
      });
    }
  }
});
