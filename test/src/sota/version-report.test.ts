// The version report the module must hold before any plan can match: a report that failed is owed, and goes out
// again before the next plan request (found by the chaos property, seed 184528556).

import { equal, ok } from "../../lib/assert.js";
import { COMPONENT, OLD_VERSION, Rig } from "./rig.js";

const MINUTE = 60_000;

describe("SOTA engine: the version report is owed until the module takes it", () => {
  it("three ERRORs to the start-up report: reported again before the next AT+QIOTOTAREQ, and the update happens", async () => {
    const rig = new Rig({
      imageSize: 4096,
      faults: ["error:cmd=QIOTMCUVER,nth=1,times=3"],
      engine: { planIntervalMs: 5 * MINUTE },
    });
    rig.bootDevice();
    ok(
      await rig.runUntil(() => rig.monitorHas("success") && rig.hasState("updated"), 30 * MINUTE),
      JSON.stringify(rig.states.slice(-4)),
    );
    const report = `AT+QIOTMCUVER="${COMPONENT}","${OLD_VERSION}"`;
    const firstRequest = rig.commands.indexOf("AT+QIOTOTAREQ=1");
    const reports = rig.commands.slice(0, firstRequest).filter((line) => line === report).length;
    equal(reports, 4, "three refused reports, then the one that is taken before the plan request");
  });
});
