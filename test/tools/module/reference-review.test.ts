// Deviations a review against the protocol reference (and the S1/S2 SDK source it cites) found; raw AT bytes in, exact bytes out.

import { equal, ok, deepEqual } from "../../lib/assert.js";
import { makeRig, makePackage, PK, PS, OK, ERROR, evt, type Rig } from "./harness.js";
import { OtaState, type ModuleFlash } from "../../../tools/module/virtual-module.js";
import { parsePlan } from "../../../tools/module/plan.js";
import { parseFaultSpec } from "../../../tools/module/faults.js";

const OFFER = evt('7,10700,"MCU","","2.0.0",30,-100,19656');
const READY = evt('7,10703,"MCU",19656,0,19656');
const QIND = '\r\n+QIND: "FOTA","END",0\r\n';

/** Offer, confirm and download the whole file; returns with 10703 just printed. */
function downloaded(r: Rig): void {
  r.exchange("AT+QIOTOTAREQ=1\r", 100);
  r.exchange("AT+QIOTUPDATE=1\r", 1000);
  r.advance(983);
  ok(r.take().endsWith(READY), "piece ready");
}

function savedFlash(fields: Partial<ModuleFlash>): ModuleFlash {
  return {
    productKey: PK,
    productSecret: PS,
    regMode: 0,
    mcuList: [["MCU", "1.0.0"]],
    otaComponent: "MCU",
    otaTarget: "2.0.0",
    otaType: "mcu",
    otaState: OtaState.NOPLAN,
    shaOption: 0,
    authenticated: true,
    ...fields,
  };
}

describe("tools/module reference review: docs/protocol.md §9a SHA-256 option and QIOTOTAREQ", () => {
  it("QIOTOTAREQ=1 while offline answers ERROR but stores the option: a later pushed plan's 10701 carries SHA-256", () => {
    const r = makeRig({ raw: true, settings: { productKey: PK, productSecret: PS } });
    r.advance(100);
    r.take();
    r.exchange("ATE0\r");
    equal(r.exchange("AT+QIOTOTAREQ=1\r", 1000), ERROR, "offline: ERROR and no plan");
    r.exchange("AT+QIOTREG=1\r", 300);
    r.exchange('AT+QIOTMCUVER="MCU","1.0.0"\r');
    r.module.platformPush();
    equal(r.take(), OFFER);
    const info = r.exchange("AT+QIOTUPDATE=1\r", 1000);
    ok(
      /^\r\nOK\r\n\r\n\+QIOTEVT: 7,10701,"MCU",19656,"[0-9a-f]{32}",\d+,"[0-9a-f]{64}"\r\n$/.test(info),
      info,
    );
  });

  it("QIOTOTAREQ=2 while offline: ERROR, stores 2 (no SHA-256 in a later 10701)", () => {
    const r = makeRig({ flash: savedFlash({ shaOption: 1 }), raw: true });
    r.advance(100);
    r.take();
    r.exchange("ATE0\r");
    equal(r.exchange("AT+QIOTOTAREQ=2\r"), ERROR);
    equal(r.module.shaOption, 2);
  });
});

describe("tools/module reference review: QIOTMCUVER (S2 Ql_iotConfigSetMcuVersion)", () => {
  it("a version over 64 bytes answers ERROR and does not end the OTA (the length check comes before the comparison)", () => {
    const r = makeRig();
    downloaded(r);
    r.exchange("AT+QIOTUPDATE=3\r");
    equal(r.exchange(`AT+QIOTMCUVER="MCU","${"9".repeat(65)}"\r`), ERROR);
    equal(r.module.otaState, OtaState.UPDATING);
    equal(r.exchange('AT+QIOTMCUVER="MCU","2.0.0"\r'), OK + evt("7,10705") + QIND);
  });

  it("re-reporting an unchanged version keeps the entry where it is (only an update moves it to the end)", () => {
    const r = makeRig();
    r.exchange('AT+QIOTMCUVER="A","1"\r');
    r.exchange('AT+QIOTMCUVER="B","2"\r');
    equal(r.exchange('AT+QIOTMCUVER="MCU","1.0.0"\r'), OK);
    equal(
      r.exchange("AT+QIOTMCUVER?\r"),
      '\r\n+QIOTMCUVER: "MCU","1.0.0"\r\n\r\n+QIOTMCUVER: "A","1"\r\n\r\n+QIOTMCUVER: "B","2"\r\n' + OK,
    );
    equal(r.exchange('AT+QIOTMCUVER="MCU","1.0.1"\r'), OK);
    equal(r.module.mcuVersionList, "A:1;B:2;MCU:1.0.1");
  });
});

describe("tools/module reference review: docs/protocol.md §9a missing numbers", () => {
  it("a plan without minBattery/minSignal prints 0 for both in 10700", () => {
    const plan = parsePlan({
      product: PK,
      components: [{ id: "MCU", targetVersion: "2.0.0", package: "fw.bin" }],
    });
    const r = makeRig({ plan });
    equal(r.exchange("AT+QIOTOTAREQ=1\r", 100), OK + evt('7,10700,"MCU","","2.0.0",0,0,19656'));
  });
});

describe("tools/module reference review: QIOTOTARD variants (docs/protocol.md §3, §9.5, decisions table)", () => {
  it('outOfWindowRead "zero": a read in a wrong state is `+QIOTOTARD: <start>,0` too (the SDK read returns 0 for both)', () => {
    const r = makeRig({ settings: { outOfWindowRead: "zero" } });
    equal(r.exchange("AT+QIOTOTARD=0,1024\r"), "\r\n+QIOTOTARD: 0,0\r\n\r\n" + OK, "idle");
    r.exchange("AT+QIOTOTAREQ=1\r", 100);
    equal(r.exchange("AT+QIOTOTARD=0,1024\r"), "\r\n+QIOTOTARD: 0,0\r\n\r\n" + OK, "plan offered");
    equal(r.exchange("AT+QIOTOTARD=0,1025\r"), ERROR, "a length above the maximum is still refused");
  });

  it('hex case: digestCase "upper" prints MD5 and SHA-256 in capitals (the device compares case-insensitively)', () => {
    const r = makeRig({ settings: { digestCase: "upper" }, packages: new Map([["fw.bin", makePackage(9)]]) });
    r.exchange("AT+QIOTOTAREQ=1\r", 100);
    const info = r.exchange("AT+QIOTUPDATE=1\r", 1000);
    ok(/^\r\nOK\r\n\r\n\+QIOTEVT: 7,10701,"MCU",9,"[0-9A-F]{32}",\d+,"[0-9A-F]{64}"\r\n$/.test(info), info);
  });

  it('10705 and +QIND in either order or without +QIND (fotaEndUrc "before" / "none")', () => {
    for (const [setting, expected] of [
      ["before", OK + QIND + evt("7,10705")],
      ["none", OK + evt("7,10705")],
    ] as const) {
      const r = makeRig({ settings: { fotaEndUrc: setting } });
      downloaded(r);
      r.exchange("AT+QIOTUPDATE=3\r");
      equal(r.exchange('AT+QIOTMCUVER="MCU","2.0.0"\r'), expected, setting);
    }
  });
});

describe("tools/module reference review: plan notifications (docs/protocol.md §9.12, S1 Ql_iotCmdOtaNotify)", () => {
  it("a plan offered but not yet answered is pushed again at the next 10-min mark; the confirm still works", () => {
    const r = makeRig({ settings: { readTimeoutMs: 3_600_000 } });
    equal(r.exchange("AT+QIOTOTAREQ=1\r", 100), OK + OFFER);
    equal(r.exchange("", 10 * 60_000), OFFER, "REVICEPLAN accepts a new notification");
    equal(r.exchange("AT+QIOTUPDATE=1\r"), OK);
    const later = r.exchange("", 10 * 60_000);
    ok(
      later.endsWith(READY) && !later.includes("10700"),
      `SUBMITOTA onwards: no restart ${JSON.stringify(later)}`,
    );
  });
});

describe("tools/module reference review: the platform needs the link", () => {
  it("confirmed, then deregistered: no download information reaches the module, the 30-s timer gives 10706", () => {
    const r = makeRig();
    r.exchange("AT+QIOTOTAREQ=1\r", 100);
    equal(r.exchange("AT+QIOTUPDATE=1\r"), OK);
    equal(r.exchange("AT+QIOTREG=0\r", 100), OK + evt("6,10200"));
    equal(r.exchange("", 29_899), "", "no 10701 while offline");
    equal(r.exchange("", 1), evt("7,10706"));
  });
});

describe("tools/module reference review: multi-component tasks", () => {
  const plan = parsePlan({
    product: PK,
    components: [
      { id: "MCU", targetVersion: "2.0.0", package: "fw.bin" },
      { id: "GNSS", type: "diff", sourceVersion: "0.9", targetVersion: "1.0", package: "gnss.bin" },
    ],
  });
  const packages = new Map([
    ["fw.bin", makePackage(3000, 1)],
    ["gnss.bin", makePackage(2000, 2)],
  ]);

  it("after component 1's 10705 the module is idle: a boot-time report of component 2 does not end the task", () => {
    const r = makeRig({ plan, packages });
    r.exchange('AT+QIOTMCUVER="GNSS","0.9"\r');
    r.exchange("AT+QIOTOTAREQ=0\r", 100);
    r.exchange("AT+QIOTUPDATE=1\r", 1200);
    r.take();
    r.exchange("AT+QIOTOTARD=0,1024\r");
    r.exchange("AT+QIOTUPDATE=3\r");
    equal(r.exchange('AT+QIOTMCUVER="MCU","2.0.0"\r'), OK + evt("7,10705") + QIND);
    equal(r.exchange('AT+QIOTMCUVER="GNSS","0.9"\r'), OK, "no comparison while idle");
    const second = r.exchange("", 1100);
    ok(second.startsWith('\r\n+QIOTEVT: 7,10701,"GNSS",2000,"'), second);
    ok(second.endsWith(evt('7,10703,"GNSS",2000,0,2000')), second);
  });

  it("the component stored at 10700 is the task's last one: between confirm and download information it compares", () => {
    const flash = savedFlash({ otaComponent: "OLD", otaTarget: "1.0", otaState: OtaState.UPDATESUCCESS });
    const r = makeRig({ plan, packages, flash });
    r.exchange('AT+QIOTMCUVER="MCU","1.0.0"\r');
    r.exchange('AT+QIOTMCUVER="GNSS","0.9"\r');
    r.exchange("AT+QIOTOTAREQ=0\r", 100);
    equal(r.exchange("AT+QIOTUPDATE=1\r"), OK + evt("7,10707,0"));
    equal(r.module.storedComponent, "GNSS");
    equal(
      r.exchange('AT+QIOTMCUVER="GNSS","1.0"\r'),
      OK + evt("7,10705") + QIND,
      "stale target 1.0: a false 10705",
    );
  });
});

describe("tools/module reference review: module boot (docs/protocol.md §6, §9a, S1 Ql_iotCmdOtaStatusRecovery)", () => {
  it("powering on with a saved download state returns to idle silently (plans are offered again)", () => {
    const r = makeRig({ flash: savedFlash({ otaState: OtaState.DOWNLOADING }) });
    equal(r.module.otaState, OtaState.NOPLAN);
    equal(r.exchange("AT+QIOTOTAREQ=1\r", 100), OK + OFFER);
  });

  it("a saved QIOTREG=1 reverts to 0 at power-on; a saved 2 connects by itself", () => {
    const r = makeRig({ flash: savedFlash({ regMode: 1 }), raw: true });
    equal(r.exchange("", 1000), "\r\nRDY\r\n");
    equal(r.exchange("AT+QIOTREG?\r"), "AT+QIOTREG?\r\n\r\n+QIOTREG: 0\r\n" + OK);
    const auto = makeRig({ flash: savedFlash({ regMode: 2 }), raw: true });
    equal(auto.exchange("", 300), "\r\nRDY\r\n" + evt("2,10200") + evt("3,10200"));
  });

  it("a reboot in a download state counts as one download failure: 4 more are silent, the 5th gives 10706", () => {
    // The first use of the fault is the download the reboot cuts short.
    const r = makeRig({ faults: [{ kind: "fail", byte: 1000, times: 6 }] });
    r.exchange("AT+QIOTREG=2\r");
    r.exchange("AT+QIOTOTAREQ=1\r", 100);
    r.exchange("AT+QIOTUPDATE=1\r", 1010);
    r.module.reboot();
    r.advance(300);
    r.take();
    r.exchange("ATE0\r");
    equal(r.module.downloadFailures, 1);
    for (let attempt = 1; attempt <= 5; attempt++) {
      equal(r.exchange("AT+QIOTOTAREQ=1\r", 100), OK + OFFER, `offer ${attempt}`);
      r.exchange("AT+QIOTUPDATE=1\r", 1000);
      equal(r.exchange("", 50), attempt < 5 ? "" : evt("7,10706"), `failure ${attempt + 1}`);
    }
  });
});

describe("tools/module reference review: fault specs", () => {
  it("invalid-download-info is accepted from the command line and from a plan file", () => {
    deepEqual(parseFaultSpec("invalid-download-info"), { kind: "invalid-download-info" });
    deepEqual(
      parsePlan({
        components: [{ id: "MCU", targetVersion: "2", package: "p" }],
        faults: ["invalid-download-info"],
      }).faults,
      [{ kind: "invalid-download-info" }],
    );
  });
});
