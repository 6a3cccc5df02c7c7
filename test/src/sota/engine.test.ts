// The SOTA engine end to end against the virtual module, on the simulated UART and flash in virtual time.

import { deepEqual, equal, ok } from "../../lib/assert.js";
import { COMPONENT, NEW_VERSION, OLD_VERSION, Rig, imageFor } from "./rig.js";

const MINUTE = 60_000;
const inXs = typeof (globalThis as { process?: unknown }).process === "undefined";

async function updateEnds(rig: Rig, maxMs = 30 * MINUTE): Promise<void> {
  rig.bootDevice();
  const done = await rig.runUntil(
    () => rig.monitorHas("success") || rig.monitorHas("failure") || rig.hasState("refused"),
    maxMs,
  );
  ok(done, `no end of the update; last states: ${JSON.stringify(rig.states.slice(-5))}`);
  await rig.clock.run(2000);
}

function assertUpdated(rig: Rig): void {
  ok(rig.monitorHas("success"), "module saw 10705");
  ok(rig.hasState("updated"), "the engine reported the update");
  const report = rig.boots[rig.boots.length - 1]!;
  equal(report.running.version, NEW_VERSION);
  equal(rig.runningSha256(report), rig.sha256(rig.newImage), "the running slot holds the new image");
  const confirmed = rig.boots.length;
  equal(confirmed, 2, "one restart into the trial");
  ok(rig.commands.includes(`AT+QIOTMCUVER="${COMPONENT}","${NEW_VERSION}"`));
}

describe("SOTA engine against the virtual module", () => {
  it("updates a 19,656-byte image: exact command sequence, 20 reads from 0, 10705 and the new version running", async () => {
    const rig = new Rig({ imageSize: 19_656, settings: { echo: true } });
    await updateEnds(rig);
    assertUpdated(rig);
    const starts = rig.readStarts();
    deepEqual(
      starts,
      Array.from({ length: 20 }, (_, i) => i * 1024),
    );
    const at = (text: string) => rig.commands.indexOf(text);
    ok(at("ATE0") === 0, "ATE0 first");
    ok(at('AT+QIOTCFG="buffer",1') > at("ATE0"));
    ok(at(`AT+QIOTMCUVER="app","${OLD_VERSION}"`) > at("AT+QIOTREG=1"), "version after connect");
    ok(at("AT+QIOTOTAREQ=1") > at(`AT+QIOTMCUVER="app","${OLD_VERSION}"`), "plan request after version");
    ok(at("AT+QIOTUPDATE=1") > at("AT+QIOTOTAREQ=1"));
    ok(at("AT+QIOTUPDATE=3") > rig.commands.lastIndexOf("AT+QIOTOTARD=19456,200"));
    equal(
      rig.commands.filter((c) => c.startsWith("AT+QIOTMCUVER")).length,
      2,
      "one report per boot, none during the OTA",
    );
    equal(rig.link.a.droppedBytes, 0);
  });

  it(`updates a ${inXs ? "96 KiB" : "1 MiB"} image delivered in several pieces, with QIOTUPDATE=2 between them and no read before the next 10703`, async () => {
    const size = inXs ? 96 * 1024 : 1024 * 1024;
    const piece = inXs ? 32 * 1024 : 256 * 1024;
    const rig = new Rig({ imageSize: size, settings: { freeSpace: piece } });
    await updateEnds(rig, 90 * MINUTE);
    assertUpdated(rig);
    equal(rig.commands.filter((c) => c === "AT+QIOTUPDATE=2").length, size / piece - 1);
    const starts = rig.readStarts();
    equal(starts.length, size / 1024);
    equal(starts[starts.length - 1], size - 1024);
    // After each QIOTUPDATE=2 the next read is at the new piece's start (the module printed 10703 first).
    rig.commands.forEach((c, i) => {
      if (c !== "AT+QIOTUPDATE=2") return;
      const next = rig.commands.slice(i + 1).find((x) => x.startsWith("AT+QIOTOTARD="));
      ok(next !== undefined && Number(/=(\d+)/.exec(next)![1]) % piece === 0, `read after UPDATE=2: ${next}`);
    });
  });

  describe("refusals: one per policy gate, each with its reason and QIOTUPDATE=0", () => {
    const cases: { name: string; options: ConstructorParameters<typeof Rig>[0]; reason: RegExp }[] = [
      {
        name: "battery below the minimum",
        options: { imageSize: 4096, battery: 15, component: { minBattery: 30 } },
        reason: /battery 15% below .* 30%/,
      },
      {
        name: "signal below the minimum",
        options: { imageSize: 4096, settings: { signalDbm: -105 }, component: { minSignal: -90 } },
        reason: /signal -105 dBm below .* -90 dBm/,
      },
      {
        name: "image larger than the slot",
        options: { imageSize: 40_000, slotSize: 16_384 },
        reason: /does not fit the 16384-byte slot/,
      },
      {
        name: "downgrade",
        options: {
          imageSize: 4096,
          component: { targetVersion: "0.9.0" },
          packageBytes: imageFor("0.9.0", 4096),
        },
        reason: /downgrade to 0\.9\.0 from 1\.0\.0 not allowed/,
      },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        const rig = new Rig(c.options);
        rig.bootDevice();
        ok(
          await rig.runUntil(() => rig.hasState("refused") || rig.hasState("updated"), 5 * MINUTE),
          "a decision",
        );
        const refusal = rig.states.find((s) => s.state === "refused")!;
        ok(c.reason.test(refusal.reason), `reason: ${refusal.reason}`);
        ok(rig.commands.includes("AT+QIOTUPDATE=0"));
        ok(!rig.commands.includes("AT+QIOTUPDATE=1"));
        ok(rig.module.monitor.entries.some((e) => e.event === "refused"));
        equal(rig.boots.length, 1);
      });
    }

    it("a plan for another component only (the module knows a gnss component from earlier firmware)", async () => {
      const rig = new Rig({ imageSize: 4096, component: { id: "gnss" }, moduleMcuList: [["gnss", "0.1"]] });
      rig.bootDevice();
      ok(await rig.runUntil(() => rig.hasState("refused"), 5 * MINUTE));
      const refusal = rig.states.find((s) => s.state === "refused")!;
      ok(/component "gnss" is not ours/.test(refusal.reason), refusal.reason);
      ok(rig.commands.includes("AT+QIOTUPDATE=0"));
    });
  });

  it("a corrupted image (digests announced for other data): no activation, the old version reported, journal cleared", async () => {
    const rig = new Rig({ imageSize: 12_000, faults: ["corrupt:read=3,at=100,len=4"] });
    await updateEnds(rig);
    ok(rig.monitorHas("failure"));
    const failure = rig.states.find((s) => s.state === "failed")!;
    ok(/md5 mismatch/.test(failure.reason), failure.reason);
    equal(rig.boots.length, 1, "no restart");
    const versionReports = rig.commands.filter((c) => c.startsWith("AT+QIOTMCUVER"));
    deepEqual(versionReports, [
      `AT+QIOTMCUVER="app","${OLD_VERSION}"`,
      `AT+QIOTMCUVER="app","${OLD_VERSION}"`,
    ]);
    ok(!rig.commands.includes("AT+QIOTUPDATE=3"));
    rig.powerCut();
    rig.bootDevice();
    const report = rig.boots[1]!;
    equal(report.running.version, OLD_VERSION);
    equal(rig.runningSha256(report), rig.sha256(rig.oldImage));
    ok(
      report.slots.every((s) => s.state !== "receiving" && s.state !== "verified"),
      JSON.stringify(report.slots),
    );
  });

  it("a 10706 mid-download fails cleanly, keeps the old image, and the re-pushed plan resumes from the verified prefix", async () => {
    const rig = new Rig({ imageSize: 24_576, faults: ["inject10706:read=14"] });
    rig.bootDevice();
    ok(await rig.runUntil(() => rig.monitorHas("failure"), 10 * MINUTE));
    await rig.clock.run(1000);
    ok(rig.states.some((s) => s.state === "failed" && /10706/.test(s.reason)));
    const firstReads = rig.readStarts().length;
    ok(await rig.runUntil(() => rig.monitorHas("success"), 30 * MINUTE), "the re-push ends in success");
    await rig.clock.run(2000);
    assertUpdated(rig);
    const resumed = rig.readStarts().slice(firstReads);
    ok(resumed[0]! >= 8192, `resumed at ${resumed[0]} (whole verified 4 KiB sectors are not read again)`);
  });

  it("a module reboot mid-download: start-up again (echo off, connect), the old image intact, then the update completes", async () => {
    const rig = new Rig({ imageSize: 24_576, faults: ["reboot:read=10"] });
    rig.bootDevice();
    ok(await rig.runUntil(() => rig.monitorHas("success"), 40 * MINUTE), "ends in success after the re-push");
    await rig.clock.run(2000);
    assertUpdated(rig);
    const ate0 = rig.commands.filter((c) => c === "ATE0").length;
    ok(ate0 >= 3, `ATE0 after the module's RDY (${ate0})`);
  });

  it("a confirm answered ERROR right after 10700 (module race) is retried once", async () => {
    const rig = new Rig({ imageSize: 8192, faults: ["race:ms=500"] });
    await updateEnds(rig);
    assertUpdated(rig);
    equal(rig.commands.filter((c) => c === "AT+QIOTUPDATE=1").length, 2);
  });

  it("survives line noise: a dropped payload byte, a bad header offset and an ERROR are retried without restarting", async () => {
    const rig = new Rig({
      imageSize: 16_384,
      faults: [
        "drop:read=3,at=10,len=1",
        "bad-offset:read=6,delta=1024",
        "error:cmd=QIOTOTARD,nth=8",
        "urc-before-ok:read=9",
      ],
    });
    await updateEnds(rig);
    assertUpdated(rig);
    const starts = rig.readStarts();
    const retried = starts.filter((start, i) => i > 0 && starts[i - 1] === start);
    // Faults count module reads, retries included: read 3 loses a byte (2048), read 6 has a bad header and read 7 gets ERROR (4096).
    deepEqual(
      retried,
      [2048, 4096, 4096],
      "one retry each for the lost byte, the bad header and the ERROR, in place",
    );
    deepEqual(
      [...new Set(starts)],
      [...starts.filter((start, i) => i === 0 || starts[i - 1] !== start)],
      "never backwards",
    );
    ok(
      rig.logs.some((l) => /payload framing/.test(l)),
      "the lost byte was caught by the payload framing check",
    );
  });

  it("on a 128-byte receive FIFO (ESP32 UART) no byte is ever lost to an erase or a write", async () => {
    const rig = new Rig({ imageSize: 65_536, fifoSize: 128, settings: { freeSpace: 32_768 } });
    await updateEnds(rig);
    assertUpdated(rig);
    equal(rig.link.a.droppedBytes, 0);
    ok(rig.flash.stats.eraseCount >= 16, "erases happened between reads");
  });

  it("a trial image that fails its health check: the old version is reported at once (10706), and the next start runs the old image", async () => {
    const rig = new Rig({ imageSize: 8192, engine: { healthCheck: () => false } });
    rig.bootDevice();
    ok(await rig.runUntil(() => rig.monitorHas("failure"), 10 * MINUTE), "the module ended the OTA");
    await rig.clock.run(2000);
    ok(rig.states.some((s) => s.state === "restarting" && /health check failed/.test(s.reason)));
    const reports = rig.commands.filter((c) => c.startsWith("AT+QIOTMCUVER"));
    deepEqual(
      reports.slice(-2),
      [`AT+QIOTMCUVER="app","${OLD_VERSION}"`, `AT+QIOTMCUVER="app","${OLD_VERSION}"`],
      "after reject, and at the next start",
    );
    const last = rig.boots[rig.boots.length - 1]!;
    equal(last.running.version, OLD_VERSION);
    equal(rig.runningSha256(last), rig.sha256(rig.oldImage));
    ok(!rig.commands.includes(`AT+QIOTMCUVER="app","${NEW_VERSION}"`), "the new version is never reported");
    ok(
      rig.states.some(
        (s) =>
          s.state === "failed" &&
          /1\.1\.0 rejected \(health check failed\): rolled back to 1\.0\.0/.test(s.reason),
      ),
    );
    // The platform pushes the plan again: the device refuses the version it rolled back instead of looping.
    ok(await rig.runUntil(() => rig.hasState("refused"), 15 * MINUTE), "the re-pushed plan is refused");
    const refusal = rig.states.find((s) => s.state === "refused")!;
    equal(refusal.reason, "1.1.0 was rolled back on this device (health check failed)");
    equal(rig.boots.length, 3);
  });

  it("sets the product key and secret in a module that has none, then connects", async () => {
    const rig = new Rig({
      imageSize: 4096,
      settings: { productKey: "", productSecret: "" },
      engine: { productKey: "pTest", productSecret: "secret" },
    });
    await updateEnds(rig);
    assertUpdated(rig);
    ok(
      rig.commands.indexOf('AT+QIOTCFG="productinfo","pTest","secret"') <
        rig.commands.indexOf("AT+QIOTREG=1"),
    );
    equal(
      rig.commands.filter((c) => c.startsWith('AT+QIOTCFG="productinfo",')).length,
      1,
      "set once: the second boot finds it saved",
    );
  });

  it("reports to the module only once per boot, and never between confirm and the end of the OTA", async () => {
    const rig = new Rig({ imageSize: 8192 });
    await updateEnds(rig);
    const confirm = rig.commands.indexOf("AT+QIOTUPDATE=1");
    const update = rig.commands.indexOf("AT+QIOTUPDATE=3");
    const between = rig.commands.slice(confirm, update).filter((c) => c.startsWith("AT+QIOTMCUVER"));
    deepEqual(between, []);
  });
});
