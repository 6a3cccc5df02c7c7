// The trial's health check has a deadline of its own (below the board's watchdog), and flow control is asked of
// the module at start-up when the board wires RTS/CTS.

import { equal, ok } from "../../lib/assert.js";
import { NEW_VERSION, OLD_VERSION, Rig } from "./rig.js";

const MINUTE = 60_000;

describe("SOTA engine: the health check's deadline and the module's flow control", () => {
  it("a health check that never answers fails after healthCheckTimeoutMs: rolled back, old version reported", async () => {
    const rig = new Rig({
      imageSize: 4096,
      engine: { healthCheck: () => new Promise<boolean>(() => undefined), healthCheckTimeoutMs: 5000 },
    });
    rig.bootDevice();
    ok(await rig.runUntil(() => rig.boots.length === 3, 30 * MINUTE), JSON.stringify(rig.states.slice(-4)));
    equal(rig.boots[1]!.running.version, NEW_VERSION);
    equal(rig.boots[2]!.running.version, OLD_VERSION);
    ok(rig.logs.some((line) => /health check gave no answer within 5000 ms/.test(line)));
    ok(rig.states.some((s) => s.state === "restarting" && /health check failed/.test(s.reason)));
  });

  it("a health check that throws fails like one that answers false", async () => {
    const rig = new Rig({
      imageSize: 4096,
      engine: {
        healthCheck: () => {
          throw new Error("sensor missing");
        },
      },
    });
    rig.bootDevice();
    ok(await rig.runUntil(() => rig.boots.length === 3, 30 * MINUTE));
    equal(rig.boots[2]!.running.version, OLD_VERSION);
    ok(rig.logs.some((line) => /health check threw: sensor missing/.test(line)));
  });

  it("flowControl sends AT+IFC=2,2 right after buffer mode; without it nothing is sent", async () => {
    for (const flowControl of [true, false]) {
      const rig = new Rig({ imageSize: 4096, engine: { flowControl } });
      rig.bootDevice();
      ok(await rig.runUntil(() => rig.commands.includes("AT+QIOTSTATE?"), MINUTE));
      const buffer = rig.commands.indexOf('AT+QIOTCFG="buffer",1');
      equal(rig.commands[buffer + 1] === "AT+IFC=2,2", flowControl);
      equal(rig.commands.includes("AT+IFC=2,2"), flowControl);
    }
  });
});
