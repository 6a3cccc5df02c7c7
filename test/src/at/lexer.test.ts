// Lexer: line ends, echo, counted OTA payloads and raw-byte URCs, bounded buffers; byte-split invariance.

import fc from "fast-check";
import { AtLexer, MAX_UNCLAIMED } from "../../../src/at/lexer.js";
import type { LexerErrorKind } from "../../../src/at/lexer.js";
import { deepEqual, equal, ok } from "../../lib/assert.js";
import { latin1 } from "./fake-port.js";
import { assertProperty } from "../../lib/property.js";

/** Records every lexer callback as text so whole sessions compare with one deepEqual. */
class Recorder {
  readonly log: string[] = [];
  readonly trailers: number[] = [];
  target: Uint8Array | undefined = new Uint8Array(64);
  unclaimedLimit = 64;
  readonly lexer: AtLexer;
  constructor(maxLineLength = 64, maxRawUrcLength = 16) {
    this.lexer = new AtLexer(
      {
        line: (t) => this.log.push(`line ${t}`),
        echo: () => this.log.push("echo"),
        otaHeader: (s, n) => {
          this.log.push(`header ${s},${n}`);
          if (this.target) this.target.fill(0xee);
          return this.target;
        },
        otaUnclaimedLimit: () => this.unclaimedLimit,
        discardStart: () => this.log.push("discard"),
        otaPayloadEnd: () => this.log.push("end"),
        otaTrailer: (gap) => this.trailers.push(gap),
        rawUrc: (l, p) => this.log.push(`raw ${l} [${Array.from(p).join(" ")}]`),
        rawMode: (a, n) => this.log.push(`mode ${a} ${n}`),
        error: (k: LexerErrorKind, d) => this.log.push(`error ${k} ${d}`),
      },
      { maxLineLength, maxRawUrcLength },
    );
  }
  feed(text: string | Uint8Array): this {
    this.lexer.push(typeof text === "string" ? latin1(text) : text);
    return this;
  }
}

describe("at/lexer", () => {
  it("splits lines on CR LF, CR alone and LF alone, and drops blank lines", () => {
    const r = new Recorder().feed("\r\nA\r\n\r\nB\rC\nD\n\r\n\r  \r\n");
    deepEqual(r.log, ["line A", "line B", "line C", "line D"]);
  });

  it("trims spaces and interns OK and ERROR", () => {
    const r = new Recorder().feed("  OK \r\nERROR\r\n+CME ERROR: 3\r\n");
    deepEqual(r.log, ["line OK", "line ERROR", "line +CME ERROR: 3"]);
  });

  it("reads exactly n raw bytes after a +QIOTOTARD header, never parsing them as lines", () => {
    const r = new Recorder();
    const payload = "\r\nOK\r\n\x00+QIOTEVT: 7,10706\r\nERROR\r";
    r.feed(`\r\n+QIOTOTARD: 100,${payload.length}\r\n${payload}\r\n\r\nOK\r\n`);
    deepEqual(r.log, [
      `header 100,${payload.length}`,
      `mode true ${payload.length}`,
      "mode false 0",
      "end",
      "line OK",
    ]);
    deepEqual(Array.from(r.target!.subarray(0, payload.length)), Array.from(latin1(payload)));
    equal(r.target![payload.length], 0xee, "nothing beyond n is written");
  });

  it("keeps a payload that starts with LF after a CR LF header, and after an LF-only header", () => {
    const r = new Recorder().feed("+QIOTOTARD: 0,3\r\n\n\nA\r\nOK\r\n");
    deepEqual(Array.from(r.target!.subarray(0, 3)), [10, 10, 65]);
    const r2 = new Recorder().feed("+QIOTOTARD: 0,2\n\nB\r\nOK\n");
    deepEqual(Array.from(r2.target!.subarray(0, 2)), [10, 66]);
    deepEqual(r2.log.slice(-2), ["end", "line OK"]);
  });

  it("takes the byte after a CR-only header as the first payload byte when it is not LF", () => {
    const r = new Recorder().feed("+QIOTOTARD: 0,2\rXY\rOK\r");
    deepEqual(Array.from(r.target!.subarray(0, 2)), [88, 89]);
    deepEqual(r.log.slice(-2), ["end", "line OK"]);
  });

  it("treats the test form +QIOTOTARD: 0,(1-1024) and a zero count as plain lines / empty payloads", () => {
    const r = new Recorder().feed("+QIOTOTARD: 0,(1-1024)\r\nOK\r\n+QIOTOTARD: 5,0\r\nOK\r\n");
    deepEqual(r.log, [
      "line +QIOTOTARD: 0,(1-1024)",
      "line OK",
      "header 5,0",
      "mode true 0",
      "mode false 0",
      "end",
      "line OK",
    ]);
  });

  it("consumes (and discards) the payload when the handler has no buffer or the buffer is too small", () => {
    const r = new Recorder();
    r.target = undefined;
    r.feed("+QIOTOTARD: 0,4\r\nOK\r\nX\r\nOK\r\n");
    deepEqual(r.log, ["header 0,4", "mode true 4", "mode false 0", "end", "line X", "line OK"]);
    const small = new Recorder();
    small.target = new Uint8Array(2);
    small.feed("+QIOTOTARD: 0,3\r\nabc\r\nOK\r\n");
    deepEqual(Array.from(small.target!), [0xee, 0xee], "a too-small buffer is left untouched");
    deepEqual(small.log.slice(-2), ["end", "line OK"]);
  });

  it("recognises echo by content, case-insensitively and trimmed, without reporting it as a line", () => {
    const r = new Recorder();
    r.lexer.echoCandidate = "AT+QIOTSTATE?";
    r.feed("at+qiotstate? \r\r\n+QIOTSTATE: 8\r\nAT+QIOTSTATE\r\n");
    deepEqual(r.log, ["echo", "line +QIOTSTATE: 8", "line AT+QIOTSTATE"]);
  });

  it("delivers a raw-byte URC with its payload; of an oversized one takes the buffer's size and discards the rest", () => {
    const r = new Recorder(64, 4);
    const rest = "!\r\nZ\r\n+QIOTEVT: 5,10211\r\nRDY\r\n";
    r.feed("+QIOTEVT: 5,10210,3\r\n\r\nO\r\n+QIOTEVT: 5,10200,5\r\nOK\r\n" + rest);
    ok(r.lexer.discarding);
    r.lexer.endDiscard();
    r.feed("Z\r\n");
    deepEqual(r.log, [
      "mode true 3",
      "mode false 0",
      "raw +QIOTEVT: 5,10210,3 [13 10 79]",
      "error payload-too-large raw URC payload of 5 bytes discarded (at most 4 taken, the rest until quiet): +QIOTEVT: 5,10200,5",
      "line +QIOTEVT: 5,10200,5",
      "mode true 4",
      "mode false 0",
      "discard",
      `error discarded ${rest.length} bytes dropped after an abandoned payload`,
      "line Z",
    ]);
  });

  it("takes at most the handler's limit of an unclaimed payload, then drops every byte until endDiscard()", () => {
    const r = new Recorder();
    r.target = undefined;
    r.unclaimedLimit = 4;
    const rest = "\r\n+QIOTEVT: 7,10706\r\n\r\nRDY\r\n+QIOTOTARD: 0,3\r\nabc\r\nOK\r\n";
    r.feed("+QIOTOTARD: 0,2000000000\r\nWXYZ");
    r.feed(rest);
    ok(r.lexer.discarding);
    equal(r.lexer.raw, false);
    r.lexer.endDiscard();
    equal(r.lexer.discarding, false);
    r.feed("RDY\r\n");
    deepEqual(r.log, [
      "header 0,2000000000",
      "mode true 4",
      "mode false 0",
      "end",
      "discard",
      `error discarded ${rest.length} bytes dropped after an abandoned payload`,
      "line RDY",
    ]);
    deepEqual(r.trailers, [], "a cut payload has no trailer to judge");
  });

  it(`never takes more than ${MAX_UNCLAIMED} bytes of an unclaimed payload, whatever the handler allows`, () => {
    const r = new Recorder();
    r.target = undefined;
    r.unclaimedLimit = 1e9;
    r.feed("+QIOTOTARD: 0,999999999\r\n");
    deepEqual(r.log, ["header 0,999999999", `mode true ${MAX_UNCLAIMED}`]);
    r.feed(new Uint8Array(MAX_UNCLAIMED - 1));
    ok(r.lexer.raw);
    r.feed("\r");
    ok(r.lexer.discarding);
    const big = new Recorder(64, 100000).feed("+QIOTEVT: 5,10200,999999999\r\n");
    deepEqual(big.log.slice(-1), [`mode true ${MAX_UNCLAIMED}`]);
  });

  it("abandon() drops the rest of a cut payload until endDiscard(), reporting how many bytes went", () => {
    const r = new Recorder().feed("+QIOTOTARD: 0,50\r\nabc");
    r.lexer.abandon();
    equal(r.lexer.raw, false);
    ok(r.lexer.discarding);
    r.feed("\r\n+QIOTEVT: 7,10706\r\n");
    r.lexer.abandon();
    r.feed("+QIOTOTARD: 1,2\r\n");
    r.lexer.endDiscard();
    r.lexer.endDiscard();
    r.feed("OK\r\n");
    deepEqual(r.log, [
      "header 0,50",
      "mode true 50",
      "mode false 0",
      "end",
      "discard",
      `error discarded ${"\r\n+QIOTEVT: 7,10706\r\n+QIOTOTARD: 1,2\r\n".length} bytes dropped after an abandoned payload`,
      "line OK",
    ]);
  });

  it("reports and drops an over-long line once, with a fixed buffer, and recovers on the next line", () => {
    const r = new Recorder(8);
    r.feed("0123456789ABCDEF".repeat(100) + "\r\nOK\r\n");
    deepEqual(r.log, ["error overflow line longer than 8 bytes discarded", "line OK"]);
  });

  it("reports and drops a line with non-printable bytes", () => {
    const r = new Recorder().feed(
      new Uint8Array([0x4f, 0x00, 0x4b, 0x0d, 0x0a, 0xff, 0x0a, 0x4f, 0x4b, 0x0a]),
    );
    deepEqual(r.log, [
      "error garbage line with 3 bytes containing non-printable bytes discarded",
      "error garbage line with 1 bytes containing non-printable bytes discarded",
      "line OK",
    ]);
  });

  it("reset() abandons a stalled payload and returns to line mode", () => {
    const r = new Recorder().feed("+QIOTOTARD: 0,50\r\nabc");
    ok(r.lexer.raw);
    equal(r.lexer.rawRemainingCount, 47);
    r.lexer.reset();
    r.feed("OK\r\n");
    equal(r.lexer.raw, false);
    deepEqual(r.log.slice(-3), ["mode false 0", "end", "line OK"]);
  });

  it("gives the same callbacks whatever the chunking (fast-check, 150 streams x random cuts and every byte)", () => {
    const piece = fc.oneof(
      fc.constantFrom("OK", "ERROR", "+QIOTEVT: 2,10200", "RDY", "AT+X", "+CSQ: 1,2", "   "),
      fc.uint8Array({ maxLength: 12 }).map((p) => ({ ota: p })),
      fc.uint8Array({ maxLength: 6 }).map((p) => ({ urc: p })),
    );
    const ends = fc.constantFrom("\r\n", "\r", "\n");
    let runs = 0;
    assertProperty(
      fc.property(
        fc.array(fc.tuple(piece, ends), { maxLength: 12 }),
        fc.array(fc.nat(200), { maxLength: 10 }),
        (items, cuts) => {
          runs++;
          let text = "";
          for (const [p, end] of items) {
            if (typeof p === "string") text += p + end;
            else if ("ota" in p)
              text += `+QIOTOTARD: 7,${p.ota.length}\r\n` + String.fromCharCode(...p.ota) + end;
            else text += `+QIOTEVT: 5,10200,${p.urc.length}\r\n` + String.fromCharCode(...p.urc) + end;
          }
          const bytes = latin1(text);
          const whole = new Recorder(64, 16).feed(bytes).log;
          const chunked = new Recorder(64, 16);
          const points = [0, ...cuts.map((c) => c % (bytes.length + 1)).sort((a, b) => a - b), bytes.length];
          for (let i = 1; i < points.length; i++) chunked.lexer.push(bytes, points[i - 1]!, points[i]!);
          deepEqual(chunked.log, whole);
          const bytewise = new Recorder(64, 16);
          for (let i = 0; i < bytes.length; i++) bytewise.lexer.push(bytes, i, i + 1);
          deepEqual(bytewise.log, whole);
        },
      ),
      { numRuns: 150 },
    );
    equal(runs, 150);
  });
});
