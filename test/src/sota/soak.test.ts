// The short soak (the full one: `npm run soak -- --updates 1000 --seed N`): updates in a row on the simulated rig
// with seeded module faults and MCU resets, the chaos invariants after each, and the wear table. Portable.
import { ok } from "../../lib/assert.js";
import { Rig } from "./rig.js";
import { describePlan, formatWear, runSoak } from "./soak.js";

const inXs = typeof (globalThis as { process?: unknown }).process === "undefined";
const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env ?? {};

describe("soak in virtual time: updates in a row with module faults and MCU resets", function () {
  this.timeout(inXs ? 1_800_000 : 60_000);

  it("every update keeps the chaos invariants; each version follows the last; slot blocks erased about once per write", async () => {
    const seed = Number(env["SOAK_SEED"] ?? 20261206);
    const updates = inXs ? 3 : Number(env["SOAK_UPDATES"] ?? 10);
    const result = await runSoak({ seed, updates });
    if (!inXs) {
      console.log(
        `      seed ${seed} (SOAK_SEED=${seed} replays it): ${result.completed} of ${result.updates} updated`,
      );
      for (const line of formatWear(result).split("\n")) console.log(`      ${line}`);
    }
    ok(
      result.failed === undefined,
      result.failed ? `${describePlan(result.failed.plan)}\n${result.failed.violations.join("\n")}` : "",
    );
    ok(result.updates === updates, `${result.updates} of ${updates} updates ran`);
    ok(result.completed > 0, "some updates complete");
    // Wear: a fault may cost a block a second erase now and then, never a habit.
    const erases = result.layout.slots.map((slot) => {
      let n = 0;
      for (let b = slot.first; b < slot.first + slot.count; b++) n += result.erases[b] ?? 0;
      return n;
    });
    const written = result.imageBlocks.reduce((a, b) => a + b, 0);
    ok(
      erases[0]! + erases[1]! <= 2 * written,
      `${erases[0]! + erases[1]!} slot erases for ${written} blocks written`,
    );
  });

  it("fixed (found by the soak, seed 20261206 update 366): three ERRORs to the start-up's version report left the component unknown to the module for good; the report is now repeated before the next plan request", async () => {
    const rig = new Rig({ imageSize: 8192, faults: ["error:cmd=QIOTMCUVER,nth=1,times=3"] });
    rig.bootDevice();
    const done = await rig.runUntil(
      () => rig.monitorHas("success") && rig.hasState("updated"),
      3 * 3_600_000,
    );
    ok(done, `no update: ${rig.logs.slice(-8).join(" / ")}`);
    // Start-up's three attempts, the one before the next plan request, then the new version's after the trial.
    const reports = rig.commands.filter((c) => c.startsWith("AT+QIOTMCUVER="));
    ok(
      reports.join(" ") ===
        'AT+QIOTMCUVER="app","1.0.0" AT+QIOTMCUVER="app","1.0.0" AT+QIOTMCUVER="app","1.0.0" AT+QIOTMCUVER="app","1.0.0" AT+QIOTMCUVER="app","1.1.0"',
      reports.join(" "),
    );
  });
});
