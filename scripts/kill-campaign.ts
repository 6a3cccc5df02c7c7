// The long kill campaign: `npm run campaign:kill -- --kills 500 --seed N [--per-update K] [--trace]`. Real
// sota-module and sota-device processes over a socat pty; prints the kills per phase and exits 1 on any problem.
import { parseArgs } from "node:util";
import { formatCampaign, runCampaign } from "../test/tools/device/kill-campaign.js";
import { requireSocat } from "../test/lib/socat.js";

const { values } = parseArgs({
  options: {
    kills: { type: "string", default: "500" },
    seed: { type: "string" },
    "per-update": { type: "string", default: "5" },
    trace: { type: "boolean", default: false },
  },
});
try {
  requireSocat();
} catch (error) {
  console.error(`kill-campaign: ${(error as Error).message}`);
  process.exit(1);
}
const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
const kills = Number(values.kills);
const perUpdate = Number(values["per-update"]);
if (
  !Number.isInteger(seed) ||
  !Number.isInteger(kills) ||
  kills < 1 ||
  !Number.isInteger(perUpdate) ||
  perUpdate < 1
) {
  console.error("usage: kill-campaign --kills N --seed N [--per-update K] [--trace]");
  process.exit(1);
}
console.log(
  `kill campaign: ${kills} kills, ${perUpdate} per update, seed ${seed} (replay with --seed ${seed})`,
);
const result = await runCampaign({
  seed,
  kills,
  perUpdate,
  log: (line) => console.log(line),
  trace: values.trace ? (line) => console.log(`  ${line}`) : undefined,
});
console.log(formatCampaign(result));
for (const problem of result.problems) console.log(problem);
process.exitCode = result.problems.length === 0 ? 0 : 1;
