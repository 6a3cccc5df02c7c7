// The soak in virtual time: `npm run soak -- --updates 1000 --seed N [--verbose]`. Updates in a row on the simulated
// rig with seeded module faults and MCU resets, the chaos invariants after each, then the wear table; exit 1 on a breach.
import { parseArgs } from "node:util";
import { describePlan, formatWear, runSoak } from "../test/src/sota/soak.js";

const { values } = parseArgs({
  options: {
    updates: { type: "string", default: "1000" },
    seed: { type: "string" },
    verbose: { type: "boolean", default: false },
  },
});
const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
const updates = Number(values.updates);
if (!Number.isInteger(seed) || !Number.isInteger(updates) || updates < 1) {
  console.error("usage: soak --updates N --seed N [--verbose]");
  process.exit(1);
}
console.log(`soak: ${updates} updates, seed ${seed} (replay with --seed ${seed})`);
const started = Date.now();
const result = await runSoak({
  seed,
  updates,
  onUpdate: (u) => {
    if (values.verbose || u.violations.length > 0 || u.plan.index % 50 === 0)
      console.log(
        `${describePlan(u.plan)} => ${u.completed ? "updated" : "gave up"} in ${(u.virtualMs / 1000).toFixed(1)} s virtual`,
      );
  },
});
console.log(
  `${result.updates} updates (${result.completed} updated, ${result.gaveUp} given up by the engine's policy), ` +
    `${(result.virtualMs / 3_600_000).toFixed(1)} h virtual, ${((Date.now() - started) / 1000).toFixed(0)} s real`,
);
console.log(formatWear(result));
if (result.failed) {
  console.log(`violations in update ${result.failed.plan.index} (${describePlan(result.failed.plan)}):`);
  for (const v of result.failed.violations) console.log(`  ${v}`);
  process.exitCode = 1;
}
