// The engine's loop against a whole device (mutation-testing survivors): the exact states of an update, a plan
// asked for on demand, no plan offered, a stop that comes twice. Portable (runs in the XS lane too).

import { deepEqual, equal, ok } from "../../lib/assert.js";
import { NEW_VERSION, OLD_VERSION, Rig } from "./rig.js";

const MINUTE = 60_000;

describe("SOTA engine edges", () => {
  it("an update's states and reasons, in order, up to the trial's report", async () => {
    const rig = new Rig({ imageSize: 4096 });
    rig.bootDevice();
    ok(await rig.runUntil(() => rig.hasState("updated"), 30 * MINUTE), JSON.stringify(rig.states.slice(-3)));
    const states = rig.states.map((s) => `${s.state}: ${s.reason}`);
    const first = states.slice(0, states.indexOf("stopped: ") + 1);
    deepEqual(
      first.map((s) => s.replace(/[0-9a-f]{32,64}/g, "#")),
      [
        "starting: echo off, buffer mode",
        "connecting: AT+QIOTSTATE?, then AT+QIOTREG=1 if offline",
        `reporting: AT+QIOTMCUVER app ${OLD_VERSION}`,
        `online: running ${OLD_VERSION}`,
        "requesting: AT+QIOTOTAREQ=1",
        `offered: app (full) -> ${NEW_VERSION}, 4096 bytes`,
        `confirmed: update ${OLD_VERSION} -> ${NEW_VERSION}`,
        "downloading: 4096 bytes, md5 #, sha256 #",
        "verifying: MD5 and SHA-256",
        "activating: #",
        "restarting: booting the new image on trial",
        "stopped: ",
      ],
    );
    ok(states.includes(`updated: running ${NEW_VERSION}`));
    // The restart stopped the first engine once: one "stopped" between the two boots.
    equal(states.filter((s) => s === "stopped: ").length, 1);
  });

  it("requestPlan() asks at once, however far the next scheduled request is; stop() twice stops once", async () => {
    const rig = new Rig({
      imageSize: 4096,
      component: { targetVersion: OLD_VERSION },
      engine: { planIntervalMs: 10 * MINUTE, planWaitMs: 5000 },
    });
    rig.bootDevice();
    // The module has no plan for the version already running: the request times out into "no plan".
    ok(await rig.runUntil(() => rig.hasState("no-plan"), 5 * MINUTE), JSON.stringify(rig.states.slice(-3)));
    equal(rig.states.find((s) => s.state === "no-plan")!.reason, "no plan offered");
    const asked = (): number => rig.commands.filter((c) => c === "AT+QIOTOTAREQ=1").length;
    const before = asked();
    await rig.runUntil(() => false, MINUTE);
    equal(asked(), before, "no request before the interval");
    rig.engine!.requestPlan();
    ok(await rig.runUntil(() => asked() === before + 1, 10_000), "requested on demand");
    const engine = rig.engine!;
    engine.stop();
    engine.stop();
    await rig.runUntil(() => false, 1000);
    equal(rig.states.filter((s) => s.state === "stopped").length, 1);
    equal(rig.lastState(), "stopped");
  });
});
