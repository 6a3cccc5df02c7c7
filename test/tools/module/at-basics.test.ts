// The virtual module's AT side: framing, echo, configuration, registration events, MCU version list, CSQ.

import { equal, deepEqual } from "../../lib/assert.js";
import { makeRig, standardPlan, OK, ERROR, evt, PK, PS } from "./harness.js";

describe("tools/module AT basics", () => {
  it("prints RDY after the boot delay, echoes by default, and frames replies as CR LF text CR LF", () => {
    const r = makeRig({ raw: true });
    equal(r.take(), "", "nothing before the boot delay");
    r.send("AT\r");
    equal(r.take(), "", "input before RDY is not heard");
    r.advance(100);
    equal(r.take(), "\r\nRDY\r\n");
    equal(r.exchange("AT\r"), "AT\r\n" + OK);
    equal(r.exchange("ATE0\r"), "ATE0\r\n" + OK, "ATE0 itself is still echoed");
    equal(r.exchange("AT\r"), OK);
    equal(r.exchange("ATE1\r"), OK);
    equal(r.exchange("at\r"), "at\r\n" + OK, "lower-case at");
  });

  it("accepts commands ending in CR, LF or CR LF, and several in one chunk", () => {
    const r = makeRig();
    equal(r.exchange("AT\r"), OK);
    equal(r.exchange("AT\n"), OK);
    equal(r.exchange("AT\r\n"), OK);
    equal(r.exchange("AT\r\nAT+QIOTSTATE?\r\n"), OK + "\r\n+QIOTSTATE: 8\r\n" + OK);
    equal(r.exchange("AT"), "", "no terminator yet");
    equal(r.exchange("\r"), OK);
  });

  it("answers ERROR to unknown commands and bad syntax, and ignores non-AT noise", () => {
    const r = makeRig();
    equal(r.exchange("AT+FOO\r"), ERROR);
    equal(r.exchange("AT+QIOTUPDATE=x\r"), ERROR);
    equal(r.exchange('AT+QIOTMCUVER="MCU\r'), ERROR);
    equal(r.exchange("AT+QIOTREG=3\r"), ERROR);
    equal(r.exchange("\x00\xffgarbage\r"), "");
  });

  it("AT+CSQ reports rssi = (dBm + 113) / 2 from the configured signal", () => {
    equal(makeRig({ settings: { signalDbm: -71 } }).exchange("AT+CSQ\r"), "\r\n+CSQ: 21,99\r\n" + OK);
    equal(makeRig({ settings: { signalDbm: -113 } }).exchange("AT+CSQ\r"), "\r\n+CSQ: 0,99\r\n" + OK);
    equal(makeRig({ settings: { signalDbm: -40 } }).exchange("AT+CSQ\r"), "\r\n+CSQ: 31,99\r\n" + OK);
    equal(makeRig({ settings: { signalDbm: null } }).exchange("AT+CSQ\r"), "\r\n+CSQ: 99,99\r\n" + OK);
  });

  it("AT+QIOTCFG sets and queries productinfo, buffer and lifetime", () => {
    const r = makeRig();
    equal(
      r.exchange('AT+QIOTCFG="productinfo"\r'),
      `\r\n+QIOTCFG: "productinfo","${PK}","${PS}","EC200U_VIRTUAL_01.001"\r\n` + OK,
    );
    equal(r.exchange('AT+QIOTCFG="buffer"\r'), '\r\n+QIOTCFG: "buffer",0\r\n' + OK);
    equal(r.exchange('AT+QIOTCFG="buffer",1\r'), OK);
    equal(r.exchange('AT+QIOTCFG="buffer"\r'), '\r\n+QIOTCFG: "buffer",1\r\n' + OK);
    equal(r.exchange('AT+QIOTCFG="buffer",2\r'), ERROR);
    equal(r.exchange('AT+QIOTCFG="lifetime"\r'), '\r\n+QIOTCFG: "lifetime",120\r\n' + OK);
    equal(r.exchange('AT+QIOTCFG="lifetime",300\r'), OK);
    equal(r.exchange('AT+QIOTCFG="lifetime"\r'), '\r\n+QIOTCFG: "lifetime",300\r\n' + OK);
    equal(r.exchange('AT+QIOTCFG="lifetime",0\r'), ERROR);
    equal(r.exchange('AT+QIOTCFG="lifetime",65536\r'), ERROR);
    equal(r.exchange('AT+QIOTCFG="productinfo","a","b"\r'), ERROR, "refused while connected");
    equal(r.exchange('AT+QIOTCFG="nonsense",1\r'), ERROR);
  });

  it("connects with 1,10200 only the first time, then 2,10200 and 3,10200; QIOTREG=0 gives 6,10200", () => {
    const r = makeRig({ raw: true });
    r.advance(100);
    r.take();
    r.exchange("ATE0\r");
    equal(r.exchange("AT+QIOTREG=1\r"), ERROR, "no productinfo yet");
    equal(r.exchange(`AT+QIOTCFG="productinfo","${PK}","${PS}"\r`), OK);
    equal(r.exchange("AT+QIOTSTATE?\r"), "\r\n+QIOTSTATE: 0\r\n" + OK);
    equal(r.exchange("AT+QIOTREG=1\r"), OK);
    equal(r.exchange("AT+QIOTSTATE?\r"), "\r\n+QIOTSTATE: 2\r\n" + OK);
    equal(r.exchange("", 100), evt("1,10200"));
    equal(r.exchange("", 100), evt("2,10200"));
    equal(r.exchange("", 100), evt("3,10200"));
    equal(r.exchange("AT+QIOTSTATE?\r"), "\r\n+QIOTSTATE: 8\r\n" + OK);
    equal(r.exchange("AT+QIOTREG?\r"), "\r\n+QIOTREG: 1\r\n" + OK);
    equal(r.exchange("AT+QIOTREG=0\r", 100), OK + evt("6,10200"));
    equal(r.exchange("AT+QIOTSTATE?\r"), "\r\n+QIOTSTATE: 11\r\n" + OK);
    equal(
      r.exchange("AT+QIOTREG=1\r", 300),
      OK + evt("2,10200") + evt("3,10200"),
      "no 1,10200 the second time",
    );
  });

  it("a plan or setting can pre-configure productinfo as saved in the module", () => {
    const r = makeRig({ raw: true, settings: { productKey: PK, productSecret: PS } });
    r.advance(100);
    equal(r.take(), "\r\nRDY\r\n");
    equal(
      r.exchange("AT+QIOTREG=1\r", 300),
      "AT+QIOTREG=1\r\n" + OK + evt("1,10200") + evt("2,10200") + evt("3,10200"),
    );
  });

  it("AT+QIOTMCUVER keeps the 512-byte id:ver list: limits, delete by empty version, update moves to the end", () => {
    const r = makeRig();
    equal(r.exchange('AT+QIOTMCUVER="A","1"\r'), OK);
    equal(r.exchange('AT+QIOTMCUVER="B","2"\r'), OK);
    equal(r.module.mcuVersionList, "MCU:1.0.0;A:1;B:2");
    equal(r.exchange('AT+QIOTMCUVER="A","1.1"\r'), OK);
    equal(r.module.mcuVersionList, "MCU:1.0.0;B:2;A:1.1");
    equal(
      r.exchange("AT+QIOTMCUVER?\r"),
      '\r\n+QIOTMCUVER: "MCU","1.0.0"\r\n\r\n+QIOTMCUVER: "B","2"\r\n\r\n+QIOTMCUVER: "A","1.1"\r\n' + OK,
    );
    equal(r.exchange('AT+QIOTMCUVER="B"\r'), '\r\n+QIOTMCUVER: "B","2"\r\n' + OK);
    equal(r.exchange('AT+QIOTMCUVER="B",""\r'), OK);
    equal(r.exchange('AT+QIOTMCUVER="B"\r'), ERROR, "deleted");
    equal(r.exchange(`AT+QIOTMCUVER="${"x".repeat(32)}","1"\r`), OK, "32-byte id");
    equal(r.exchange(`AT+QIOTMCUVER="${"x".repeat(33)}","1"\r`), ERROR, "33-byte id");
    equal(r.exchange('AT+QIOTMCUVER="","1"\r'), ERROR, "empty id");
    equal(r.exchange(`AT+QIOTMCUVER="V","${"9".repeat(64)}"\r`), OK, "64-byte version");
    equal(r.exchange(`AT+QIOTMCUVER="V","${"9".repeat(65)}"\r`), ERROR, "65-byte version");
    equal(r.exchange('AT+QIOTMCUVER="a:b","1"\r'), ERROR);
    equal(r.exchange('AT+QIOTMCUVER="ab","1;2"\r'), ERROR);
  });

  it("AT+QIOTMCUVER refuses an entry that would overflow the 512-byte list", () => {
    const r = makeRig();
    r.exchange('AT+QIOTMCUVER="MCU",""\r');
    // Each entry "cN:" + 60 chars is 63 or 64 bytes; 8 of them with separators stay under 512.
    for (let i = 0; i < 7; i++) equal(r.exchange(`AT+QIOTMCUVER="c${i}","${"v".repeat(60)}"\r`), OK);
    equal(r.module.mcuVersionList.length, 7 * 63 + 6);
    equal(r.exchange(`AT+QIOTMCUVER="c7","${"v".repeat(60)}"\r`), OK, "7*63+6+1+63 = 511 bytes");
    equal(r.exchange('AT+QIOTMCUVER="d","1"\r'), ERROR, "515 bytes: list full");
    equal(r.module.mcuVersionList.length, 511);
  });

  it("AT+QIOTOTAREQ: ERROR while offline; =2 answers ERROR but stores 2; the option persists", () => {
    const r = makeRig({ raw: true, settings: { productKey: PK, productSecret: PS } });
    r.advance(100);
    r.take();
    r.exchange("ATE0\r");
    equal(r.exchange("AT+QIOTOTAREQ=1\r"), ERROR, "offline");
    equal(r.module.shaOption, 1, "stored even offline (docs/protocol.md §9a)");
    r.exchange("AT+QIOTREG=1\r", 300);
    equal(r.exchange("AT+QIOTOTAREQ=2\r"), ERROR);
    equal(r.module.shaOption, 2);
    equal(r.exchange("AT+QIOTOTAREQ=1\r"), OK);
    equal(r.module.shaOption, 1);
    equal(r.exchange("AT+QIOTOTAREQ\r"), OK);
    equal(r.module.shaOption, 0, "no parameter is option 0");
    equal(r.exchange("AT+QIOTOTAREQ=?\r"), "\r\n+QIOTOTAREQ: (0,1)\r\n" + OK);
  });

  it("AT+QIOTOTAREQ offers nothing when no plan component matches the reported versions, and logs why", () => {
    const r = makeRig();
    r.exchange('AT+QIOTMCUVER="MCU",""\r');
    r.exchange('AT+QIOTMCUVER="app","1.0.0"\r');
    equal(r.exchange("AT+QIOTOTAREQ=1\r", 1000), OK, "MCU not reported");
    r.exchange('AT+QIOTMCUVER="MCU","2.0.0"\r');
    equal(r.exchange("AT+QIOTOTAREQ=1\r", 1000), OK, "already at target");
    const other = makeRig({ plan: standardPlan({ product: "pOTHER" }) });
    equal(other.exchange("AT+QIOTOTAREQ=1\r", 1000), OK, "another product's plan");
    const why = (rig: ReturnType<typeof makeRig>) =>
      rig.module.monitor.entries.map((e) => `${e.event} ${e.component}: ${e.reason}`);
    deepEqual(why(r), [
      'not-offered MCU: component unknown: the plan\'s component is "MCU", the device reported "app" 1.0.0',
      "not-offered MCU: version equal: the device already runs the target 2.0.0",
    ]);
    deepEqual(why(other), [
      "not-offered MCU: the module's product key p11abc is not the plan's product pOTHER",
    ]);
  });
});
