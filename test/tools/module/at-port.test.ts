// The module's AT port: any byte sequence on the UART is input (never a throw), and the next command is answered.

import fc from "fast-check";
import { equal } from "../../lib/assert.js";
import { decodeLine, parseCommand } from "../../../tools/module/at-port.js";
import { makeRig, OK } from "./harness.js";

const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env ?? {};
/** Printed in the test title; replay a run with MODULE_NOISE_SEED=<seed>. */
const seed = env["MODULE_NOISE_SEED"]
  ? Number(env["MODULE_NOISE_SEED"])
  : (Date.now() ^ (Math.random() * 2 ** 31)) | 0;

const decode = (bytes: number[]) => decodeLine(Uint8Array.from(bytes), bytes.length);
const CSQ = "\r\n+CSQ: 21,99\r\n" + OK;

describe("tools/module AT port", () => {
  it("bytes F5 80 80 80 (above U+10FFFF) are line noise: no throw, the next command is answered", () => {
    const r = makeRig();
    r.port.inject(Uint8Array.from([245, 128, 128, 128]));
    equal(r.exchange("\r"), "", "a line without AT is ignored");
    equal(r.exchange("AT+CSQ\r"), CSQ);
    const echoing = makeRig({ raw: true }); // echo on, as after power-on
    echoing.advance(100);
    equal(echoing.take(), "\r\nRDY\r\n");
    echoing.port.inject(Uint8Array.from([245, 128, 128, 128, 13]));
    echoing.take(); // the echo of the noise line
    equal(echoing.exchange("AT+CSQ\r"), "AT+CSQ\r\n" + CSQ, "with echo on too");
  });

  it("decodes UTF-8 and keeps every byte of anything else as a Latin-1 character", () => {
    equal(decode([245, 128, 128, 128]), "\xf5\x80\x80\x80", "above U+10FFFF (F5 lead)");
    equal(decode([0xf4, 0x90, 0x80, 0x80]), "\xf4\x90\x80\x80", "U+110000 (F4 lead)");
    equal(decode([0xf4, 0x8f, 0xbf, 0xbf]), "\u{10ffff}", "U+10FFFF, the last code point");
    equal(decode([0x41, 0xc3, 0xa9, 0x54]), "A\u00e9T", "é between ASCII");
    equal(decode([0xe2, 0x82, 0xac]), "\u20ac", "€");
    equal(decode([0xc0, 0x80]), "\xc0\x80", "overlong NUL");
    equal(decode([0xed, 0xa0, 0x80]), "\xed\xa0\x80", "a UTF-16 surrogate");
    equal(decode([0xf8, 0x88, 0x80, 0x80, 0x80]), "\xf8\x88\x80\x80\x80", "5-byte form");
    equal(decode([0xff, 0x80, 0x80]), "\xff\x80\x80", "FF lead");
    equal(decode([0xe2, 0x82]), "\xe2\x82", "cut short at the line end");
  });

  it("splits a command into name, mode and arguments", () => {
    equal(JSON.stringify(parseCommand("AT")), '{"name":"","mode":"exec","args":[]}');
    equal(JSON.stringify(parseCommand("ate0")), '{"name":"E0","mode":"exec","args":[]}');
    equal(JSON.stringify(parseCommand("AT+QIOTSTATE?")), '{"name":"+QIOTSTATE","mode":"read","args":[]}');
    equal(JSON.stringify(parseCommand("AT+QIOTOTARD=?")), '{"name":"+QIOTOTARD","mode":"test","args":[]}');
    equal(
      JSON.stringify(parseCommand('AT+QIOTMCUVER="MCU", 1.0 ')),
      '{"name":"+QIOTMCUVER","mode":"write","args":[{"quoted":true,"value":"MCU"},{"quoted":false,"value":"1.0"}]}',
    );
    equal(parseCommand('AT+QIOTMCUVER="MCU'), undefined, "unterminated quote");
    equal(parseCommand("AT+QIOTSTATE?X"), undefined, "text after the mode");
  });

  it(`arbitrary bytes never throw and the next well-formed command is answered (seed ${seed})`, () => {
    const byte = fc.oneof(
      fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 0x80, max: 0xff }),
      fc.constantFrom(0x0d, 0x0a, 0x22, 0x2c, 0x3d, 0x3f),
    );
    const chunk = fc.oneof(
      fc.array(byte, { maxLength: 40 }),
      fc.constant([245, 128, 128, 128]),
      fc
        .constantFrom("AT", 'AT+QIOTMCUVER="', "AT+QIOTCFG=", "AT+QIOTOTARD=")
        .map((t) => Array.from(t, (c) => c.charCodeAt(0))),
    );
    fc.assert(
      fc.property(fc.array(chunk, { maxLength: 12 }), (chunks) => {
        const r = makeRig();
        r.port.inject(Uint8Array.from(chunks.flat()));
        r.send("\r"); // ends the line the noise left open
        r.take();
        const echo = r.module.echoOn ? "AT+CSQ\r\n" : ""; // noise may hold ATE1
        equal(r.exchange("AT+CSQ\r"), echo + CSQ);
      }),
      { seed, numRuns: 100 },
    );
  });
});
