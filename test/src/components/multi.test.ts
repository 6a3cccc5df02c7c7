// Several components in one task (docs/protocol.md §7): the whole task confirmed or refused, one cycle per
// component closed with 10705, one activation for the set, the set kept together across failures.

import { deepEqual, equal, ok } from "../../lib/assert.js";
import { inspectBoot } from "../../../src/boot/generic-boot.js";
import { COMPONENT, NEW_VERSION, OLD_VERSION } from "../sota/rig.js";
import { CFG, MOD, monitorAll, multiRig, runningSet } from "./multi-rig.js";
import type { MultiRig } from "./multi-rig.js";

const MINUTE = 60_000;

/** The device's lines that decide and close cycles, in order. */
function keyLines(m: MultiRig): string[] {
  return m.rig.commands.filter((l) => /^AT\+QIOT(UPDATE|MCUVER)=/.test(l));
}

/** The module's OTA events as printed (10700..10707). */
function otaEvents(m: MultiRig): string[] {
  return m.traces.filter((t) => /^\+QIOTEVT: 7,107/.test(t)).map((t) => t.replace(/,".*$/, ""));
}

function storedVersions(m: MultiRig): Record<string, string> {
  return (
    (JSON.parse(m.rig.kv.get("sota.comp") ?? "{}") as { versions?: Record<string, string> }).versions ?? {}
  );
}

describe("components: several in one task, one set", function () {
  this.timeout(120_000);

  it("image + data: both cycles close with 10705, the set activates once and is confirmed", async () => {
    const m = multiRig([CFG]);
    m.rig.bootDevice();
    ok(
      await m.rig.runUntil(
        () => monitorAll(m.rig, [COMPONENT, "cfg"], "success") && m.rig.hasState("updated"),
        30 * MINUTE,
      ),
      `update done; states ${JSON.stringify(m.rig.states.slice(-5))}`,
    );
    await m.rig.clock.run(1000);
    equal(runningSet(m), "new");
    equal(m.rig.boots.length, 2, "one restart for the whole set");
    deepEqual(storedVersions(m), { cfg: "2.0" });
    deepEqual(keyLines(m), [
      'AT+QIOTMCUVER="app","1.0.0"',
      'AT+QIOTMCUVER="cfg","1.0"',
      "AT+QIOTUPDATE=1",
      "AT+QIOTUPDATE=2",
      "AT+QIOTUPDATE=3",
      'AT+QIOTMCUVER="app","1.1.0"',
      "AT+QIOTUPDATE=2",
      "AT+QIOTUPDATE=3",
      'AT+QIOTMCUVER="app","1.1.0"',
      'AT+QIOTMCUVER="cfg","2.0"',
    ]);
    deepEqual(otaEvents(m), [
      "+QIOTEVT: 7,10700",
      "+QIOTEVT: 7,10700",
      "+QIOTEVT: 7,10707,0",
      "+QIOTEVT: 7,10701",
      "+QIOTEVT: 7,10703",
      "+QIOTEVT: 7,10702",
      "+QIOTEVT: 7,10703",
      "+QIOTEVT: 7,10704",
      "+QIOTEVT: 7,10705",
      "+QIOTEVT: 7,10701",
      "+QIOTEVT: 7,10703",
      "+QIOTEVT: 7,10702",
      "+QIOTEVT: 7,10703",
      "+QIOTEVT: 7,10704",
      "+QIOTEVT: 7,10705",
    ]);
  });
});

describe("components: the task as a whole", function () {
  this.timeout(120_000);

  it("image + mod + data: three cycles closed with 10705 in the module's order, one activation", async () => {
    const m = multiRig([MOD, CFG]);
    m.rig.bootDevice();
    ok(
      await m.rig.runUntil(
        () => monitorAll(m.rig, [COMPONENT, "logic", "cfg"], "success") && m.rig.hasState("updated"),
        30 * MINUTE,
      ),
      `update done; states ${JSON.stringify(m.rig.states.slice(-5))}`,
    );
    await m.rig.clock.run(1000);
    equal(runningSet(m), "new");
    equal(m.rig.boots.length, 2, "one restart for the whole set");
    equal(m.rig.boots[1]!.running.version, NEW_VERSION);
    deepEqual(storedVersions(m), { logic: "2", cfg: "2.0" });
    deepEqual(keyLines(m), [
      'AT+QIOTMCUVER="app","1.0.0"',
      'AT+QIOTMCUVER="logic","1"',
      'AT+QIOTMCUVER="cfg","1.0"',
      "AT+QIOTUPDATE=1",
      "AT+QIOTUPDATE=2",
      "AT+QIOTUPDATE=3",
      'AT+QIOTMCUVER="app","1.1.0"',
      "AT+QIOTUPDATE=3",
      'AT+QIOTMCUVER="logic","2"',
      "AT+QIOTUPDATE=2",
      "AT+QIOTUPDATE=3",
      'AT+QIOTMCUVER="app","1.1.0"',
      'AT+QIOTMCUVER="logic","2"',
      'AT+QIOTMCUVER="cfg","2.0"',
    ]);
    equal(otaEvents(m).filter((e) => e === "+QIOTEVT: 7,10705").length, 3, "one 10705 per component");
    equal(otaEvents(m).filter((e) => e === "+QIOTEVT: 7,10700").length, 3, "one 10700 per component");
  });

  it("data before the image in the module's order: the image's cycle is the last and its trial closes it", async () => {
    const m = multiRig([CFG], { order: ["cfg", COMPONENT] });
    m.rig.bootDevice();
    ok(
      await m.rig.runUntil(
        () => monitorAll(m.rig, [COMPONENT, "cfg"], "success") && m.rig.hasState("updated"),
        30 * MINUTE,
      ),
      `update done; states ${JSON.stringify(m.rig.states.slice(-5))}`,
    );
    equal(runningSet(m), "new");
    deepEqual(keyLines(m).slice(2), [
      "AT+QIOTUPDATE=1",
      "AT+QIOTUPDATE=2",
      "AT+QIOTUPDATE=3",
      'AT+QIOTMCUVER="cfg","2.0"',
      "AT+QIOTUPDATE=2",
      "AT+QIOTUPDATE=3",
      'AT+QIOTMCUVER="cfg","2.0"',
      'AT+QIOTMCUVER="app","1.1.0"',
    ]);
  });

  it("a task naming a component that is not ours is refused as a whole, with the reason per component", async () => {
    const m = multiRig([CFG], { order: [COMPONENT, "gnss", "cfg"], moduleMcuList: [["gnss", "0.9"]] });
    m.rig.bootDevice();
    ok(await m.rig.runUntil(() => m.rig.hasState("refused"), 5 * MINUTE), "refused");
    await m.rig.clock.run(5000);
    const refused = m.rig.states.find((s) => s.state === "refused")!;
    equal(refused.reason, "gnss: not a component of this device (app, cfg)");
    ok(
      m.rig.logs.some((l) => l.includes("task refused: gnss: not a component of this device")),
      "logged",
    );
    ok(m.rig.commands.includes("AT+QIOTUPDATE=0"), "QIOTUPDATE=0 on the wire");
    ok(!m.rig.commands.includes("AT+QIOTUPDATE=1"), "never confirmed");
    equal(m.rig.readStarts().length, 0, "nothing read");
    equal(runningSet(m), "old");
    equal(m.rig.kv.get("sota.comp"), undefined, "no set record");
  });

  it("a differential plan for a data component is refused as a whole: only the image applies a patch", async () => {
    const m = multiRig([{ ...CFG, diff: true }], { engine: { acceptDifferential: true } });
    m.rig.bootDevice();
    ok(await m.rig.runUntil(() => m.rig.hasState("refused"), 5 * MINUTE), "refused");
    const refused = m.rig.states.find((s) => s.state === "refused")!;
    equal(refused.reason, "cfg: a differential package for a data component (only the image takes deltas)");
    ok(m.rig.commands.includes("AT+QIOTUPDATE=0"), "QIOTUPDATE=0 on the wire");
    ok(!m.rig.commands.includes("AT+QIOTUPDATE=1"), "never confirmed");
    equal(runningSet(m), "old");
  });

  it("a gate failing for one component refuses the task, naming that component", async () => {
    const m = multiRig([{ ...CFG, size: 3 * 4096 }]);
    m.rig.bootDevice();
    ok(await m.rig.runUntil(() => m.rig.hasState("refused"), 5 * MINUTE), "refused");
    equal(
      m.rig.states.find((s) => s.state === "refused")!.reason,
      "cfg: image of 12288 bytes does not fit the 8192-byte slot",
    );
    equal(runningSet(m), "old");
  });

  it("a corrupted data package is refused with the data's own running version reported, never the image's", async () => {
    // Reads 1-6 are the image's 6000 bytes (1024-byte reads, pieces of 4096); read 7 is the data's first.
    const m = multiRig([CFG], { faults: ["corrupt:read=7,at=10"] });
    m.rig.bootDevice();
    ok(
      await m.rig.runUntil(
        () => m.rig.module.monitor.entries.some((e) => e.component === "cfg" && e.event === "failure"),
        30 * MINUTE,
      ),
      `the data's cycle failed; states ${JSON.stringify(m.rig.states.slice(-4))}`,
    );
    await m.rig.clock.run(2000);
    const cfgReports = m.rig.commands.filter((c) => c.startsWith('AT+QIOTMCUVER="cfg"'));
    ok(cfgReports.length > 0, "the data's cycle was closed with a version report");
    deepEqual([...new Set(cfgReports)], ['AT+QIOTMCUVER="cfg","1.0"']);
    ok(
      m.rig.states.some(
        (s) => s.state === "failed" && /md5/i.test(s.reason) && s.reason.endsWith("keeping 1.0"),
      ),
      JSON.stringify(m.rig.states.filter((s) => s.state === "failed")),
    );
    equal(m.rig.boots.length, 1, "nothing activated");
  });

  it("a failure in the second component's download leaves the first staged, not active; the retry activates the set", async () => {
    const m = multiRig([CFG], {
      faults: ["inject10706:comp=2,piece=1"],
      settings: { freeSpace: 4096, repushIntervalMs: 120_000 },
    });
    m.rig.bootDevice();
    ok(
      await m.rig.runUntil(
        () => m.rig.module.monitor.entries.some((e) => e.component === "cfg" && e.event === "failure"),
        30 * MINUTE,
      ),
      "the second component failed",
    );
    await m.rig.clock.run(2000);
    // The failed cycle is closed with the data's own running version, never the image's.
    deepEqual(
      m.rig.commands.filter((c) => c.startsWith('AT+QIOTMCUVER="cfg"')),
      ['AT+QIOTMCUVER="cfg","1.0"'],
    );
    const set = (JSON.parse(m.rig.kv.get("sota.comp")!) as { set: { phase: string; members: unknown[] } })
      .set;
    equal(set.phase, "staging");
    deepEqual(
      set.members.map((x) => {
        const member = x as { id: string; status: string };
        return `${member.id}:${member.status}`;
      }),
      ["app:staged", "cfg:backed-up"],
    );
    equal(m.rig.boots.length, 1, "no restart: nothing activated");
    equal(m.rig.engine!.progress.runningVersion, OLD_VERSION, "the old image runs meanwhile");
    const slots = inspectBoot(m.rig.flash, m.rig.layout).slots;
    ok(
      slots.some((s) => s.version === NEW_VERSION && s.state === "verified"),
      `the new image is staged (verified), not activated: ${JSON.stringify(slots)}`,
    );
    ok(
      await m.rig.runUntil(
        () => monitorAll(m.rig, ["cfg"], "success") && m.rig.hasState("updated"),
        60 * MINUTE,
      ),
      `retry done; states ${JSON.stringify(m.rig.states.slice(-5))}`,
    );
    equal(runningSet(m), "new");
    equal(m.rig.boots.length, 2, "one restart for the set, after the retry");
    deepEqual(storedVersions(m), { cfg: "2.0" });
    // The retry offered only what was not at its target yet; the image was not downloaded again.
    equal(
      m.rig.module.monitor.entries.filter((e) => e.component === COMPONENT && e.event === "downloading")
        .length,
      1,
    );
  });
});

describe("components: the module reboots in the second component's download", function () {
  this.timeout(120_000);

  it("the staged image stays, the re-pushed task brings the data, and the set activates once", async () => {
    const m = multiRig([CFG], {
      faults: ["reboot:comp=2,piece=1"],
      settings: { freeSpace: 4096, repushIntervalMs: 120_000 },
    });
    m.rig.bootDevice();
    ok(
      await m.rig.runUntil(
        () => monitorAll(m.rig, [COMPONENT, "cfg"], "success") && m.rig.hasState("updated"),
        60 * MINUTE,
      ),
      `update done; states ${JSON.stringify(m.rig.states.slice(-5))}`,
    );
    ok(
      m.traces.some((t) => t.includes("reboot")),
      "the module rebooted",
    );
    equal(runningSet(m), "new");
    equal(m.rig.boots.length, 2, "one restart for the set");
    equal(
      m.rig.module.monitor.entries.filter((e) => e.component === COMPONENT && e.event === "downloading")
        .length,
      1,
      "the image was downloaded once",
    );
  });
});

describe("components: the set's trial", function () {
  this.timeout(120_000);

  it("a task without the image: the data is final at the restart (no trial), its open cycle closes with 10705", async () => {
    const m = multiRig([CFG], { order: ["cfg"] });
    m.rig.bootDevice();
    ok(
      await m.rig.runUntil(
        () => monitorAll(m.rig, ["cfg"], "success") && m.rig.hasState("updated"),
        30 * MINUTE,
      ),
      `update done; states ${JSON.stringify(m.rig.states.slice(-5))}`,
    );
    equal(m.rig.boots.length, 2, "one restart");
    equal(m.rig.boots[1]!.trial, false, "no trial for a set without an image");
    equal(m.rig.boots[1]!.running.version, OLD_VERSION);
    deepEqual(storedVersions(m), { cfg: "2.0" });
    deepEqual(keyLines(m).slice(2), [
      "AT+QIOTUPDATE=1",
      "AT+QIOTUPDATE=2",
      "AT+QIOTUPDATE=3",
      'AT+QIOTMCUVER="app","1.0.0"',
      'AT+QIOTMCUVER="cfg","2.0"',
    ]);
  });

  it("a failed health check rolls the whole set back: the image by its boot record, the data from its backup", async () => {
    const m = multiRig([MOD, CFG], { engine: { healthCheck: () => false } });
    m.rig.bootDevice();
    ok(
      await m.rig.runUntil(
        () => m.rig.module.monitor.entries.some((e) => e.component === "cfg" && e.event === "failure"),
        30 * MINUTE,
      ),
      `the open cycle ended with 10706; states ${JSON.stringify(m.rig.states.slice(-5))}`,
    );
    await m.rig.clock.run(5000);
    equal(m.rig.boots.length, 3, "set trial, then the rollback restart");
    equal(m.rig.boots[1]!.running.version, NEW_VERSION, "the trial ran the new image");
    equal(runningSet(m), "old");
    equal(
      m.rig.kv.get("sota.comp"),
      JSON.stringify({ versions: {} }),
      "the set record is gone, versions kept",
    );
    ok(
      m.rig.logs.some((l) => l.includes("set rolled back")),
      "logged",
    );
    const reports = m.rig.commands.filter((l) => l.startsWith("AT+QIOTMCUVER="));
    deepEqual(reports.slice(-3), [
      'AT+QIOTMCUVER="app","1.0.0"',
      'AT+QIOTMCUVER="logic","1"',
      'AT+QIOTMCUVER="cfg","1.0"',
    ]);
  });
});

describe("components: an MCU reset in the second component's download", function () {
  this.timeout(120_000);

  it("the data resumes from its journal, its first sector is not written again, and the set activates together", async () => {
    const m = multiRig([CFG]);
    m.rig.bootDevice();
    // The first sector of the data is on flash and journaled: the MCU resets there.
    ok(
      await m.rig.runUntil(() => m.rig.kv.get("sota.comp.j.cfg")?.split(":")[1] === "1", 30 * MINUTE),
      "the data's first sector journaled",
    );
    m.rig.powerCut();
    const before = m.rig.commands.length;
    m.areaFlash.resetStats();
    m.rig.bootDevice();
    // Right after the reset: the staging set survived, the old set runs (the data's old contents in its backup).
    equal(runningSet(m), "old");
    ok(
      await m.rig.runUntil(
        () => monitorAll(m.rig, [COMPONENT, "cfg"], "success") && m.rig.hasState("updated"),
        30 * MINUTE,
      ),
      `update done; states ${JSON.stringify(m.rig.states.slice(-5))}`,
    );
    await m.rig.clock.run(1000);
    ok(
      m.rig.logs.some((l) => l.includes("cfg 2.0: 4096 bytes resumed from its journal")),
      "resumed from the journal",
    );
    const erases = m.areaFlash.stats.erases;
    deepEqual(Array.from(erases), [0, 1, 0, 0], "only the data's second sector erased after the reset");
    equal(runningSet(m), "new");
    deepEqual(Array.from(readArea(m, CFG.size)), Array.from(m.newBytes["cfg"]!), "the new data in its area");
    deepEqual(storedVersions(m), { cfg: "2.0" });
    equal(m.rig.kv.get("sota.comp.j.cfg"), undefined, "the journal released with the set");
    deepEqual(
      m.rig.commands.slice(before).filter((l) => /^AT\+QIOT(UPDATE|MCUVER|OTARD)=/.test(l)),
      [
        // The image is staged: its target is what the module was told; the data's OTA is in progress (held back).
        'AT+QIOTMCUVER="app","1.1.0"',
        "AT+QIOTOTARD=?",
        // The piece is read on from the journaled prefix: 904 bytes, not 5000.
        "AT+QIOTOTARD=4096,904",
        "AT+QIOTUPDATE=3",
        'AT+QIOTMCUVER="app","1.1.0"',
        'AT+QIOTMCUVER="cfg","2.0"',
      ],
      "the device's lines after the reset",
    );
  });
});

function readArea(m: MultiRig, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  m.areas["cfg"]!.read(bytes, 0);
  return bytes;
}

describe("components: an MCU reset after the data's last sector, before it was staged", function () {
  this.timeout(120_000);

  it("the verified data is not written again: it is verified from flash and the set activates", async () => {
    const m = multiRig([CFG]);
    m.rig.bootDevice();
    ok(
      await m.rig.runUntil(() => m.rig.kv.get("sota.comp.j.cfg")?.split(":")[1] === "2", 30 * MINUTE),
      "the data's last sector journaled",
    );
    m.rig.powerCut();
    m.areaFlash.resetStats();
    m.rig.bootDevice();
    equal(runningSet(m), "old");
    ok(
      await m.rig.runUntil(
        () => monitorAll(m.rig, [COMPONENT, "cfg"], "success") && m.rig.hasState("updated"),
        30 * MINUTE,
      ),
      `update done; states ${JSON.stringify(m.rig.states.slice(-5))}`,
    );
    await m.rig.clock.run(1000);
    ok(m.rig.logs.some((l) => l.includes("cfg 2.0: 5000 bytes resumed from its journal")));
    equal(m.areaFlash.stats.eraseCount + m.areaFlash.stats.writeCount, 0, "no area written after the reset");
    equal(runningSet(m), "new");
    deepEqual(storedVersions(m), { cfg: "2.0" });
  });
});
