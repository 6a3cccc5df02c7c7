// The virtual module on the paced sim link (virtual time), with per-command latency, and the scaled clock.

import { equal, ok } from "../../lib/assert.js";
import { VirtualClock } from "../../../hal/sim/virtual-clock.js";
import { createSerialLink } from "../../../hal/sim/serial-link.js";
import { NobleDigestFactory } from "../../../hal/sim/digest.js";
import { VirtualModule } from "../../../tools/module/virtual-module.js";
import { ScaledClock } from "../../../tools/module/scaled-clock.js";
import { makeRig, makePackage, standardPlan, bytesOf, latin1, OK, FILE_SIZE } from "./harness.js";

describe("tools/module on links", () => {
  it("runs on the sim link pair: a 1024-byte read at 115200 baud takes the line time", async () => {
    const clock = new VirtualClock();
    const link = createSerialLink({ clock, baud: 115200 });
    const module = new VirtualModule({
      serial: link.b,
      clock,
      digests: new NobleDigestFactory(),
      plan: standardPlan(),
      packages: new Map([["fw.bin", makePackage(FILE_SIZE)]]),
      settings: {
        productKey: "p11abc",
        productSecret: "s",
        bootDelayMs: 10,
        connectStepMs: 10,
        planDelayMs: 10,
      },
    });
    let received = "";
    const scratch = new Uint8Array(256);
    link.a.onReadable = () => {
      for (let n = link.a.read(scratch); n > 0; n = link.a.read(scratch))
        received += latin1(scratch.subarray(0, n));
    };
    const exchange = async (command: string, until: string | number) => {
      received = "";
      link.a.write(bytesOf(command));
      const done = () => (typeof until === "number" ? received.length >= until : received.includes(until));
      ok(await clock.runUntil(done, 10_000), `${command}: ${JSON.stringify(received)}`);
      return received;
    };
    module.powerOn();
    ok(await clock.runUntil(() => received.includes("RDY\r\n"), 1000));
    equal(await exchange("ATE0\r", OK), "ATE0\r\n" + OK);
    await exchange("AT+QIOTREG=1\r", "3,10200\r\n");
    await exchange('AT+QIOTMCUVER="MCU","1.0.0"\r', OK);
    await exchange("AT+QIOTOTAREQ=1\r", "19656\r\n");
    await exchange("AT+QIOTUPDATE=1\r", '10703,"MCU",19656,0,19656\r\n');
    const sent = clock.now();
    const expected =
      "\r\n+QIOTOTARD: 0,1024\r\n" + latin1(makePackage(FILE_SIZE).subarray(0, 1024)) + "\r\n" + OK;
    equal(await exchange("AT+QIOTOTARD=0,1024\r", expected.length), expected);
    const ms = clock.now() - sent;
    // 20 command bytes + 1055 reply bytes at 11.52 bytes/ms: about 93 ms.
    ok(ms > 90 && ms < 100, `took ${ms} ms`);
    module.powerOff();
  });

  it("per-command latency delays each reply; queued commands run one after another", () => {
    const r = makeRig({ raw: true, settings: { latencyMs: 50 } });
    r.advance(100);
    r.take();
    equal(r.exchange("ATE0\r"), "ATE0\r\n", "the echo comes at once");
    equal(r.exchange("", 50), OK, "the reply after 50 ms");
    r.send("AT\rAT+CSQ\r");
    equal(r.take(), "");
    r.advance(49);
    equal(r.take(), "");
    r.advance(1);
    equal(r.take(), OK);
    r.advance(50);
    equal(r.take(), "\r\n+CSQ: 21,99\r\n" + OK);
  });

  it("ScaledClock runs timers N times faster", () => {
    const base = new VirtualClock();
    const fast = new ScaledClock(base, 60);
    let fired = 0;
    fast.setTimer(() => fired++, 60_000);
    base.advance(999);
    equal(fired, 0);
    base.advance(1);
    equal(fired, 1);
    equal(fast.now(), 60_000);
  });
});
