// The kill campaign in the test suite (Node-only, real processes over a socat pty): one update with the device
// SIGKILLed once in every phase at seeded instants, restarted each time on the same flash while the module runs on.
import assert from "node:assert/strict";
import { PHASES, formatCampaign, runCampaign } from "./kill-campaign.js";
import { requireSocat } from "../../lib/socat.js";

const seed = Number(process.env["KILL_SEED"] ?? 11);

describe("kill campaign over real processes: sota-device killed in every phase, sota-module running on", function () {
  this.timeout(200_000);

  before(() => requireSocat());

  it(`every kill recovers: the image runs confirmed with its SHA-256, 10705, no verified sector read twice (KILL_SEED=${seed})`, async () => {
    const result = await runCampaign({ seed, kills: PHASES.length, targeted: true });
    console.log(
      formatCampaign(result)
        .split("\n")
        .map((line) => `      ${line}`)
        .join("\n"),
    );
    assert.deepEqual(result.problems, []);
    const missed = PHASES.filter((phase) => !result.counts.has(phase));
    assert.deepEqual(missed, [], "every phase got at least one kill");
    // A kill between the trial boot and its confirm rolls back (one trial boot): that, and only that, costs a 10706.
    assert.ok(
      result.rollbacks >= 1 &&
        result.rollbacks <= (result.counts.get("trial") ?? 0) + (result.counts.get("trial confirm") ?? 0),
    );
  });
});
