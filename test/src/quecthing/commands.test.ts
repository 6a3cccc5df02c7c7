// Command builders: exact text and every validation error; parsers of information lines.

import fc from "fast-check";
import {
  AT,
  QuecArgumentError,
  UpdateAction,
  parseMcuVersions,
  parseOtaReadMax,
  parseQiotState,
  parseRegisterMode,
  parseSignal,
} from "../../../src/quecthing/commands.js";
import { deepEqual, equal, throws } from "../../lib/assert.js";
import { assertProperty } from "../../lib/property.js";

const IN_XS = typeof (globalThis as { process?: unknown }).process === "undefined";

describe("quecthing/commands", () => {
  it("refuses a product key or secret that is empty, longer than 32 bytes or holds a quote", () => {
    throws(() => AT.productInfo("", "s"), /product key "" /);
    throws(() => AT.productInfo("k".repeat(33), "s"), /product key/);
    throws(() => AT.productInfo("k", 'a"b'), /product secret/);
  });

  it("builds every command's exact text", () => {
    deepEqual(
      [
        AT.echoOff(),
        AT.echoOn(),
        AT.productInfo("p11abc", "S3cret"),
        AT.productInfoQuery(),
        AT.bufferMode(true),
        AT.bufferMode(false),
        AT.register(0),
        AT.register(1),
        AT.register(2),
        AT.registerQuery(),
        AT.stateQuery(),
        AT.mcuVersion("MCU", "1_0_0"),
        AT.mcuVersion("a", ""),
        AT.mcuVersionQuery(),
        AT.otaRequest(true),
        AT.otaRequest(false),
        AT.update(UpdateAction.Refuse),
        AT.update(UpdateAction.Confirm),
        AT.update(UpdateAction.NextPiece),
        AT.update(UpdateAction.Updating),
        AT.otaReadTest(),
        AT.otaRead(0, 1024),
        AT.otaRead(19456, 200),
        AT.otaRead(4294967295, 65535),
        AT.signalQuery(),
        AT.sleepOff(),
      ],
      [
        "ATE0",
        "ATE1",
        'AT+QIOTCFG="productinfo","p11abc","S3cret"',
        'AT+QIOTCFG="productinfo"',
        'AT+QIOTCFG="buffer",1',
        'AT+QIOTCFG="buffer",0',
        "AT+QIOTREG=0",
        "AT+QIOTREG=1",
        "AT+QIOTREG=2",
        "AT+QIOTREG?",
        "AT+QIOTSTATE?",
        'AT+QIOTMCUVER="MCU","1_0_0"',
        'AT+QIOTMCUVER="a",""',
        "AT+QIOTMCUVER?",
        "AT+QIOTOTAREQ=1",
        "AT+QIOTOTAREQ=0",
        "AT+QIOTUPDATE=0",
        "AT+QIOTUPDATE=1",
        "AT+QIOTUPDATE=2",
        "AT+QIOTUPDATE=3",
        "AT+QIOTOTARD=?",
        "AT+QIOTOTARD=0,1024",
        "AT+QIOTOTARD=19456,200",
        "AT+QIOTOTARD=4294967295,65535",
        "AT+CSQ",
        "AT+QSCLK=0",
      ],
    );
  });

  it("accepts the limits of QIOTMCUVER: id of 32 bytes, version of 64 bytes", () => {
    const id = "I".repeat(32);
    const ver = "v".repeat(64);
    equal(AT.mcuVersion(id, ver), `AT+QIOTMCUVER="${id}","${ver}"`);
    equal(AT.mcuVersion("STM32", "V1.0.0-rc_1 beta"), 'AT+QIOTMCUVER="STM32","V1.0.0-rc_1 beta"');
  });

  it("rejects every invalid QIOTMCUVER argument with a message naming the argument and the limit", () => {
    const cases: [string, string, RegExp][] = [
      ["", "1", /MCU component id "" must be at least 1 byte$/],
      ["I".repeat(33), "1", /MCU component id "I{33}" is 33 bytes, the limit is 32/],
      ["MCU", "v".repeat(65), /MCU version "v{65}" is 65 bytes, the limit is 64/],
      ['M"CU', "1", /MCU component id "M\\"CU" contains "\\"" at index 1/],
      ["MCU", "1:0", /MCU version "1:0" contains ":" at index 1/],
      ["MCU", "1;0", /MCU version "1;0" contains ";" at index 1/],
      ["MCU", "1,0", /MCU version "1,0" contains "," at index 1/],
      ["MC\u00dc", "1", /MCU component id .* non-printable or non-ASCII character at index 2/],
      ["MCU", "1\r", /MCU version .* non-printable or non-ASCII character at index 1/],
      ["MCU", "\u7248\u672c", /MCU version .* non-ASCII character at index 0/],
    ];
    for (const [id, ver, message] of cases)
      throws(
        () => AT.mcuVersion(id, ver),
        (e) => e instanceof QuecArgumentError && message.test(e.message),
        `${id} / ${ver}`,
      );
  });

  it("rejects out-of-range register modes, update actions and read arguments", () => {
    const bad: [() => string, RegExp][] = [
      [() => AT.register(3 as 0), /register mode must be an integer from 0 to 2, got 3/],
      [() => AT.register(-1 as 0), /register mode must be an integer from 0 to 2, got -1/],
      [() => AT.update(4 as 0), /update action must be an integer from 0 to 3, got 4/],
      [() => AT.update(1.5 as 0), /update action must be an integer from 0 to 3, got 1.5/],
      [() => AT.otaRead(-1, 10), /OTA read start must be an integer from 0 to 4294967295, got -1/],
      [
        () => AT.otaRead(4294967296, 10),
        /OTA read start must be an integer from 0 to 4294967295, got 4294967296/,
      ],
      [() => AT.otaRead(0.5, 10), /OTA read start .* got 0.5/],
      [() => AT.otaRead(NaN, 10), /OTA read start .* got NaN/],
      [() => AT.otaRead(0, 0), /OTA read length must be an integer from 1 to 65535, got 0/],
      [() => AT.otaRead(0, 65536), /OTA read length must be an integer from 1 to 65535, got 65536/],
      [() => AT.otaRead(0, Infinity), /OTA read length .* got Infinity/],
    ];
    for (const [fn, message] of bad)
      throws(fn, (e) => e instanceof QuecArgumentError && message.test(e.message), String(message));
  });

  it("mcuVersion either throws QuecArgumentError or quotes exactly its valid inputs (fast-check)", () => {
    assertProperty(
      fc.property(fc.string({ maxLength: 40 }), fc.string({ maxLength: 70 }), (id, ver) => {
        const valid = (s: string, min: number, max: number) =>
          s.length >= min && s.length <= max && /^[\x20-\x7e]*$/.test(s) && !/[":;,]/.test(s);
        if (valid(id, 1, 32) && valid(ver, 0, 64))
          equal(AT.mcuVersion(id, ver), `AT+QIOTMCUVER="${id}","${ver}"`);
        else throws(() => AT.mcuVersion(id, ver), QuecArgumentError);
      }),
      { numRuns: IN_XS ? 50 : 500 },
    );
  });

  it("parses the maximum read length in its various forms", () => {
    equal(parseOtaReadMax(["+QIOTOTARD: 0,(1-1024)"]), 1024);
    equal(parseOtaReadMax(["+QIOTOTARD: <start>,(1-4096)"]), 4096);
    equal(parseOtaReadMax(["+QIOTOTARD: (0-4294967295),(1~512)"]), 512);
    equal(parseOtaReadMax(["+QIOTOTARD:0,1-2048"]), 2048);
    equal(parseOtaReadMax(["+qiototard: 0,974"]), 974);
    equal(parseOtaReadMax(["OTHER", "+QIOTOTARD: 0,(1,1000)"]), 1000);
    equal(parseOtaReadMax(["+QIOTOTARD: 0,()"]), undefined);
    equal(parseOtaReadMax(["+QIOTOTARD: 0,(0)"]), undefined);
    equal(parseOtaReadMax([]), undefined);
    equal(parseOtaReadMax(["+CSQ: 1,2"]), undefined);
  });

  it("parses +CSQ into rssi, ber and dBm", () => {
    deepEqual(parseSignal(["+CSQ: 0,0"]), { rssi: 0, ber: 0, dbm: -113 });
    deepEqual(parseSignal(["+CSQ: 20,99"]), { rssi: 20, ber: 99, dbm: -73 });
    deepEqual(parseSignal(["+CSQ: 31,7"]), { rssi: 31, ber: 7, dbm: -51 });
    deepEqual(parseSignal(["+CSQ: 99,99"]), { rssi: 99, ber: 99, dbm: undefined });
    deepEqual(parseSignal(["+CSQ: 120,99"]), { rssi: 120, ber: 99, dbm: undefined });
    equal(parseSignal(["+CSQ: 20"]), undefined);
    equal(parseSignal(["+CSQ: a,b"]), undefined);
    equal(parseSignal([]), undefined);
  });

  it("parses +QIOTSTATE and +QIOTREG", () => {
    equal(parseQiotState(["+QIOTSTATE: 8"]), 8);
    equal(parseQiotState(["+QIOTSTATE:12"]), 12);
    equal(parseQiotState(["+QIOTSTATE: x"]), undefined);
    equal(parseQiotState(["+QIOTREG: 1"]), undefined);
    equal(parseRegisterMode(["+QIOTREG: 2"]), 2);
    equal(parseRegisterMode([]), undefined);
  });

  it("parses +QIOTMCUVER lines and skips malformed ones", () => {
    deepEqual(
      parseMcuVersions([
        '+QIOTMCUVER: "MCU","1_0_0"',
        "+QIOTSTATE: 8",
        '+QIOTMCUVER: "GNSS",""',
        '+QIOTMCUVER: bad"line',
        "+QIOTMCUVER: X,2",
      ]),
      [
        { id: "MCU", version: "1_0_0" },
        { id: "GNSS", version: "" },
        { id: "X", version: "2" },
      ],
    );
  });
});
