// The virtual module's OTA state machine: the docs/protocol.md §3 legality table, the docs/protocol.md §5 read bytes, pieces, stale reads, multi-component plans.

import { equal, ok, bytesEqual, deepEqual } from "../../lib/assert.js";
import { makeRig, makePackage, bytesOf, latin1, OK, ERROR, evt, FILE_SIZE, type Rig } from "./harness.js";
import { OtaState } from "../../../tools/module/virtual-module.js";
import { parsePlan } from "../../../tools/module/plan.js";
import type { ModuleSettings } from "../../../tools/module/settings.js";

type StateName =
  | "NOPLAN"
  | "REVICEPLAN"
  | "SUBMITOTA"
  | "REFUSED"
  | "DOWNLOADING"
  | "DOWNLOADERROR"
  | "SUCCESS_PIECE"
  | "SUCCESS_LAST"
  | "UPDATING"
  | "UPDATESUCCESS"
  | "UPDATEERROR";

/** A fresh module driven into the named state with raw AT bytes. */
function driveTo(name: StateName): Rig {
  const settings: Partial<ModuleSettings> = name === "SUCCESS_PIECE" ? { freeSpace: 8192 } : {};
  const r = makeRig({
    settings,
    ...(name === "DOWNLOADERROR" ? { faults: [{ kind: "fail", byte: 100 }] } : {}),
  });
  if (name === "NOPLAN") return r;
  r.exchange("AT+QIOTOTAREQ=1\r", 100);
  if (name === "REVICEPLAN") return r;
  if (name === "REFUSED") {
    r.exchange("AT+QIOTUPDATE=0\r");
    return r;
  }
  r.exchange("AT+QIOTUPDATE=1\r");
  if (name === "SUBMITOTA") return r;
  r.advance(1000);
  if (name === "DOWNLOADING") return (r.take(), r);
  r.advance(2000);
  r.take();
  if (name === "DOWNLOADERROR" || name === "SUCCESS_PIECE" || name === "SUCCESS_LAST") return r;
  r.exchange("AT+QIOTUPDATE=3\r");
  if (name === "UPDATING") return r;
  r.exchange(`AT+QIOTMCUVER="MCU","${name === "UPDATESUCCESS" ? "2.0.0" : "1.0.0"}"\r`);
  return r;
}

const STATE_NUMBER: Record<StateName, number> = {
  NOPLAN: OtaState.NOPLAN,
  REVICEPLAN: OtaState.REVICEPLAN,
  SUBMITOTA: OtaState.SUBMITOTA,
  REFUSED: OtaState.REFUSED,
  DOWNLOADING: OtaState.DOWNLOADING,
  DOWNLOADERROR: OtaState.DOWNLOADERROR,
  SUCCESS_PIECE: OtaState.DOWNLOADSUCCESS,
  SUCCESS_LAST: OtaState.DOWNLOADSUCCESS,
  UPDATING: OtaState.UPDATING,
  UPDATESUCCESS: OtaState.UPDATESUCCESS,
  UPDATEERROR: OtaState.UPDATEERROR,
};

const pkg = makePackage(FILE_SIZE);

/** Legal cells of the docs/protocol.md §3 table: the exact reply and the state after; every other cell is ERROR, state unchanged. */
const LEGAL: Partial<Record<StateName, Partial<Record<string, [string, number]>>>> = {
  REVICEPLAN: { "AT+QIOTUPDATE=0": [OK, OtaState.REFUSED], "AT+QIOTUPDATE=1": [OK, OtaState.SUBMITOTA] },
  SUBMITOTA: { "AT+QIOTUPDATE=1": [OK, OtaState.SUBMITOTA] },
  SUCCESS_PIECE: {
    "AT+QIOTUPDATE=2": [OK + evt("7,10702"), OtaState.DOWNLOADING],
    "AT+QIOTOTARD=0,16": [
      "\r\n+QIOTOTARD: 0,16\r\n" + latin1(pkg.subarray(0, 16)) + "\r\n" + OK,
      OtaState.DOWNLOADSUCCESS,
    ],
  },
  SUCCESS_LAST: {
    "AT+QIOTUPDATE=3": [OK + evt("7,10704"), OtaState.UPDATING],
    "AT+QIOTOTARD=0,16": [
      "\r\n+QIOTOTARD: 0,16\r\n" + latin1(pkg.subarray(0, 16)) + "\r\n" + OK,
      OtaState.DOWNLOADSUCCESS,
    ],
  },
  UPDATING: { "AT+QIOTUPDATE=3": [OK, OtaState.UPDATING] },
};

describe("tools/module OTA state machine (docs/protocol.md §3 legality table)", () => {
  const states = Object.keys(STATE_NUMBER) as StateName[];
  const commands = [
    "AT+QIOTUPDATE=0",
    "AT+QIOTUPDATE=1",
    "AT+QIOTUPDATE=2",
    "AT+QIOTUPDATE=3",
    "AT+QIOTOTARD=0,16",
  ];
  for (const state of states) {
    for (const command of commands) {
      const legal = LEGAL[state]?.[command];
      it(`${command} in ${state} → ${legal ? "OK" : "ERROR"}`, () => {
        const r = driveTo(state);
        equal(r.module.otaState, STATE_NUMBER[state], "driven to the state");
        equal(r.exchange(`${command}\r`), legal ? legal[0] : ERROR);
        equal(r.module.otaState, legal ? legal[1] : STATE_NUMBER[state]);
      });
    }
  }
  it("AT+QIOTUPDATE=4 and a missing action are ERROR", () => {
    const r = driveTo("REVICEPLAN");
    equal(r.exchange("AT+QIOTUPDATE=4\r"), ERROR);
    equal(r.exchange("AT+QIOTUPDATE\r"), ERROR);
  });
});

describe("tools/module download and reads", () => {
  it("a complete OTA: 10700, 10701 with MD5/CRC/SHA-256, 10703, reads, 10704, 10705 + QIND", () => {
    const r = makeRig();
    equal(r.exchange("AT+QIOTOTAREQ=1\r"), OK);
    equal(r.exchange("", 100), evt('7,10700,"MCU","","2.0.0",30,-100,19656'));
    equal(r.exchange("AT+QIOTUPDATE=1\r", 999), OK);
    const info = r.exchange("", 1);
    const m = /^\r\n\+QIOTEVT: 7,10701,"MCU",19656,"([0-9a-f]{32})",(\d+),"([0-9a-f]{64})"\r\n$/.exec(info);
    ok(m, `10701 shape: ${JSON.stringify(info)}`);
    equal(r.exchange("", 982), "", "19656 bytes at 20000 B/s take 983 ms");
    equal(r.exchange("", 1), evt('7,10703,"MCU",19656,0,19656'));
    let received = new Uint8Array(0);
    for (let offset = 0; offset < FILE_SIZE;) {
      const reply = r.exchange(`AT+QIOTOTARD=${offset},1024\r`);
      const n = Math.min(1024, FILE_SIZE - offset);
      const header = `\r\n+QIOTOTARD: ${offset},${n}\r\n`;
      equal(reply.slice(0, header.length), header);
      equal(reply.slice(header.length + n), "\r\n" + OK);
      const chunk = bytesOf(reply.slice(header.length, header.length + n));
      const joined = new Uint8Array(received.length + n);
      joined.set(received);
      joined.set(chunk, received.length);
      received = joined;
      offset += n;
    }
    bytesEqual(received, pkg);
    equal(r.exchange("AT+QIOTUPDATE=3\r"), OK + evt("7,10704"));
    equal(r.exchange('AT+QIOTMCUVER="MCU","2.0.0"\r'), OK + evt("7,10705") + '\r\n+QIND: "FOTA","END",0\r\n');
    equal(r.module.otaState, OtaState.UPDATESUCCESS);
    deepEqual(r.module.monitor.eventsOf("MCU"), [
      "offered",
      "confirmed",
      "downloading",
      "piece",
      "updating",
      "success",
    ]);
  });

  it("the 10701 digests are MD5, CRC-32 (unsigned decimal) and SHA-256 of the package; no SHA-256 after QIOTOTAREQ=0", () => {
    // CRC-32 of "123456789" is 0xCBF43926 = 3421780262 (> 2^31: must print unsigned).
    const packages = new Map([["fw.bin", bytesOf("123456789")]]);
    const r = makeRig({ packages });
    r.exchange("AT+QIOTOTAREQ=1\r", 100);
    equal(
      r.exchange("AT+QIOTUPDATE=1\r", 1000),
      OK +
        evt(
          '7,10701,"MCU",9,"25f9e794323b453885f5181f1b624d0b",3421780262,"15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225"',
        ),
    );
    const r0 = makeRig({ packages });
    r0.exchange("AT+QIOTOTAREQ=0\r", 100);
    equal(
      r0.exchange("AT+QIOTUPDATE=1\r", 1000),
      OK + evt('7,10701,"MCU",9,"25f9e794323b453885f5181f1b624d0b",3421780262'),
    );
  });

  it("the last partial block: 19,656-byte file, read 19456,1024 → exactly 200 raw bytes in the docs/protocol.md §5 layout", () => {
    const r = driveTo("SUCCESS_LAST");
    const expected = "\r\n+QIOTOTARD: 19456,200\r\n" + latin1(pkg.subarray(19456)) + "\r\n\r\nOK\r\n";
    equal(r.exchange("AT+QIOTOTARD=19456,1024\r"), expected);
  });

  it("the payload is raw: NUL, CR LF and an embedded OK/URC text go out unchanged and counted", () => {
    const r = driveTo("SUCCESS_LAST");
    const reply = r.exchange("AT+QIOTOTARD=0,200\r");
    equal(reply, "\r\n+QIOTOTARD: 0,200\r\n" + latin1(pkg.subarray(0, 200)) + "\r\n" + OK);
    ok(reply.indexOf("\r\nOK\r\n") < reply.length - 6, "the package's own OK text is inside the payload");
  });

  it("AT+QIOTOTARD=? announces the maximum; above it: ERROR by default, clamp when configured", () => {
    const r = driveTo("SUCCESS_LAST");
    equal(r.exchange("AT+QIOTOTARD=?\r"), "\r\n+QIOTOTARD: <start>,(1-1024)\r\n" + OK);
    equal(r.exchange("AT+QIOTOTARD=0,1025\r"), ERROR);
    const c = makeRig({ settings: { maxReadLength: 4096, overLengthRead: "clamp" } });
    c.exchange("AT+QIOTOTAREQ=1\r", 100);
    c.exchange("AT+QIOTUPDATE=1\r", 3000);
    c.take();
    equal(c.exchange("AT+QIOTOTARD=?\r"), "\r\n+QIOTOTARD: <start>,(1-4096)\r\n" + OK);
    equal(
      c.exchange("AT+QIOTOTARD=0,5000\r"),
      "\r\n+QIOTOTARD: 0,4096\r\n" + latin1(pkg.subarray(0, 4096)) + "\r\n" + OK,
    );
  });

  it("out of the window or len <= 0: ERROR by default, `+QIOTOTARD: <start>,0` + OK in the configured variant", () => {
    const r = driveTo("SUCCESS_LAST");
    equal(r.exchange("AT+QIOTOTARD=19656,1024\r"), ERROR, "start = size");
    equal(r.exchange("AT+QIOTOTARD=0,0\r"), ERROR);
    equal(r.exchange("AT+QIOTOTARD=0,-5\r"), ERROR);
    equal(r.exchange("AT+QIOTOTARD=-1,10\r"), ERROR);
    const z = makeRig({ settings: { outOfWindowRead: "zero" } });
    z.exchange("AT+QIOTOTAREQ=1\r", 100);
    z.exchange("AT+QIOTUPDATE=1\r", 3000);
    z.take();
    equal(z.exchange("AT+QIOTOTARD=19656,1024\r"), "\r\n+QIOTOTARD: 19656,0\r\n\r\n" + OK);
    equal(z.exchange("AT+QIOTOTARD=5,0\r"), "\r\n+QIOTOTARD: 5,0\r\n\r\n" + OK);
  });

  it("pieces: windows sized by free space, UPDATE=2 → 10702 then 10703; reads limited to the window", () => {
    const r = makeRig({ settings: { freeSpace: 8192 } });
    r.exchange("AT+QIOTOTAREQ=1\r", 100);
    r.exchange("AT+QIOTUPDATE=1\r", 1000);
    equal(r.exchange("", 410), evt('7,10703,"MCU",19656,0,8192'), "8192 B at 20 kB/s = 410 ms");
    equal(
      r.exchange("AT+QIOTOTARD=8000,1024\r"),
      "\r\n+QIOTOTARD: 8000,192\r\n" + latin1(pkg.subarray(8000, 8192)) + "\r\n" + OK,
      "stops at the piece end",
    );
    equal(r.exchange("AT+QIOTOTARD=8192,1024\r"), ERROR, "next piece not there yet");
    equal(r.exchange("AT+QIOTUPDATE=3\r"), ERROR, "not the last piece");
    equal(r.exchange("AT+QIOTUPDATE=2\r"), OK + evt("7,10702"));
    equal(r.exchange("", 410), evt('7,10703,"MCU",19656,8192,8192'));
    equal(r.exchange("AT+QIOTOTARD=0,16\r"), ERROR, "the old piece is gone");
    equal(
      r.exchange("AT+QIOTOTARD=8192,16\r"),
      "\r\n+QIOTOTARD: 8192,16\r\n" + latin1(pkg.subarray(8192, 8208)) + "\r\n" + OK,
    );
    equal(r.exchange("AT+QIOTUPDATE=2\r"), OK + evt("7,10702"));
    equal(r.exchange("", 164), evt('7,10703,"MCU",19656,16384,3272'), "the last piece is the remainder");
    equal(r.exchange("AT+QIOTUPDATE=2\r"), ERROR, "no piece after the last");
    equal(
      r.exchange("AT+QIOTOTARD=19456,1024\r"),
      "\r\n+QIOTOTARD: 19456,200\r\n" + latin1(pkg.subarray(19456)) + "\r\n" + OK,
    );
    equal(r.exchange("AT+QIOTUPDATE=3\r"), OK + evt("7,10704"));
  });

  it("docs/protocol.md §9a race: a read between UPDATE=2 and the next 10703 returns the old piece's bytes under the new offsets", () => {
    const r = makeRig({ settings: { freeSpace: 8192 } });
    r.exchange("AT+QIOTOTAREQ=1\r", 100);
    r.exchange("AT+QIOTUPDATE=1\r", 1500);
    r.take();
    r.exchange("AT+QIOTUPDATE=2\r");
    equal(
      r.exchange("AT+QIOTOTARD=8192,16\r"),
      "\r\n+QIOTOTARD: 8192,16\r\n" + latin1(pkg.subarray(0, 16)) + "\r\n" + OK,
      "stale: bytes 0..15 under offset 8192",
    );
  });

  it("10702 repeats every 5 s of download time while a piece downloads", () => {
    const r = makeRig({ settings: { downloadBytesPerSecond: 1000 } });
    r.exchange("AT+QIOTOTAREQ=1\r", 100);
    r.exchange("AT+QIOTUPDATE=1\r", 1000);
    r.take();
    const out = r.exchange("", 19656);
    equal(
      out,
      evt("7,10702").repeat(3) + evt('7,10703,"MCU",19656,0,19656'),
      "19.656 s: 10702 at 5, 10, 15 s",
    );
  });
});

describe("tools/module multi-component plans", () => {
  const plan = parsePlan({
    product: "p11abc",
    components: [
      { id: "MCU", targetVersion: "2.0.0", package: "fw.bin" },
      {
        id: "GNSS",
        type: "diff",
        sourceVersion: "0.9",
        targetVersion: "1.0",
        package: "gnss.bin",
        minBattery: 50,
        minSignal: -90,
      },
      { id: "DSP", targetVersion: "3", package: "dsp.bin" },
    ],
  });
  const packages = new Map([
    ["fw.bin", makePackage(3000, 1)],
    ["gnss.bin", makePackage(2000, 2)],
    ["dsp.bin", makePackage(100, 3)],
  ]);

  it("one 10700 per matching component; the task runs component after component, each closed by its 10705", () => {
    const r = makeRig({ plan, packages });
    r.exchange('AT+QIOTMCUVER="GNSS","0.9"\r');
    equal(
      r.exchange("AT+QIOTOTAREQ=0\r", 100),
      OK + evt('7,10700,"MCU","","2.0.0",0,0,3000') + evt('7,10700,"GNSS","0.9","1.0",50,-90,2000'),
      "DSP not reported: not offered",
    );
    equal(r.exchange("AT+QIOTUPDATE=1\r"), OK + evt("7,10707,0"));
    const first = r.exchange("", 1200);
    ok(first.startsWith(evt('7,10701,"MCU",3000,"').slice(0, 30)), first);
    ok(first.endsWith(evt('7,10703,"MCU",3000,0,3000')), first);
    r.exchange("AT+QIOTOTARD=0,1024\r");
    equal(r.exchange("AT+QIOTUPDATE=3\r"), OK + evt("7,10704"));
    equal(r.exchange('AT+QIOTMCUVER="MCU","2.0.0"\r'), OK + evt("7,10705") + '\r\n+QIND: "FOTA","END",0\r\n');
    equal(r.module.otaState, OtaState.UPDATESUCCESS, "idle until the next component's download information");
    const second = r.exchange("", 1200);
    ok(
      second.startsWith('\r\n+QIOTEVT: 7,10701,"GNSS",2000,"'),
      "a new 10701: the first-start flag was set by 10705",
    );
    ok(second.endsWith(evt('7,10703,"GNSS",2000,0,2000')), second);
    r.exchange("AT+QIOTUPDATE=3\r");
    equal(r.exchange('AT+QIOTMCUVER="GNSS","1.0"\r'), OK + evt("7,10705") + '\r\n+QIND: "FOTA","END",0\r\n');
    equal(r.module.otaState, OtaState.UPDATESUCCESS);
    deepEqual(r.module.monitor.eventsOf("GNSS"), [
      "offered",
      "confirmed",
      "downloading",
      "piece",
      "updating",
      "success",
    ]);
  });

  it("refusing refuses the whole task (10707 in multi-component mode)", () => {
    const r = makeRig({ plan, packages });
    r.exchange('AT+QIOTMCUVER="GNSS","0.9"\r');
    r.exchange("AT+QIOTOTAREQ=1\r", 100);
    equal(r.exchange("AT+QIOTUPDATE=0\r"), OK + evt("7,10707,0"));
    deepEqual(r.module.monitor.eventsOf("GNSS"), ["offered", "refused"]);
    deepEqual(r.module.monitor.eventsOf("MCU"), ["offered", "refused"]);
  });

  it("a plan with more than 20 matching components is dropped silently", () => {
    const many = parsePlan({
      components: Array.from({ length: 21 }, (_, i) => ({
        id: `C${i}`,
        targetVersion: "2",
        package: "p.bin",
      })),
    });
    const r = makeRig({ plan: many, packages: new Map([["p.bin", makePackage(10)]]) });
    for (let i = 0; i < 21; i++) r.exchange(`AT+QIOTMCUVER="C${i}","1"\r`);
    equal(r.exchange("AT+QIOTOTAREQ=1\r", 1000), OK);
    r.exchange('AT+QIOTMCUVER="C20",""\r');
    const twenty = r.exchange("AT+QIOTOTAREQ=1\r", 100);
    equal(twenty.split("7,10700").length - 1, 20);
  });
});
