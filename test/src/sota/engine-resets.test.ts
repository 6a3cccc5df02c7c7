// The engine at the awkward moments: an MCU reset right after the confirm or right after the trial's confirm,
// a trial image that never reaches the module, a plan that also updates a component we do not handle,
// differential packages, and versions that failed too often.

import { sleep } from "../../../hal/clock.js";
import { deepEqual, equal, ok } from "../../lib/assert.js";
import { COMPONENT, NEW_VERSION, OLD_VERSION, Rig } from "./rig.js";

const MINUTE = 60_000;

describe("SOTA engine: resets at the awkward moments, and plans it must not take", () => {
  it("an MCU reset right after QIOTUPDATE=1 sends no version report (the module would compare it with its previous target, docs/protocol.md §9.9)", async () => {
    let cut = false;
    const rig = new Rig({
      imageSize: 8192,
      moduleOtaTarget: OLD_VERSION,
      // The confirm is on the wire; its OK never reaches this MCU.
      onCommand: (line) => {
        if (line === "AT+QIOTUPDATE=1" && !cut) {
          rig.clock.setTimer(() => {
            cut = true;
            rig.powerCut();
          }, 0);
        }
      },
    });
    rig.bootDevice();
    ok(await rig.runUntil(() => cut, 5 * MINUTE));
    const before = rig.commands.length;
    rig.bootDevice();
    ok(
      await rig.runUntil(() => rig.monitorHas("success") && rig.hasState("updated"), 30 * MINUTE),
      JSON.stringify(rig.states.slice(-4)),
    );
    const afterReset = rig.commands.slice(before);
    const firstReport = afterReset.find((c) => c.startsWith("AT+QIOTMCUVER"));
    equal(
      firstReport,
      `AT+QIOTMCUVER="${COMPONENT}","${NEW_VERSION}"`,
      "the first report after the reset is the new version, after the update",
    );
    equal(rig.module.monitor.entries.filter((e) => e.event === "success").length, 1);
  });

  it("a reset between the trial's confirm and its version report: the next start reports the new version (10705)", async () => {
    let cut = false;
    const rig = new Rig({
      imageSize: 8192,
      onState: (state, reason) => {
        if (state === "reporting" && reason.endsWith(NEW_VERSION) && !cut) {
          cut = true;
          rig.powerCut();
        }
      },
    });
    rig.bootDevice();
    ok(await rig.runUntil(() => cut, 10 * MINUTE));
    ok(!rig.monitorHas("success"));
    rig.bootDevice();
    ok(
      await rig.runUntil(() => rig.monitorHas("success"), 2 * MINUTE),
      "10705 after the restart, not 10706 after 20 minutes",
    );
    const report = rig.boots[rig.boots.length - 1]!;
    equal(report.trial, false);
    equal(report.running.version, NEW_VERSION);
  });

  it("a trial image that never reaches the module is rejected after the trial timeout and the old image runs again", async () => {
    const rig = new Rig({
      imageSize: 8192,
      engine: { trialTimeoutMs: 3 * MINUTE },
      onState: (state) => {
        if (state === "restarting" && rig.boots.length === 1) rig.module.powerOff();
      },
    });
    rig.bootDevice();
    ok(await rig.runUntil(() => rig.boots.length === 3, 10 * MINUTE), JSON.stringify(rig.states.slice(-4)));
    ok(
      rig.states.some(
        (s) => s.state === "restarting" && /no confirmed connection to the module in time/.test(s.reason),
      ),
    );
    deepEqual(
      rig.boots.map((b) => [b.running.version, b.trial]),
      [
        [OLD_VERSION, false],
        [NEW_VERSION, true],
        [OLD_VERSION, false],
      ],
    );
    equal(rig.runningSha256(rig.boots[2]!), rig.sha256(rig.oldImage));
  });

  it("a 10706 during a slow trial: not kept, announced after the rollback, counted, and refused after three rounds", async () => {
    const rig: Rig = new Rig({
      imageSize: 8192,
      // The module gives up UPDATING after 3 s; the trial's health check takes 5 s.
      settings: { updateTimeoutMs: 3000 },
      engine: { healthCheck: () => sleep(rig.clock, 5000).then(() => true) },
    });
    rig.bootDevice();
    ok(await rig.runUntil(() => rig.hasState("refused"), 60 * MINUTE), JSON.stringify(rig.states.slice(-4)));
    equal(rig.states.find((s) => s.state === "refused")!.reason, "1.1.0 failed 3 times on this device");
    ok(
      rig.states.some(
        (s) => s.state === "failed" && /1\.1\.0 not kept \(the module ended the OTA \(10706\)/.test(s.reason),
      ),
      "the app hears why after each rollback",
    );
    const last = rig.boots[rig.boots.length - 1]!;
    equal(last.running.version, OLD_VERSION);
    equal(rig.module.monitor.entries.filter((e) => e.event === "success").length, 0);
  });

  it("a power cut right after QIOTUPDATE=2 with part of a sector unjournaled: the module starts over, nothing is counted, the update completes", async () => {
    let cut = false;
    const rig: Rig = new Rig({
      imageSize: 30_000,
      // 10,000-byte pieces end inside a 4 KiB sector: the journal keeps only 8,192 bytes of the first piece.
      settings: { freeSpace: 10_000 },
      onCommand: (line) => {
        if (line === "AT+QIOTUPDATE=2" && !cut) {
          rig.clock.setTimer(() => {
            cut = true;
            rig.powerCut();
          }, 0);
        }
      },
    });
    rig.bootDevice();
    ok(await rig.runUntil(() => cut, 10 * MINUTE));
    rig.bootDevice();
    ok(
      await rig.runUntil(() => rig.monitorHas("success") && rig.hasState("updated"), 60 * MINUTE),
      JSON.stringify(rig.states.slice(-4)),
    );
    ok(
      rig.states.some(
        (s) => s.state === "failed" && /piece at 10000, but 8192 bytes verified here/.test(s.reason),
      ),
    );
    equal(rig.kv.get("sota.history"), undefined, "no failure counted against 1.1.0");
  });

  it("stop() ends the engine at once, even in a retry back-off", async () => {
    const rig = new Rig({ imageSize: 4096 });
    rig.module.powerOff();
    rig.bootDevice();
    const engine = rig.engine!;
    let ended = false;
    void engine.start().then(() => {
      ended = true;
    });
    await rig.clock.run(30_000);
    equal(ended, false, "still retrying ATE0");
    engine.stop();
    await rig.clock.settle();
    equal(ended, true, "no timer had to fire");
  });

  it("refuses a plan that also updates a component this device does not handle (QIOTUPDATE=1 would confirm both)", async () => {
    const rig = new Rig({
      imageSize: 4096,
      extraComponents: [{ id: "gnss", type: "full", targetVersion: "0.2", package: "pkg.bin" }],
      moduleMcuList: [["gnss", "0.1"]],
    });
    rig.bootDevice();
    ok(await rig.runUntil(() => rig.hasState("refused"), 5 * MINUTE));
    const refusal = rig.states.find((s) => s.state === "refused")!;
    equal(refusal.reason, 'component "gnss" is not ours ("app")');
    ok(rig.commands.includes("AT+QIOTUPDATE=0") && !rig.commands.includes("AT+QIOTUPDATE=1"));
  });

  it("refuses a differential package by default, and installs it as an image for its source version when allowed", async () => {
    const refusing = new Rig({ imageSize: 4096, component: { type: "diff", sourceVersion: OLD_VERSION } });
    refusing.bootDevice();
    ok(await refusing.runUntil(() => refusing.hasState("refused"), 5 * MINUTE));
    equal(
      refusing.states.find((s) => s.state === "refused")!.reason,
      "differential package from 1.0.0: this device installs full images only",
    );

    const taking = new Rig({
      imageSize: 4096,
      component: { type: "diff", sourceVersion: OLD_VERSION },
      engine: { acceptDifferential: true },
    });
    taking.bootDevice();
    ok(await taking.runUntil(() => taking.monitorHas("success") && taking.hasState("updated"), 10 * MINUTE));
  });

  it("a setting passed as undefined keeps its default (maxFailures 3)", async () => {
    const rig = new Rig({ imageSize: 4096, engine: { maxFailures: undefined, trialTimeoutMs: undefined } });
    rig.kv.set(
      "sota.history",
      JSON.stringify({
        component: COMPONENT,
        version: NEW_VERSION,
        failures: 2,
        rejectedReason: "",
        announced: false,
      }),
    );
    rig.bootDevice();
    ok(
      await rig.runUntil(() => rig.monitorHas("success") && rig.hasState("updated"), 10 * MINUTE),
      "2 failures < 3: offered and taken",
    );
  });

  it("refuses a version that already failed three times here (each try erases the slot and costs data)", async () => {
    const rig = new Rig({ imageSize: 4096 });
    rig.kv.set(
      "sota.history",
      JSON.stringify({
        component: COMPONENT,
        version: NEW_VERSION,
        failures: 3,
        rejectedReason: "",
        announced: false,
      }),
    );
    rig.bootDevice();
    ok(await rig.runUntil(() => rig.hasState("refused"), 5 * MINUTE));
    equal(rig.states.find((s) => s.state === "refused")!.reason, "1.1.0 failed 3 times on this device");
  });

  it("counts a corrupted download as a failure of that version", async () => {
    const rig = new Rig({ imageSize: 8192, faults: ["corrupt:read=3,at=100,len=4"] });
    rig.bootDevice();
    ok(await rig.runUntil(() => rig.hasState("failed"), 10 * MINUTE));
    deepEqual(JSON.parse(rig.kv.get("sota.history")!), {
      component: COMPONENT,
      version: NEW_VERSION,
      failures: 1,
      rejectedReason: "",
      lastFailure: "",
      announced: false,
    });
  });
});
