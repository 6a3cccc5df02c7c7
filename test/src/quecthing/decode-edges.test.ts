// Decoder and parser edge cases from mutation testing: every description text, anchored number and hex fields, the
// exact bounds of CRC and 32-bit values, field names in reasons, and the information-line parsers' odd forms.

import {
  QuecArgumentError,
  mcuStringProblem,
  parseMcuVersions,
  parseOtaReadMax,
  parseQiotState,
  parseRegisterMode,
  parseSignal,
} from "../../../src/quecthing/commands.js";
import {
  decodeEvent,
  describeEvent,
  eventMeaning,
  eventOk,
  isUpdateEnd,
  isUpdateFailed,
  isUpdatingOrFailed,
} from "../../../src/quecthing/events.js";
import type { QuecEvent } from "../../../src/quecthing/events.js";
import { deepEqual, equal } from "../../lib/assert.js";

const MD5 = "0123456789abcdef0123456789abcdef";
const SHA = "ab".repeat(32);

/** The reason of an unknown event, or its kind when it decoded. */
function reason(line: string): string {
  const e = decodeEvent(line);
  return e.kind === "unknown" ? e.reason : `decoded ${e.kind}`;
}

describe("quecthing decode edges", () => {
  it("describes every event kind in its exact words", () => {
    const events: [QuecEvent, string][] = [
      [
        { kind: "download-start", component: "MCU", size: 10, md5: MD5, crc: 7, sha256: SHA },
        `OTA download started for "MCU": 10 B, md5 ${MD5}, crc 7, sha256 ${SHA}`,
      ],
      [
        { kind: "download-start", component: "MCU", size: 10, md5: MD5, crc: 7, sha256: "" },
        `OTA download started for "MCU": 10 B, md5 ${MD5}, crc 7, no sha256`,
      ],
      [{ kind: "fota-download-start" }, "module firmware (FOTA) download started"],
      [{ kind: "downloading" }, "OTA downloading"],
      [{ kind: "fota-piece" }, "module firmware (FOTA) downloaded"],
      [{ kind: "updating" }, "OTA updating"],
      [{ kind: "update-succeeded" }, "OTA update succeeded"],
      [{ kind: "update-failed" }, "OTA update failed"],
      [{ kind: "multi-result", value: 3 }, "OTA multi-component result 3"],
      [{ kind: "subdevice-timeout" }, "OTA sub-device operation timed out"],
      [{ kind: "unknown", line: 'a"b', reason: "why" }, 'unrecognised line "a\\"b": why'],
      [
        {
          kind: "plan",
          component: "MCU",
          sourceVersion: "1.0",
          targetVersion: "2.0",
          batteryMin: 5,
          signalMin: -90,
          space: 9,
        },
        'OTA plan for "MCU": 1.0 -> 2.0, battery >= 5%, signal >= -90 dBm, space 9 B',
      ],
    ];
    deepEqual(
      events.map(([e]) => describeEvent(e)),
      events.map(([, text]) => text),
    );
  });

  it("names every event type in a description, and an unlisted one by its number", () => {
    const names = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 30, 11].map((type) =>
      describeEvent({ kind: "qiot", type, code: 10300, data: "", ok: false, meaning: "" }),
    );
    deepEqual(names, [
      "auth failed: 10300",
      "access failed: 10300",
      "subscribe failed: 10300",
      "uplink failed: 10300",
      "downlink failed: 10300",
      "deregistration failed: 10300",
      "ota failed: 10300",
      "platform failed: 10300",
      "wake-up failed: 10300",
      "sub-device deregistration failed: 10300",
      "data acquisition failed: 10300",
      "event type 11 failed: 10300",
    ]);
  });

  it("gives uplink and data-acquisition meanings only inside their ranges and types", () => {
    const cases: [number, number, string][] = [
      [4, 10199, ""],
      [4, 10251, ""],
      [4, 10299, ""],
      [4, 10351, ""],
      [5, 10250, ""],
      [5, 10300, ""],
      [3, 10301, ""],
      [2, 10, ""],
      [30, 4, ""],
      [30, 13, "data-acquisition channel code"],
    ];
    deepEqual(
      cases.map(([t, c]) => eventMeaning(t, c)),
      cases.map(([, , m]) => m),
    );
  });

  it("counts 10200-10299 and 2,10441 as success, never type 30", () => {
    deepEqual(
      [
        eventOk(30, 10200),
        eventOk(1, 10199),
        eventOk(1, 10299),
        eventOk(1, 10300),
        eventOk(1, 10441),
        eventOk(2, 10441),
        eventOk(2, 10442),
      ],
      [false, false, true, false, false, true, false],
    );
  });

  it("splits fields around spaces, empty fields and stray quotes exactly", () => {
    deepEqual(decodeEvent('+QIND:  "a"  , b ,"c"'), { kind: "qind", fields: ["a", "b", "c"] });
    deepEqual(decodeEvent("+QIND:,a"), { kind: "qind", fields: ["", "a"] });
    deepEqual(decodeEvent('+QIND: a"b'), {
      kind: "unknown",
      line: '+QIND: a"b',
      reason: "+QIND: stray quote in field 1",
    });
    deepEqual(decodeEvent('+QIND: x,a"b'), {
      kind: "unknown",
      line: '+QIND: x,a"b',
      reason: "+QIND: stray quote in field 2",
    });
    deepEqual(decodeEvent('+QIND: "a"x'), {
      kind: "unknown",
      line: '+QIND: "a"x',
      reason: '+QIND: unexpected "x" after field 1',
    });
  });

  it("names the field of each malformed OTA value", () => {
    const cases: [string, string][] = [
      ['+QIOTEVT: 7,10700,"MCU",1,"2",0,0,0', "7,10700: source version must be a quoted string"],
      ['+QIOTEVT: 7,10700,"MCU","1",2,0,0,0', "7,10700: target version must be a quoted string"],
      ['+QIOTEVT: 7,10700,"MCU","1","2",0,-5x,0', '7,10700: signal minimum must be a number, got "-5x"'],
      ['+QIOTEVT: 7,10700,"MCU","1","2",0,x-5,0', '7,10700: signal minimum must be a number, got "x-5"'],
      [`+QIOTEVT: 7,10701,MCU,10,"${MD5}",1`, "7,10701: component must be a quoted string"],
      [`+QIOTEVT: 7,10701,"",10,"${MD5}",1`, '7,10701: component "" must be at least 1 byte'],
      [
        `+QIOTEVT: 7,10701,"MCU",10,"g${MD5.slice(1)}",1`,
        `7,10701: md5 must be 32 hex digits, got "g${MD5.slice(1)}"`,
      ],
      [`+QIOTEVT: 7,10701,"MCU",10,"${MD5}","1"`, '7,10701: crc must be a number, got "1"'],
      [`+QIOTEVT: 7,10701,"MCU",10,"${MD5}",12x`, '7,10701: crc must be a number, got "12x"'],
      [`+QIOTEVT: 7,10701,"MCU",10,"${MD5}",x12`, '7,10701: crc must be a number, got "x12"'],
      [`+QIOTEVT: 7,10701,"MCU",10,"${MD5}",-2147483649`, "7,10701: crc -2147483649 is not 32-bit"],
      ["+QIOTEVT: 7,10703,MCU,100,0,50", "7,10703: component must be a quoted string"],
      ['+QIOTEVT: 7,10703,"",100,0,50', '7,10703: component "" must be at least 1 byte'],
      ['+QIOTEVT: 7,10703,"MCU",1x,0,50', '7,10703: file size must be an unsigned number, got "1x"'],
      ['+QIOTEVT: 7,10703,"MCU",100,0x,50', '7,10703: piece start must be an unsigned number, got "0x"'],
      ['+QIOTEVT: 7,10703,"MCU",100,0,"50"', '7,10703: piece length must be an unsigned number, got "50"'],
      ["+QIOTEVT: 7,10707,4294967296", "7,10707: value 4294967296 exceeds 4294967295"],
    ];
    deepEqual(
      cases.map(([line]) => reason(line)),
      cases.map(([, text]) => text),
    );
  });

  it("accepts the extreme CRCs and values, and a 10701 with nothing after its comma", () => {
    const crc = (text: string) => {
      const e = decodeEvent(`+QIOTEVT: 7,10701,"MCU",10,"${MD5}",${text}`);
      return e.kind === "download-start" ? e.crc : -1;
    };
    deepEqual([crc("-2147483648"), crc("4294967295"), crc("-1")], [2147483648, 4294967295, 4294967295]);
    deepEqual(decodeEvent("+QIOTEVT: 7,10707,4294967295"), { kind: "multi-result", value: 4294967295 });
    deepEqual(decodeEvent("+QIOTEVT: 7,10701,"), { kind: "fota-download-start" });
    deepEqual(decodeEvent("+QIOTEVT: 7,10703, "), { kind: "fota-piece" });
  });

  it("anchors the +QIOTEVT numbers at both ends, and trims the data of other events", () => {
    deepEqual(
      ["+QIOTEVT: x7,10702", "+QIOTEVT: 7,10702x", "+QIOTEVT: 7,10702 ,"].map((l) => decodeEvent(l).kind),
      ["unknown", "unknown", "downloading"],
    );
    deepEqual(decodeEvent("+QIOTEVT: 4,10200, 17 "), {
      kind: "qiot",
      type: 4,
      code: 10200,
      data: "17",
      ok: true,
      meaning: "uplink sent",
    });
    deepEqual(decodeEvent(undefined as unknown as string), {
      kind: "unknown",
      line: undefined as unknown as string,
      reason: "not a QuecThing URC",
    });
  });

  it("tells update ends and answers to QIOTUPDATE=3 apart", () => {
    const kinds: QuecEvent[] = [
      { kind: "updating" },
      { kind: "update-succeeded" },
      { kind: "update-failed" },
      { kind: "downloading" },
    ];
    deepEqual(kinds.map(isUpdateFailed), [false, false, true, false]);
    deepEqual(kinds.map(isUpdateEnd), [false, true, true, false]);
    deepEqual(kinds.map(isUpdatingOrFailed), [true, false, true, false]);
  });

  it("names a too-short string in bytes, singular only for one", () => {
    deepEqual(
      [
        mcuStringProblem("", 1, 4),
        mcuStringProblem("a", 2, 4),
        mcuStringProblem("abcde", 0, 4),
        mcuStringProblem("ab", 2, 2),
      ],
      ["must be at least 1 byte", "must be at least 2 bytes", "is 5 bytes, the limit is 4", ""],
    );
    equal(new QuecArgumentError("x").name, "QuecArgumentError");
  });

  it("reads information lines trimmed and in any case, the first one with the prefix", () => {
    deepEqual(
      [
        parseQiotState([" +qiotstate: 8 "]),
        parseQiotState(["+QIOTREG: 1", "+QIOTSTATE: 8"]),
        parseQiotState(["+QIOTSTATE:", "+QIOTSTATE: 8"]),
        parseQiotState(["+QIOTSTATE: 8x"]),
        parseQiotState(["+QIOTSTATE: x8"]),
        parseQiotState(["+QIOTSTAT"]),
        parseRegisterMode(["+QIOTREG: 2"]),
      ],
      [8, 8, undefined, undefined, undefined, undefined, 2],
    );
    deepEqual(parseSignal(["+CSQ: 20, 99"]), { rssi: 20, ber: 99, dbm: -73 });
    deepEqual(parseSignal(["+CSQ: 31,0"]), { rssi: 31, ber: 0, dbm: -51 });
    deepEqual(parseSignal(["+CSQ: 32,0"]), { rssi: 32, ber: 0, dbm: undefined });
    equal(parseSignal(["+CSQ: 20,99,1"]), undefined);
  });

  it("reads the maximum read length from the parenthesis when there is one, else after the last comma", () => {
    const max = (body: string) => parseOtaReadMax([`+QIOTOTARD: ${body}`]);
    deepEqual(
      [
        max("(1-512),9999"),
        max("4096,1024"),
        max("19,5"),
        max("9(1-5)"),
        max("(1-512) 9999"),
        max("(1-2147483647)"),
        max("(1-2147483648)"),
        max("(0)"),
      ],
      [512, 1024, 5, 5, 512, 2147483647, undefined, undefined],
    );
  });

  it("reads +QIOTMCUVER pairs quoted (spaces around the comma) or bare (trimmed), and nothing else", () => {
    deepEqual(
      parseMcuVersions([
        '+QIOTMCUVER: "a" , "1.0"',
        "+QIOTMCUVER: b , 2.0",
        "+QIOTMCUVER: ab,cd",
        '+QIOTMCUVER: x"a","1"',
        '+QIOTMCUVER: "a","1"x',
        "+QIOTMCUVER: a,b,c",
        "+CSQ: 1,2",
      ]),
      [
        { id: "a", version: "1.0" },
        { id: "b", version: "2.0" },
        { id: "ab", version: "cd" },
      ],
    );
  });
});
