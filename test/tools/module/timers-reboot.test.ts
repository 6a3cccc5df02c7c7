// The virtual module's timers in virtual time, module reboot, the first-start quirk, the stale target and the confirm race.

import { equal, ok, deepEqual } from "../../lib/assert.js";
import { makeRig, OK, ERROR, evt, type Rig } from "./harness.js";
import { OtaState } from "../../../tools/module/virtual-module.js";

const OFFER = evt('7,10700,"MCU","","2.0.0",30,-100,19656');
const READY = evt('7,10703,"MCU",19656,0,19656');

/** Offer, confirm and download the whole file (one piece, 983 ms); returns with 10703 just printed. */
function downloaded(r: Rig): void {
  r.exchange("AT+QIOTOTAREQ=1\r", 100);
  r.exchange("AT+QIOTUPDATE=1\r", 1000);
  r.advance(983);
  ok(r.take().endsWith(READY), "piece ready");
}

describe("tools/module timers (virtual time)", () => {
  it("30 s from the confirm without download information → 10706", () => {
    const r = makeRig({ faults: [{ kind: "no-download-info" }] });
    r.exchange("AT+QIOTOTAREQ=1\r", 100);
    equal(r.exchange("AT+QIOTUPDATE=1\r", 29_999), OK);
    equal(r.exchange("", 1), evt("7,10706"));
    equal(r.module.otaState, OtaState.UPDATEERROR);
    const slow = makeRig({ settings: { downloadInfoDelayMs: 40_000 } });
    slow.exchange("AT+QIOTOTAREQ=1\r", 100);
    equal(
      slow.exchange("AT+QIOTUPDATE=1\r", 30_000),
      OK + evt("7,10706"),
      "information later than the timer",
    );
    equal(slow.exchange("", 20_000), "", "late information is ignored");
  });

  it("60 s read watchdog after 10703", () => {
    const r = makeRig();
    downloaded(r);
    equal(r.exchange("", 59_999), "");
    equal(r.exchange("", 1), evt("7,10706"));
    equal(r.exchange("AT+QIOTOTARD=0,16\r"), ERROR, "the piece is erased");
  });

  it("60 s read watchdog between reads, restarted by each read", () => {
    const r = makeRig();
    downloaded(r);
    r.advance(50_000);
    ok(r.exchange("AT+QIOTOTARD=0,16\r").endsWith(OK));
    equal(r.exchange("", 59_999), "");
    equal(r.exchange("", 1), evt("7,10706"));
  });

  it("60 s from the last read to UPDATE=3", () => {
    const r = makeRig();
    downloaded(r);
    r.exchange("AT+QIOTOTARD=19456,1024\r");
    r.advance(59_000);
    equal(r.exchange("AT+QIOTUPDATE=3\r"), OK + evt("7,10704"), "in time");
    const late = makeRig();
    downloaded(late);
    late.exchange("AT+QIOTOTARD=19456,1024\r");
    equal(late.exchange("", 60_000), evt("7,10706"));
    equal(late.exchange("AT+QIOTUPDATE=3\r"), ERROR);
  });

  it("20 min in UPDATING without the version report → 10706; a repeated UPDATE=3 does not restart the timer", () => {
    const r = makeRig();
    downloaded(r);
    r.exchange("AT+QIOTUPDATE=3\r");
    r.advance(10 * 60_000);
    equal(r.exchange("AT+QIOTUPDATE=3\r"), OK, "no second 10704");
    equal(r.exchange("", 10 * 60_000 - 1), "");
    equal(r.exchange("", 1), evt("7,10706"));
    equal(r.module.otaState, OtaState.UPDATEERROR);
  });

  it("download failures: 5 silent (back to idle, no event), the 6th gives 10706; first-start quirk prints 10702", () => {
    const r = makeRig({ faults: [{ kind: "fail", byte: 1000, times: 6 }] });
    for (let attempt = 1; attempt <= 6; attempt++) {
      equal(r.exchange("AT+QIOTOTAREQ=1\r", 100), OK + OFFER, `offer ${attempt}`);
      const start = r.exchange("AT+QIOTUPDATE=1\r", 1000);
      if (attempt === 1) ok(start.startsWith(OK + '\r\n+QIOTEVT: 7,10701,"MCU",19656,'), start);
      else
        equal(start, OK + evt("7,10702"), "after a silent failure the download starts with 10702, not 10701");
      const end = r.exchange("", 50);
      if (attempt < 6) {
        equal(end, "", `failure ${attempt} is silent`);
        equal(r.module.otaState, OtaState.DOWNLOADERROR);
        equal(r.module.downloadFailures, attempt);
        equal(r.exchange("AT+QIOTUPDATE=1\r"), ERROR, "the plan is gone");
      } else equal(end, evt("7,10706"), "the 6th failure");
    }
    equal(r.module.downloadFailures, 0, "10706 resets the count");
    ok(r.module.firstStartFlag, "and sets the first-start flag");
  });

  it("the platform re-pushes an active plan every 10 min while online and idle; ignored while an OTA is active", () => {
    const r = makeRig({ faults: [{ kind: "no-download-info" }] });
    // Online at t = 400 ms (boot 100 + 3 connection steps of 100).
    equal(r.exchange("", 10 * 60_000 - 1), "");
    equal(r.exchange("", 1), OFFER, "first push");
    equal(r.exchange("", 10 * 60_000), OFFER, "REVICEPLAN (unanswered) accepts it: offered again");
    r.exchange("AT+QIOTUPDATE=0\r");
    equal(r.exchange("", 10 * 60_000), OFFER, "refused: offered again at the next push");
    r.exchange("AT+QIOTUPDATE=1\r");
    equal(
      r.exchange("", 10 * 60_000 - 1),
      evt("7,10706"),
      "confirmed (no download information here): only the 30-s timer's 10706",
    );
    r.exchange("AT+QIOTREG=0\r", 200);
    equal(r.exchange("", 30 * 60_000), "", "offline: no pushes");
    deepEqual(r.module.monitor.eventsOf("MCU"), [
      "offered",
      "offered",
      "refused",
      "offered",
      "confirmed",
      "failure",
    ]);
  });

  it("after a silent failure only the platform's push restarts the OTA, and it starts with 10702", () => {
    const r = makeRig({ faults: [{ kind: "fail", byte: 1000 }] });
    r.exchange("AT+QIOTOTAREQ=1\r", 100);
    r.exchange("AT+QIOTUPDATE=1\r", 2000);
    r.take();
    equal(r.module.otaState, OtaState.DOWNLOADERROR);
    r.advance(10 * 60_000 - 2100 - 1);
    equal(r.take(), "");
    equal(r.exchange("", 1), OFFER);
    equal(r.exchange("AT+QIOTUPDATE=1\r", 1000), OK + evt("7,10702"));
    equal(r.exchange("", 983), READY);
  });

  it("direct download information while idle: 10701..10703 with no 10700 and no confirm", () => {
    const r = makeRig({ faults: [{ kind: "direct-download" }] });
    const out = r.exchange("AT+QIOTOTAREQ=1\r", 100 + 983);
    ok(out.startsWith(OK + '\r\n+QIOTEVT: 7,10701,"MCU",19656,"'), out);
    ok(out.endsWith(READY), out);
    ok(!out.includes("10700"));
    ok(r.exchange("AT+QIOTOTARD=0,16\r").endsWith(OK));
  });
});

describe("tools/module reboot and quirks", () => {
  it("reboot in a download state: RDY, echo on, idle silently, plan/piece/connection lost; flash kept", () => {
    const r = makeRig();
    downloaded(r);
    r.module.reboot("test");
    equal(r.exchange("", 99), "");
    equal(r.exchange("", 1), "\r\nRDY\r\n");
    equal(r.module.otaState, OtaState.NOPLAN);
    equal(r.exchange("AT+QIOTOTARD=0,16\r"), "AT+QIOTOTARD=0,16\r\n" + ERROR, "echo is back on; piece gone");
    r.exchange("ATE0\r");
    equal(r.exchange("AT+QIOTREG?\r"), "\r\n+QIOTREG: 0\r\n" + OK, "QIOTREG=1 does not survive");
    equal(r.exchange("AT+QIOTSTATE?\r"), "\r\n+QIOTSTATE: 0\r\n" + OK);
    equal(r.exchange("AT+QIOTOTAREQ=1\r"), ERROR, "offline");
    equal(r.module.mcuVersionList, "MCU:1.0.0");
    equal(r.module.shaOption, 1);
    equal(r.module.storedTarget, "2.0.0");
    equal(r.exchange("AT+QIOTREG=1\r", 200), OK + evt("2,10200") + evt("3,10200"));
  });

  it("an offered but unconfirmed plan is lost at reboot: QIOTUPDATE=1 → ERROR", () => {
    const r = makeRig();
    r.exchange("AT+QIOTOTAREQ=1\r", 100);
    r.module.reboot();
    r.advance(100);
    r.take();
    equal(r.exchange("AT+QIOTUPDATE=1\r"), "AT+QIOTUPDATE=1\r\n" + ERROR);
  });

  it("reboot in UPDATING: 10704 again after RDY, the 20-min timer restarts, the version report still ends it", () => {
    const r = makeRig();
    downloaded(r);
    r.exchange("AT+QIOTUPDATE=3\r");
    r.advance(19 * 60_000);
    r.module.reboot();
    equal(r.exchange("", 100), "\r\nRDY\r\n" + evt("7,10704"));
    equal(r.exchange("", 19 * 60_000), "", "restarted timer: still running after 19 min");
    r.exchange("ATE0\r");
    equal(r.exchange('AT+QIOTMCUVER="MCU","2.0.0"\r'), OK + evt("7,10705") + '\r\n+QIND: "FOTA","END",0\r\n');
    const t = makeRig();
    downloaded(t);
    t.exchange("AT+QIOTUPDATE=3\r");
    t.module.reboot();
    t.advance(100);
    t.take();
    equal(t.exchange("", 20 * 60_000), evt("7,10706"));
  });

  it("REG mode 2 reconnects by itself after a reboot", () => {
    const r = makeRig();
    r.exchange("AT+QIOTREG=2\r");
    r.module.reboot();
    equal(r.exchange("", 300), "\r\nRDY\r\n" + evt("2,10200") + evt("3,10200"));
    ok(r.module.online);
  });

  it("reboot resets the first-start flag: the next download prints 10701 again", () => {
    const r = makeRig({ faults: [{ kind: "fail", byte: 1000 }] });
    r.exchange("AT+QIOTOTAREQ=1\r", 100);
    r.exchange("AT+QIOTUPDATE=1\r", 2000);
    equal(r.module.firstStartFlag, false);
    r.module.reboot();
    r.advance(100);
    r.take();
    r.exchange("ATE0\r");
    r.exchange("AT+QIOTREG=1\r", 200);
    r.exchange("AT+QIOTOTAREQ=1\r", 100);
    ok(r.exchange("AT+QIOTUPDATE=1\r", 1000).startsWith(OK + '\r\n+QIOTEVT: 7,10701,"MCU"'));
  });

  it("docs/protocol.md §9.9 stale target: a version report between confirm and download information compares with the previous target", () => {
    const previous = {
      productKey: "p11abc",
      productSecret: "secretPS",
      regMode: 0 as const,
      mcuList: [] as Array<[string, string]>,
      otaComponent: "MCU",
      otaTarget: "1.5.0",
      otaType: "mcu" as const,
      otaState: OtaState.UPDATESUCCESS,
      shaOption: 1,
      authenticated: true,
    };
    const r = makeRig({ flash: { ...previous } });
    r.exchange("AT+QIOTOTAREQ=1\r", 100);
    r.exchange("AT+QIOTUPDATE=1\r");
    equal(
      r.exchange('AT+QIOTMCUVER="MCU","1.5.0"\r'),
      OK + evt("7,10705") + '\r\n+QIND: "FOTA","END",0\r\n',
      "a false success",
    );
    const s = makeRig({ flash: { ...previous } });
    s.exchange("AT+QIOTOTAREQ=1\r", 100);
    s.exchange("AT+QIOTUPDATE=1\r");
    equal(
      s.exchange('AT+QIOTMCUVER="MCU","2.0.0"\r'),
      OK + evt("7,10706"),
      "the real target fails before the information arrives",
    );
    const t = makeRig({ flash: { ...previous } });
    t.exchange("AT+QIOTOTAREQ=1\r", 100);
    t.exchange("AT+QIOTUPDATE=1\r", 1000);
    t.take();
    equal(t.module.storedTarget, "2.0.0", "stored with the download information");
    equal(
      t.exchange('AT+QIOTMCUVER="MCU","1.0.0"\r'),
      OK + evt("7,10706"),
      "a routine report during the download aborts it",
    );
  });

  it("the comparison fires even when QIOTMCUVER answers ERROR (list full)", () => {
    const r = makeRig();
    for (let i = 0; i < 7; i++) r.exchange(`AT+QIOTMCUVER="c${i}","${"v".repeat(60)}"\r`);
    downloaded(r);
    r.exchange("AT+QIOTUPDATE=3\r");
    equal(r.exchange(`AT+QIOTMCUVER="MCU","2.0.0${"x".repeat(59)}"\r`), ERROR + evt("7,10706"));
  });

  it("docs/protocol.md §9a confirm race: QIOTUPDATE=1 right after 10700 gets ERROR, a retry after the window gets OK", () => {
    const r = makeRig({ faults: [{ kind: "race", ms: 200 }] });
    equal(r.exchange("AT+QIOTOTAREQ=1\r", 100), OK + OFFER);
    equal(r.exchange("AT+QIOTUPDATE=1\r"), ERROR);
    equal(r.exchange("AT+QIOTUPDATE=1\r", 199), ERROR);
    r.advance(1);
    equal(r.exchange("AT+QIOTUPDATE=1\r"), OK);
  });

  it("powerOff stops every timer and closes the port", () => {
    const r = makeRig();
    r.exchange("AT+QIOTOTAREQ=1\r", 100);
    r.exchange("AT+QIOTUPDATE=1\r");
    r.module.powerOff();
    ok(r.port.closed);
    equal(r.clock.nextDueAt(), undefined);
  });
});
