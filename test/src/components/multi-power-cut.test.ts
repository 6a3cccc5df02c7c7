// Power-cut sweep through a two-component update (image + data): a cut before every flash operation, of the
// image's flash and of the data areas', plain and torn. After each cut the MCU restarts on what the cut left:
// the old set or the new set runs, never a mix, and the update then completes with the new set.

import { equal, ok } from "../../lib/assert.js";
import type { SimNorFlash } from "../../../hal/sim/nor-flash.js";
import { COMPONENT } from "../sota/rig.js";
import { AREA_BLOCKS, CFG, multiRig, runningSet } from "./multi-rig.js";
import { ComponentStore } from "../../../src/components/set-store.js";
import type { MultiRig } from "./multi-rig.js";

const inXs = typeof (globalThis as { process?: unknown }).process === "undefined";
const MINUTE = 60_000;
const SETTINGS = { settings: { freeSpace: 4096, repushIntervalMs: 120_000 } };
/** The module's order: the image first, or the data first (then a cut finds the data area written, not the image). */
const ORDERS = [
  [COMPONENT, "cfg"],
  ["cfg", COMPONENT],
];
let OPTIONS = { ...SETTINGS, order: ORDERS[0]! };

function done(m: MultiRig, fromState: number): boolean {
  return m.rig.states.slice(fromState).some((s) => s.state === "updated");
}

async function operations(): Promise<{ image: number; areas: number }> {
  const m = multiRig([CFG], OPTIONS);
  m.rig.bootDevice();
  ok(await m.rig.runUntil(() => done(m, 0), 30 * MINUTE), "reference update");
  return { image: m.rig.flash.stats.operations, areas: m.areaFlash.stats.operations };
}

/** Cuts after which the area's download resumed from its journal (the backup untouched, block 0 not rewritten). */
let resumed = 0;

async function cutAt(which: "image" | "areas", operation: number, torn: "none" | "any"): Promise<string> {
  const m = multiRig([CFG], OPTIONS);
  const flash: SimNorFlash = which === "image" ? m.rig.flash : m.areaFlash;
  flash.armPowerCut(operation, torn, operation * 7919);
  m.rig.bootDevice();
  // The rig's own runUntil stops the engine at an image-flash cut (and only once); the areas' cut is seen here.
  ok(await m.rig.runUntil(() => flash.cutHappened, 30 * MINUTE), `${which} cut ${operation} happened`);
  m.rig.powerCut();
  flash.powerOn();
  const where = `${which} cut ${operation}/${torn}`;
  // What the cut left: the data member's status and the sectors its journal vouches for.
  const staging = new ComponentStore(m.rig.kv).set;
  const member = staging?.phase === "staging" ? staging.members.find((x) => x.id === "cfg") : undefined;
  const journaled = Number((m.rig.kv.get("sota.comp.j.cfg") ?? "x:0:0").split(":")[1]);
  m.areaFlash.resetStats();
  const logsFrom = m.rig.logs.length;
  const from = m.rig.states.length;
  m.rig.bootDevice();
  const after = runningSet(m);
  ok(after === "old" || after === "new", `${where}: the device runs ${after}`);
  ok(
    await m.rig.runUntil(() => done(m, from), 60 * MINUTE),
    `${where}: the update completes; states ${JSON.stringify(m.rig.states.slice(-4))}`,
  );
  await m.rig.clock.run(1000);
  const erases = m.areaFlash.stats.erases;
  if (member && member.status !== "pending") {
    // The staging set survived the cut: the backup is never taken a second time.
    equal(erases[AREA_BLOCKS]! + erases[AREA_BLOCKS + 1]!, 0, `${where}: backup blocks erased again`);
  }
  if (member?.status === "backed-up" && journaled >= 1) {
    // A cut inside the area's download: it resumes after its journaled sectors, which are never written again.
    equal(erases[0], 0, `${where}: the journaled sector 0 was erased again`);
    ok(
      m.rig.logs
        .slice(logsFrom)
        .some((l) => l.includes(`cfg 2.0: ${journaled * 4096} bytes resumed from its journal`)),
      `${where}: resume from the journal logged`,
    );
    resumed++;
  }
  // The last boot is the set's trial (or the one the cut left running new): it runs the new set.
  equal(runningSet(m), "new", `${where}: the new set runs in the end`);
  return after;
}

describe("components: power cut before every flash operation of a two-component update", function () {
  this.timeout(900_000);

  for (const order of ORDERS)
    it(`restarts on the old set or the new set, never a mix, and ends with the new set (order ${order.join(", ")})`, async () => {
      OPTIONS = { ...SETTINGS, order };
      const started = Date.now();
      const total = await operations();
      ok(total.image > 10 && total.areas > 4, `operations ${JSON.stringify(total)}`);
      let covered = 0;
      resumed = 0;
      let olds = 0;
      let news = 0;
      for (const which of ["image", "areas"] as const) {
        for (let operation = 1; operation <= total[which]; operation++) {
          for (const torn of ["none", "any"] as const) {
            const outcome = await cutAt(which, operation, torn);
            covered++;
            if (outcome === "old") olds++;
            else news++;
          }
        }
      }
      (globalThis as { print?: (s: string) => void }).print?.(`set cut points: ${covered}`);
      if (!inXs)
        console.log(
          `      ${total.image} + ${total.areas} flash operations per update; ${covered} cut points; ${olds} restarts on the old set, ${news} on the new, ${resumed} resumed the data from its journal; ${((Date.now() - started) / 1000).toFixed(1)} s`,
        );
      ok(olds > 0 && news > 0, "the sweep reached both sides of the activation");
      ok(resumed >= 2, `cuts inside the data download resumed from its journal: ${resumed}`);
    });
});
