// Power-cut sweep over the MCUboot backend: a cut (plain and torn) before every flash operation it makes in an update
// cycle, with the MCUboot model at every reset: MCUboot only ever decides NONE, TEST or REVERT, only ever boots the
// old or the new image whole, and the cycle ends as the scenario says (portable).
import { equal, ok } from "../../../lib/assert.js";
import { PowerLoss, SimNorFlash, type TornMode } from "../../../../hal/sim/nor-flash.js";
import { formatMcuboot, openMcuboot, REASON } from "../../../../src/boot/mcuboot/mcuboot-boot.js";
import { SwapType, type SwapMode } from "../../../../src/boot/mcuboot/trailer.js";
import type { ImageDescriptor } from "../../../../src/image/types.js";
import { describeImage, digests, download, inXS, makeImage } from "../fixtures.js";
import { mcubootReset } from "./mcuboot-sim.js";
import { MCUBOOT_GEOMETRIES, holds, makeRig, type McubootGeometry, type Rig } from "./rig.js";

type Scenario = "confirm" | "no-confirm" | "reject";

const OLD = makeImage(4096 + 777, 51);
const NEW = makeImage(2 * 4096 + 1234, 52);
const REJECT = "self-test failed";

interface Life {
  rig: Rig;
  descriptor: ImageDescriptor;
  scenario: Scenario;
  /** Backend operation (1-based) the cut interrupts; 0 = none. */
  cutAt: number;
  torn: TornMode;
  backendOps: number;
  cut: boolean;
  /** Backend operations done before confirm() started (set by the run that reaches it). */
  confirmStart: number;
  decisions: Set<number>;
  /** Receives picked up again after a cut (the journal's verified prefix). */
  resumes: number;
}

const log = (line: string): void => {
  const g = globalThis as { console?: { log(s: string): void }; print?: (s: string) => void };
  if (g.console) g.console.log(line);
  else g.print?.(line);
};

/** Runs backend code with the cut armed if it falls in it; MCUboot's own work at reset is never cut here. */
function backend<T>(life: Life, work: () => T): T {
  const sim = life.rig.sim;
  const before = sim.stats.operations;
  if (!life.cut && life.cutAt > life.backendOps)
    sim.armPowerCut(life.cutAt - life.backendOps, life.torn, life.cutAt * 7919 + 1);
  try {
    return work();
  } finally {
    life.backendOps += sim.stats.operations - before;
    if (sim.cutHappened) life.cut = true;
    sim.disarmPowerCut();
  }
}

function reset(life: Life): void {
  const { rig } = life;
  rig.sim.powerOn();
  // MCUboot's validation (hash, signature) as the model sees it: slot 1 holds the whole new image where it belongs.
  const at = rig.options.mode === "offset" ? rig.layout.blockLength : 0;
  const { swapType } = mcubootReset(rig.sim, rig.layout, rig.trailer, {
    validate: () => holds(rig, 1, NEW, at),
  });
  life.decisions.add(swapType);
  ok(
    swapType === SwapType.none || swapType === SwapType.test || swapType === SwapType.revert,
    `MCUboot decided ${swapType}`,
  );
  ok(holds(rig, 0, OLD) || holds(rig, 0, NEW), "slot 0 holds a whole image after the reset");
  if (swapType === SwapType.test) ok(holds(rig, 0, NEW), "a test swap brings the whole new image");
}

/** The device from whatever the flash holds until the cycle ends; every turn is a reset through MCUboot. */
function drive(life: Life): { final: "old" | "new"; reason: string } {
  const { rig } = life;
  for (let boots = 0; boots < 16; boots++) {
    try {
      const boot = backend(life, () => openMcuboot(rig.sim, rig.layout, digests, rig.options));
      const { running, trial } = boot.report;
      ok(running.version === "1.0" || running.version === "2.0", `running ${running.version}`);
      ok(holds(rig, 0, running.version === "1.0" ? OLD : NEW), `slot 0 holds ${running.version} as reported`);
      if (trial) {
        equal(running.version, "2.0");
        if (life.scenario === "confirm") {
          if (life.cutAt === 0) life.confirmStart = life.backendOps;
          backend(life, () => boot.confirm());
        }
        if (life.scenario === "reject") backend(life, () => boot.reject(REJECT));
        reset(life);
        continue;
      }
      const record = boot.record();
      if (record.slots[0].version === "2.0" && record.slots[0].state === "confirmed")
        return { final: "new", reason: "" };
      const target = record.slots[1];
      if (target.state === "rejected" && target.version === "2.0") {
        ok(!target.reason.startsWith("verify"), `never a failed verification: ${target.reason}`);
        return { final: "old", reason: target.reason };
      }
      backend(life, () => {
        if (target.state === "empty") {
          const rx = boot.startReceive(life.descriptor);
          download(rx, NEW, 1000);
          ok(rx.finish().ok, "image verifies");
        } else if (target.state === "receiving") {
          const rx = boot.resumeReceive()!;
          life.resumes++;
          download(rx, NEW, 1000);
          ok(rx.finish().ok, "resumed image verifies");
        } else if (target.state !== "verified") {
          throw new Error(`unexpected slot 1 state ${target.state} outside a trial`);
        }
        boot.activate();
      });
      reset(life);
    } catch (error) {
      if (!(error instanceof PowerLoss)) throw error;
      reset(life);
    }
  }
  throw new Error("the cycle did not end within 16 resets");
}

function sweep(
  mode: SwapMode,
  g: McubootGeometry,
  scenario: Scenario,
  options: { stride: number; torn: TornMode[] },
): { cuts: number; ops: number; revertedTrials: number; resumes: number; decisions: number[] } {
  const base = makeRig(mode, g);
  formatMcuboot(base.sim, base.layout, digests, { component: "app", version: "1.0", bytes: OLD });
  const descriptor = describeImage(NEW, "2.0");
  const fresh = (): Rig => {
    const rig = makeRig(mode, g);
    // A copy of the formatted flash (copy-on-write), so every run starts from the same factory state.
    return { ...rig, sim: SimNorFlash.from(base.sim) };
  };
  const newLife = (cutAt: number, torn: TornMode): Life => ({
    rig: fresh(),
    descriptor,
    scenario,
    cutAt,
    torn,
    backendOps: 0,
    cut: false,
    confirmStart: -1,
    decisions: new Set(),
    resumes: 0,
  });
  const clean = newLife(0, "none");
  const expected = scenario === "confirm" ? "new" : "old";
  const outcome = drive(clean);
  equal(outcome.final, expected, "clean run");
  const total = clean.backendOps;
  const decisions = new Set(clean.decisions);
  let cuts = 0;
  let revertedTrials = 0;
  let resumes = 0;
  for (let k = 1; k <= total; k += options.stride) {
    for (const torn of options.torn) {
      const life = newLife(k, torn);
      const where = `${mode} ${g.name} ${scenario} cut ${k}/${total} (${torn})`;
      let after: { final: "old" | "new"; reason: string };
      try {
        after = drive(life);
      } catch (error) {
        throw new Error(`${where}: ${error instanceof Error ? error.message : String(error)}`);
      }
      ok(life.cut, `${where}: the cut happened`);
      for (const d of life.decisions) decisions.add(d);
      resumes += life.resumes;
      if (scenario === "confirm") {
        // A cut before image_ok lands (during the trial boot) reverts, as any reset in a trial does; after it, never.
        if (after.final === "old") {
          equal(after.reason, REASON.trialNotConfirmed, where);
          ok(k <= clean.confirmStart + 1, `${where}: reverted although image_ok had been written`);
          revertedTrials++;
        }
      } else {
        equal(after.final, "old", where);
        if (scenario === "reject")
          ok(after.reason === REJECT || after.reason === REASON.trialNotConfirmed, after.reason);
        else equal(after.reason, REASON.trialNotConfirmed, where);
      }
      cuts++;
    }
  }
  return { cuts, ops: total, revertedTrials, resumes, decisions: [...decisions].sort() };
}

describe("src/boot/mcuboot power-cut sweep", () => {
  // XS interprets ~50x slower: one geometry, "confirm" in move mode and "reject" in offset mode, every 3rd cut, torn only.
  const geometries = inXS ? MCUBOOT_GEOMETRIES.filter((g) => g.name === "4K/8") : MCUBOOT_GEOMETRIES;
  // swap-using-scratch shares move's trailer; its slot behaviour runs on Node only.
  for (const mode of inXS ? (["move", "offset"] as const) : (["move", "offset", "scratch"] as const)) {
    const scenarios: Scenario[] = inXS
      ? [mode === "move" ? "confirm" : "reject"]
      : ["confirm", "no-confirm", "reject"];
    for (const g of geometries) {
      for (const scenario of scenarios) {
        it(`${mode} ${g.name}: a cut before every backend flash operation of a "${scenario}" cycle: MCUboot boots a whole image`, () => {
          const started = Date.now();
          const result = sweep(
            mode,
            g,
            scenario,
            inXS ? { stride: 3, torn: ["any"] } : { stride: 1, torn: ["none", "any"] },
          );
          log(
            `      ${mode} ${g.name} ${scenario}: ${result.ops} backend operations, ${result.cuts} cut points, ` +
              `${result.resumes} resumed receives, decisions {${result.decisions.join(",")}}, ${result.revertedTrials} trials reverted by the cut, ${Date.now() - started} ms`,
          );
          ok(result.cuts >= (inXS ? 8 : 40), `${result.cuts} cut points`);
          ok(result.resumes >= (inXS ? 1 : 5), "the sweep exercises resumed receives");
          equal(result.decisions.includes(SwapType.test), true, "the sweep saw test swaps");
        });
      }
    }
  }
});
