// The engine against module behaviours the reference leaves open ("the device must also tolerate"):
// other read maximums, clamped or refused long reads, "+QIOTOTARD: s,0" for reads outside the window,
// a missing AT+QIOTOTARD=? answer, slow replies, slow lines, tiny pieces, auto-connect.

import { equal, ok } from "../../lib/assert.js";
import { NEW_VERSION, Rig } from "./rig.js";
import type { RigOptions } from "./rig.js";

const MINUTE = 60_000;

const variants: [string, Partial<RigOptions>, (rig: Rig) => void][] = [
  [
    "a 512-byte read maximum, longer reads answered ERROR",
    { settings: { maxReadLength: 512, overLengthRead: "error" } },
    (rig) => {
      ok(rig.commands.includes("AT+QIOTOTARD=0,512"), "uses the announced maximum");
    },
  ],
  [
    "a 256-byte maximum, longer reads clamped, our own limit 1024",
    { settings: { maxReadLength: 256, overLengthRead: "clamp" } },
    (rig) => {
      ok(rig.commands.every((c) => !/^AT\+QIOTOTARD=\d+,1024$/.test(c)));
    },
  ],
  [
    "no answer to AT+QIOTOTARD=? (ERROR) and a 512-byte maximum: ERROR on 1024 shortens the reads",
    {
      settings: { maxReadLength: 512, overLengthRead: "error" },
      faults: ["error:cmd=QIOTOTARD=?,nth=1"],
    },
    (rig) => {
      ok(rig.commands.includes("AT+QIOTOTARD=0,1024") && rig.commands.includes("AT+QIOTOTARD=0,512"));
    },
  ],
  [
    "reads outside the window answered +QIOTOTARD: <start>,0 then OK",
    { settings: { outOfWindowRead: "zero", freeSpace: 4096 } },
    () => undefined,
  ],
  ["a slow module: 250 ms per command", { settings: { latencyMs: 250 } }, () => undefined],
  ["a 9600-baud line", { baud: 9600 }, () => undefined],
  [
    "4 KiB pieces (many QIOTUPDATE=2 rounds)",
    { settings: { freeSpace: 4096 } },
    (rig) => {
      equal(rig.commands.filter((c) => c === "AT+QIOTUPDATE=2").length, 3);
    },
  ],
  [
    "echo off at power-on, auto-connect (QIOTREG mode 2)",
    { settings: { echo: false, regMode: 2 } },
    () => undefined,
  ],
  [
    "buffer mode refused (a module that takes it only while offline)",
    { faults: ['error:cmd=QIOTCFG="buffer",nth=1,times=5'] },
    (rig) => {
      ok(rig.logs.some((l) => /buffer mode answered ERROR/.test(l)));
    },
  ],
  [
    "URC bursts while reading, and a URC between the payload and OK",
    { faults: ["burst:read=2,count=6", "urc-before-ok:read=4"] },
    () => undefined,
  ],
];

describe("SOTA engine against module variants the reference allows", () => {
  for (const [name, options, check] of variants) {
    it(name, async () => {
      const rig = new Rig({ imageSize: 16_000, ...options });
      rig.bootDevice();
      ok(
        await rig.runUntil(() => rig.monitorHas("success") && rig.hasState("updated"), 60 * MINUTE),
        `states ${JSON.stringify(rig.states.slice(-4))}`,
      );
      const report = rig.boots[rig.boots.length - 1]!;
      equal(report.running.version, NEW_VERSION);
      equal(rig.runningSha256(report), rig.sha256(rig.newImage));
      check(rig);
    });
  }
});
