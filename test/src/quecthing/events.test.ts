// Event decoder: every code of the reference's tables with exact fields, malformed data as "unknown", never throws.

import fc from "fast-check";
import { EVENT_MEANINGS, decodeEvent, describeEvent } from "../../../src/quecthing/events.js";
import type { QuecEvent } from "../../../src/quecthing/events.js";
import { deepEqual, equal, ok } from "../../lib/assert.js";
import { assertProperty } from "../../lib/property.js";

const IN_XS = typeof (globalThis as { process?: unknown }).process === "undefined";
const MD5 = "0123456789abcdef0123456789ABCDEF";
const SHA = "A".repeat(32) + "0123456789abcdef0123456789abcdef";

describe("quecthing/events", () => {
  it("decodes every OTA (type 7) code with exact fields", () => {
    const table: [string, QuecEvent][] = [
      [
        '+QIOTEVT: 7,10700,"MCU","1_0_0","1_0_1",50,-113,19656',
        {
          kind: "plan",
          component: "MCU",
          sourceVersion: "1_0_0",
          targetVersion: "1_0_1",
          batteryMin: 50,
          signalMin: -113,
          space: 19656,
        },
      ],
      [
        '+QIOTEVT: 7,10700,"MCU","","2.0",0,0,0',
        {
          kind: "plan",
          component: "MCU",
          sourceVersion: "",
          targetVersion: "2.0",
          batteryMin: 0,
          signalMin: 0,
          space: 0,
        },
      ],
      [
        '+QIOTEVT: 7,10700,"FC41D","A01","A02",30,-100,1048576',
        {
          kind: "plan",
          component: "FC41D",
          sourceVersion: "A01",
          targetVersion: "A02",
          batteryMin: 30,
          signalMin: -100,
          space: 1048576,
        },
      ],
      [
        `+QIOTEVT: 7,10701,"MCU",19656,"${MD5}",4022793929`,
        {
          kind: "download-start",
          component: "MCU",
          size: 19656,
          md5: MD5.toLowerCase(),
          crc: 4022793929,
          sha256: "",
        },
      ],
      [
        `+QIOTEVT: 7,10701,"MCU",19656,"${MD5}",4022793929,"${SHA}"`,
        {
          kind: "download-start",
          component: "MCU",
          size: 19656,
          md5: MD5.toLowerCase(),
          crc: 4022793929,
          sha256: SHA.toLowerCase(),
        },
      ],
      [
        `+QIOTEVT: 7,10701,"MCU",1,"${MD5}",-272173367`,
        {
          kind: "download-start",
          component: "MCU",
          size: 1,
          md5: MD5.toLowerCase(),
          crc: 4022793929,
          sha256: "",
        },
      ],
      [
        `+QIOTEVT: 7,10701,"MCU",1,"${MD5}",0`,
        { kind: "download-start", component: "MCU", size: 1, md5: MD5.toLowerCase(), crc: 0, sha256: "" },
      ],
      [
        `+QIOTEVT: 7,10701,"MCU",1,"${MD5}",4294967295`,
        {
          kind: "download-start",
          component: "MCU",
          size: 1,
          md5: MD5.toLowerCase(),
          crc: 4294967295,
          sha256: "",
        },
      ],
      ["+QIOTEVT: 7,10701", { kind: "fota-download-start" }],
      ["+QIOTEVT: 7,10702", { kind: "downloading" }],
      [
        '+QIOTEVT: 7,10703,"MCU",19656,0,19656',
        { kind: "piece", component: "MCU", fileSize: 19656, pieceStart: 0, pieceLength: 19656 },
      ],
      [
        '+QIOTEVT: 7,10703,"MCU",300000,131072,131072',
        { kind: "piece", component: "MCU", fileSize: 300000, pieceStart: 131072, pieceLength: 131072 },
      ],
      ["+QIOTEVT: 7,10703", { kind: "fota-piece" }],
      ["+QIOTEVT: 7,10704", { kind: "updating" }],
      ["+QIOTEVT: 7,10705", { kind: "update-succeeded" }],
      ["+QIOTEVT: 7,10706", { kind: "update-failed" }],
      ["+QIOTEVT: 7,10707,0", { kind: "multi-result", value: 0 }],
      ["+QIOTEVT: 7,10707", { kind: "multi-result", value: 0 }],
      ["+QIOTEVT: 7,10708", { kind: "subdevice-timeout" }],
      ["  +qiotevt:7,10705  ", { kind: "update-succeeded" }],
    ];
    for (const [line, event] of table) deepEqual(decodeEvent(line), event, line);
  });

  it("decodes every code of the connection/auth/access/subscribe/downlink/deregistration table with its meaning", () => {
    const table: [string, number, number, boolean, string][] = [
      ["1,10200", 1, 10200, true, "authenticated"],
      ["1,10300", 1, 10300, false, "other error"],
      ["1,10404", 1, 10404, false, "platform API error"],
      ["1,10421", 1, 10421, false, "static device cannot re-register"],
      ["1,10422", 1, 10422, false, "wrong DeviceSecret"],
      ["1,10423", 1, 10423, false, "bad ProductKey"],
      ["1,10424", 1, 10424, false, "payload decrypt failed (PK/PS/DS)"],
      ["1,10425", 1, 10425, false, "illegal DeviceKey (must be 4-32 alphanumerics)"],
      ["1,10427", 1, 10427, false, "bad hash"],
      ["1,10431", 1, 10431, false, "illegal DeviceKey (must be 4-32 alphanumerics)"],
      ["1,10433", 1, 10433, false, "bad flag"],
      ["1,10434", 1, 10434, false, "clientID/password mismatch"],
      ["1,10440", 1, 10440, false, "gateway not linked to the sub-device"],
      ["1,10450", 1, 10450, false, "internal error or no network"],
      ["1,10500", 1, 10500, false, "unknown error"],
      ["2,10200", 2, 10200, true, "registered (connected)"],
      ["2,10404", 2, 10404, false, "platform API error"],
      ["2,10430", 2, 10430, false, "wrong DeviceSecret"],
      ["2,10431", 2, 10431, false, "device disabled"],
      ["2,10433", 2, 10433, false, "bad flag"],
      ["2,10434", 2, 10434, false, "clientID/password mismatch"],
      ["2,10437", 2, 10437, false, "DeviceSecret incorrect"],
      ["2,10438", 2, 10438, false, "platform cannot get device info"],
      ["2,10441", 2, 10441, true, "sub-device connected"],
      ["2,10450", 2, 10450, false, "internal error or no network"],
      ["2,10471", 2, 10471, false, "version not supported"],
      ["2,10473", 2, 10473, false, "heartbeat timeout"],
      ["2,10474", 2, 10474, false, "network timeout"],
      ["2,10475", 2, 10475, false, "server changed"],
      ["2,10476", 2, 10476, false, "AP/network connection error"],
      ["2,10477", 2, 10477, false, "DeviceKey invalid or device disabled"],
      ["2,10478", 2, 10478, false, "device reset failed"],
      ["2,10500", 2, 10500, false, "unknown error"],
      ["3,10200", 3, 10200, true, "subscribed (ready)"],
      ["3,10300", 3, 10300, false, "subscribe failed"],
      ["4,10200", 4, 10200, true, "uplink sent"],
      ["4,10250", 4, 10250, true, "uplink sent"],
      ["4,10300", 4, 10300, false, "uplink failed"],
      ["4,10350", 4, 10350, false, "uplink failed"],
      ["4,10400", 4, 10400, false, "uplink refused"],
      ["4,10410", 4, 10410, false, "uplink refused"],
      ["4,10420", 4, 10420, false, "uplink refused"],
      ["5,10200", 5, 10200, true, "transparent data received"],
      ["5,10210", 5, 10210, true, "TSL data received"],
      ["5,10211", 5, 10211, true, "TSL read request"],
      ["5,10212", 5, 10212, true, "TSL service request"],
      ["5,10428", 5, 10428, false, "throttled: too much data buffered"],
      ["5,10473", 5, 10473, false, "data longer than the buffer"],
      ["6,10200", 6, 10200, true, "deregistered"],
      ["6,10201", 6, 10201, true, "sub-device deregistered"],
      ["8,10428", 8, 10428, false, "throttled: too many messages"],
      ["8,10429", 8, 10429, false, "throttled: activation or daily quota"],
      ["8,10442", 8, 10442, false, "sub-device deregistration failed"],
      ["9,10200", 9, 10200, true, "woken from deep sleep"],
      ["9,10300", 9, 10300, false, "wake error"],
      ["30,0", 30, 0, false, "data-acquisition channel code"],
      ["30,20", 30, 20, false, "data-acquisition channel code"],
      ["30,99", 30, 99, false, ""],
      ["10,10200", 10, 10200, true, ""],
      ["2,10999", 2, 10999, false, ""],
    ];
    for (const [codes, type, code, isOk, meaning] of table) {
      deepEqual(
        decodeEvent(`+QIOTEVT: ${codes}`),
        { kind: "qiot", type, code, data: "", ok: isOk, meaning } as QuecEvent,
        codes,
      );
    }
    let listed = 0;
    for (const key of Object.keys(EVENT_MEANINGS)) if (table.some(([codes]) => codes === key)) listed++;
    equal(listed, Object.keys(EVENT_MEANINGS).length, "every table entry is tested");
  });

  it("keeps the data of non-OTA events (uplink txid, raw-URC length)", () => {
    deepEqual(decodeEvent("+QIOTEVT: 4,10200,17"), {
      kind: "qiot",
      type: 4,
      code: 10200,
      data: "17",
      ok: true,
      meaning: "uplink sent",
    });
    deepEqual(decodeEvent("+QIOTEVT: 5,10210,6"), {
      kind: "qiot",
      type: 5,
      code: 10210,
      data: "6",
      ok: true,
      meaning: "TSL data received",
    });
  });

  it("describes auth failures the way the engine logs them", () => {
    equal(describeEvent(decodeEvent("+QIOTEVT: 1,10422")), "auth failed: 10422 wrong DeviceSecret");
    equal(describeEvent(decodeEvent("+QIOTEVT: 3,10200")), "subscribe ok: 10200 subscribed (ready)");
    equal(describeEvent(decodeEvent("+QIOTEVT: 4,10200,5")), "uplink ok: 10200 uplink sent (5)");
    equal(
      describeEvent(decodeEvent('+QIOTEVT: 7,10700,"MCU","","2",0,-113,100')),
      'OTA plan for "MCU": (full) -> 2, battery >= 0%, signal >= -113 dBm, space 100 B',
    );
    equal(
      describeEvent(decodeEvent('+QIOTEVT: 7,10703,"MCU",100,0,50')),
      'OTA piece of "MCU" ready: bytes 0..50 of 100',
    );
    equal(describeEvent(decodeEvent("RDY")), "module ready (RDY)");
    equal(describeEvent(decodeEvent('+QIND: "FOTA","END",0')), "+QIND FOTA END 0");
  });

  it("decodes +QIND and RDY", () => {
    deepEqual(decodeEvent('+QIND: "FOTA","END",0'), { kind: "qind", fields: ["FOTA", "END", "0"] });
    deepEqual(decodeEvent('+QIND: "FOTA","UPDATING",45'), {
      kind: "qind",
      fields: ["FOTA", "UPDATING", "45"],
    });
    deepEqual(decodeEvent("+QIND: SMS DONE"), { kind: "qind", fields: ["SMS DONE"] });
    deepEqual(decodeEvent("RDY"), { kind: "ready" });
    deepEqual(decodeEvent("APP RDY"), { kind: "ready" });
  });

  it("returns unknown with a reason for malformed OTA data and non-URC text", () => {
    const cases: [string, RegExp][] = [
      ['+QIOTEVT: 7,10700,"MCU","1"0","2",0,0,0', /7,10700: unexpected "0" after field 2/],
      ['+QIOTEVT: 7,10700,"MCU","1,0","2",0,0,0', /7,10700: source version "1,0" contains ","/],
      ['+QIOTEVT: 7,10700,"MCU","1","2:0",0,0,0', /7,10700: target version "2:0" contains ":"/],
      ['+QIOTEVT: 7,10700,"MCU","1","2",0,0', /7,10700: expected 6 fields, got 5/],
      ['+QIOTEVT: 7,10700,"MCU","1","2",,0,0', /7,10700: battery minimum must be an unsigned number, got ""/],
      ['+QIOTEVT: 7,10700,MCU,"1","2",0,0,0', /7,10700: component must be a quoted string/],
      ['+QIOTEVT: 7,10700,"","1","2",0,0,0', /7,10700: component "" must be at least 1 byte/],
      ['+QIOTEVT: 7,10700,"MCU","1","2",0,abc,0', /7,10700: signal minimum must be a number, got "abc"/],
      ['+QIOTEVT: 7,10700,"MCU","1","2",0,0,"0"', /7,10700: space must be an unsigned number/],
      [`+QIOTEVT: 7,10701,"MCU",19656,"${MD5.slice(1)}",1`, /7,10701: md5 must be 32 hex digits/],
      [`+QIOTEVT: 7,10701,"MCU",19656,"${MD5.slice(1)}g",1`, /7,10701: md5 must be 32 hex digits/],
      [`+QIOTEVT: 7,10701,"MCU",19656,"${MD5}",4294967296`, /7,10701: crc 4294967296 is not 32-bit/],
      [`+QIOTEVT: 7,10701,"MCU",19656,"${MD5}",1,"${SHA.slice(2)}"`, /7,10701: sha256 must be 64 hex digits/],
      [`+QIOTEVT: 7,10701,"MCU",19656,"${MD5}"`, /7,10701: expected 4 or 5 fields, got 3/],
      [`+QIOTEVT: 7,10701,"MCU",-5,"${MD5}",1`, /7,10701: size must be an unsigned number/],
      ['+QIOTEVT: 7,10703,"MCU",100,0', /7,10703: expected 4 fields, got 3/],
      ['+QIOTEVT: 7,10703,"MCU,100,0,5', /7,10703: unterminated quoted field/],
      ["+QIOTEVT: 7,10707,x", /7,10707: value must be an unsigned number/],
      ["+QIOTEVT: 7,10799", /7,10799: unknown OTA code 10799/],
      ["+QIOTEVT: 7", /expected \+QIOTEVT: <type>,<code>/],
      ["+QIOTEVT: x,y", /expected \+QIOTEVT: <type>,<code>/],
      ['+QIND: "FOTA', /\+QIND: unterminated quoted field/],
      ["OK", /not a QuecThing URC/],
      ["POWERED DOWN", /not a QuecThing URC/],
      ["", /not a QuecThing URC/],
    ];
    for (const [line, reason] of cases) {
      const e = decodeEvent(line);
      ok(e.kind === "unknown" && e.line === line && reason.test(e.reason), `${line} → ${JSON.stringify(e)}`);
    }
  });

  const NEVER_THROWS_RUNS = IN_XS ? 100 : 2000;
  it(`never throws and always yields a describable event on arbitrary strings (fast-check, ${NEVER_THROWS_RUNS} cases)`, () => {
    const runs = NEVER_THROWS_RUNS;
    const field = fc.oneof(
      fc.string({ maxLength: 8 }),
      fc.integer().map(String),
      fc.string({ maxLength: 8 }).map((s) => `"${s}"`),
    );
    const near = fc
      .tuple(
        fc.constantFrom("+QIOTEVT: 7,", "+QIOTEVT: ", "+QIND: ", "RDY", ""),
        fc.constantFrom("10700", "10701", "10703", "10707", "2", "1,10422", ""),
        fc.array(field, { maxLength: 8 }),
      )
      .map(([p, c, f]) => `${p}${c}${f.length ? "," : ""}${f.join(",")}`);
    let cases = 0;
    assertProperty(
      fc.property(fc.oneof(fc.string({ maxLength: 120 }), near), (line) => {
        const e = decodeEvent(line);
        ok(typeof e.kind === "string");
        equal(typeof describeEvent(e), "string");
        cases++;
      }),
      { numRuns: runs },
    );
    equal(cases, runs);
  });

  it("round-trips generated plans and download information (fast-check)", () => {
    const name = fc.stringMatching(/^[A-Za-z0-9._-]{1,32}$/);
    const ver = fc.stringMatching(/^[A-Za-z0-9._-]{0,64}$/);
    const hexd = (n: number) => fc.stringMatching(new RegExp(`^[0-9a-fA-F]{${n}}$`));
    assertProperty(
      fc.property(
        name,
        ver,
        ver,
        fc.nat(100),
        fc.integer({ min: -150, max: 0 }),
        fc.nat(1 << 30),
        (c, s, t, b, sig, space) => {
          deepEqual(decodeEvent(`+QIOTEVT: 7,10700,"${c}","${s}","${t}",${b},${sig},${space}`), {
            kind: "plan",
            component: c,
            sourceVersion: s,
            targetVersion: t,
            batteryMin: b,
            signalMin: sig,
            space,
          } as QuecEvent);
        },
      ),
      { numRuns: IN_XS ? 30 : 300 },
    );
    assertProperty(
      fc.property(
        name,
        fc.nat(1 << 30),
        hexd(32),
        fc.nat(0xffffffff),
        fc.option(hexd(64)),
        (c, size, md5, crc, sha) => {
          const line = `+QIOTEVT: 7,10701,"${c}",${size},"${md5}",${crc}${sha === null ? "" : `,"${sha}"`}`;
          deepEqual(decodeEvent(line), {
            kind: "download-start",
            component: c,
            size,
            md5: md5.toLowerCase(),
            crc,
            sha256: sha === null ? "" : sha.toLowerCase(),
          } as QuecEvent);
        },
      ),
      { numRuns: IN_XS ? 30 : 300 },
    );
  });
});
