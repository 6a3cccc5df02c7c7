// Lexer edge cases from mutation testing: near misses of every header, final code and echo (one byte off must not
// match), exact bounds (line length, URC buffer, count digits), trimming, and what reset/endDiscard leave behind.

import { AtLexer } from "../../../src/at/lexer.js";
import type { LexerErrorKind } from "../../../src/at/lexer.js";
import { deepEqual, equal } from "../../lib/assert.js";
import { latin1 } from "./fake-port.js";

/** Records every callback as text (trailer gaps too), so one deepEqual checks a whole exchange. */
function recorder(maxLineLength = 64, maxRawUrcLength = 4) {
  const log: string[] = [];
  let target: Uint8Array | undefined;
  let unclaimed = 0;
  const lexer = new AtLexer(
    {
      line: (t) => log.push(`line ${t}`),
      echo: () => log.push("echo"),
      otaHeader: (s, n) => {
        log.push(`header ${s},${n}`);
        return target;
      },
      otaUnclaimedLimit: () => unclaimed,
      discardStart: () => log.push("discard"),
      otaPayloadEnd: () => log.push("end"),
      otaTrailer: (gap) => log.push(`trailer ${gap}`),
      rawUrc: (l, p) => log.push(`raw ${l} [${Array.from(p).join(" ")}]`),
      rawMode: (a, n) => log.push(`mode ${a} ${n}`),
      error: (k: LexerErrorKind, d) => log.push(`error ${k} ${d}`),
    },
    { maxLineLength, maxRawUrcLength },
  );
  return {
    log,
    lexer,
    feed(text: string): void {
      lexer.push(latin1(text));
    },
    claim(buffer: Uint8Array | undefined, limit = 0): void {
      target = buffer;
      unclaimed = limit;
    },
  };
}

describe("at/lexer edges", () => {
  it("interns exactly OK and ERROR: lines one byte away from them keep their own text", () => {
    const r = recorder();
    const near = [
      "NO",
      "OX",
      "AK",
      "O",
      "OKAY",
      "ERRO",
      "ERRORS",
      "XRROR",
      "EXROR",
      "ERXOR",
      "ERRXR",
      "ERROX",
      "XERROR",
    ];
    r.feed(near.map((l) => `${l}\r\n`).join(""));
    deepEqual(
      r.log,
      near.map((l) => `line ${l}`),
    );
  });

  it("takes a +QIOTOTARD header only when the prefix, both numbers and the comma are all there", () => {
    const r = recorder();
    const lines = [
      "+QIOTOTARX: 1,2",
      "+QIOTOTAR",
      "+QIOTOTARD",
      "+QIOTOTARD: 1",
      "+QIOTOTARD: 1;2",
      "+QIOTOTARD: ,2",
      "+QIOTOTARD: 1,",
      "+QIOTOTARD: 1,2x",
      "+QIOTOTARD: 00000000001,0",
      "+QIOTOTARD: 2147483648,0",
      "-QIOTOTARD: 1,0",
    ];
    r.feed(lines.map((l) => `${l}\r\n`).join(""));
    deepEqual(
      r.log,
      lines.map((l) => `line ${l}`),
    );
  });

  it("accepts a header with spaces around the numbers, the largest count and a lower-case prefix", () => {
    const r = recorder();
    // An empty payload ends at once: no byte of the stream after the header is taken.
    r.feed("+qiototard:  7 , 0 \r\n+QIOTOTARD: 2147483647,0\r\n+QIOTOTARD: 0000000001,0\r\nOK\r\n");
    deepEqual(r.log, [
      "header 7,0",
      "mode true 0",
      "mode false 0",
      "end",
      "header 2147483647,0",
      "mode true 0",
      "mode false 0",
      "end",
      "header 1,0",
      "mode true 0",
      "mode false 0",
      "end",
      "line OK",
    ]);
    equal(r.lexer.raw, false);
  });

  it("ends an empty claimed payload at once, before any further byte arrives", () => {
    const r = recorder();
    r.claim(new Uint8Array(8));
    r.feed("+QIOTOTARD: 5,0\r");
    deepEqual(r.log, ["header 5,0", "mode true 0", "mode false 0", "end"]);
    equal(r.lexer.raw, false);
    equal(r.lexer.rawRemainingCount, 0);
  });

  it("takes a raw URC header only for type 5, codes 10200 and 10210, with a length", () => {
    const r = recorder(64, 4);
    const lines = [
      "+QIOTEVT: 5,10200",
      "+QIOTEVT: 6,10200,1",
      "+QIOTEVT: 5,10201,1",
      "+QIOTEVT: 5,10211,1",
      "+QIOTEVT: 5;10200,1",
      "+QIOTEVT: 5,10200;1",
      "+QIOTEVT: 5,10200,1x",
      "+QIOTEVT: x,10200,1",
      "+QIOTEVT: 5,x,1",
      "+QIOTEVX: 5,10200,1",
      "+QIOTEV",
    ];
    r.feed(lines.map((l) => `${l}\r\n`).join(""));
    deepEqual(
      r.log,
      lines.map((l) => `line ${l}`),
    );
  });

  it("keeps a raw URC payload exactly as long as its buffer, from a 10210 header with spaces and lower case", () => {
    const r = recorder(64, 4);
    r.feed("+qiotevt: 5 , 10210 , 4\r\nABCD\r\nOK\r\n");
    deepEqual(r.log, ["mode true 4", "mode false 0", "raw +qiotevt: 5 , 10210 , 4 [65 66 67 68]", "line OK"]);
  });

  it("reports a raw URC one byte longer than its buffer with how much is taken", () => {
    const r = recorder(64, 4);
    r.feed("+QIOTEVT: 5,10200,5\r\nABCDE");
    deepEqual(r.log, [
      "error payload-too-large raw URC payload of 5 bytes discarded (at most 4 taken, the rest until quiet): +QIOTEVT: 5,10200,5",
      "line +QIOTEVT: 5,10200,5",
      "mode true 4",
      "mode false 0",
      "discard",
    ]);
    equal(r.lexer.discarding, true);
  });

  it("drops a line exactly one byte longer than the buffer, keeps one that fills it", () => {
    const r = recorder(4);
    r.feed("ABCD\r\nABCDE\r\nWXYZ\r\n");
    deepEqual(r.log, ["line ABCD", "error overflow line longer than 4 bytes discarded", "line WXYZ"]);
  });

  it("keeps tabs and ~ inside a line, trims spaces and tabs at both ends", () => {
    const r = recorder();
    r.feed("A\tB ~\r\n\t \tC\r\nD \t\t\r\n\t~\t\r\n");
    deepEqual(r.log, ["line A\tB ~", "line C", "line D", "line ~"]);
  });

  it("matches the echo candidate trimmed of spaces and tabs, case-insensitively, and nothing one byte off", () => {
    const r = recorder();
    r.lexer.echoCandidate = " \tAt+Qiotreg=1\t ";
    r.feed(
      "AT+QIOTREG=1\r\nat+qiotreg=1 \r\nAT+QIOTREG=\r\nAT+QIOTREG=11\r\nAT+QIOTREG=2\r\nBT+QIOTREG=1\r\n",
    );
    deepEqual(r.log, [
      "echo",
      "echo",
      "line AT+QIOTREG=",
      "line AT+QIOTREG=11",
      "line AT+QIOTREG=2",
      "line BT+QIOTREG=1",
    ]);
  });

  it("folds only a-z in an echo: z matches Z, but { is not [ and ~ is not ^", () => {
    const r = recorder();
    r.lexer.echoCandidate = "ATZ";
    r.feed("atz\r\n");
    r.lexer.echoCandidate = "AT{~";
    r.feed("AT[^\r\nAT{~\r\n");
    r.lexer.echoCandidate = "AT`";
    r.feed("AT@\r\n");
    deepEqual(r.log, ["echo", "line AT[^", "echo", "line AT@"]);
  });

  it("with no candidate reports every line, whatever its text", () => {
    const r = recorder();
    r.feed("Stryker was here!\r\n");
    deepEqual(r.log, ["line Stryker was here!"]);
  });

  it("matches the echo from bytes only when no text candidate is set, over exactly echoLength bytes", () => {
    const r = recorder();
    const bytes = latin1("AT+QIOTOTARD=0,5\rXYZ");
    r.lexer.echoBytes = bytes;
    r.lexer.echoLength = 16;
    r.feed(
      "at+qiototard=0,5\r\nAT+QIOTOTARD=0,6\r\nAT+QIOTOTARD=0,\r\nAT+QIOTOTARD=0,5X\r\nBT+QIOTOTARD=0,5\r\n",
    );
    r.lexer.echoLength = 0;
    r.feed("AT+QIOTOTARD=0,5\r\n");
    // A text candidate wins over the bytes.
    r.lexer.echoLength = 16;
    r.lexer.echoCandidate = "ATE0";
    r.feed("ATE0\r\nAT+QIOTOTARD=0,5\r\n");
    deepEqual(r.log, [
      "echo",
      "line AT+QIOTOTARD=0,6",
      "line AT+QIOTOTARD=0,",
      "line AT+QIOTOTARD=0,5X",
      "line BT+QIOTOTARD=0,5",
      "line AT+QIOTOTARD=0,5",
      "echo",
      "line AT+QIOTOTARD=0,5",
    ]);
  });

  it("after reset() counts no trailer gap and tells no end of an OTA payload it was not in", () => {
    const r = recorder(64, 4);
    r.lexer.reset();
    r.feed("+QIOTEVT: 5,10200,3\r\nAB");
    r.lexer.reset();
    r.feed("OK\r\n");
    deepEqual(r.log, ["mode true 3", "mode false 0", "line OK"]);
  });

  it("endDiscard() in raw mode changes nothing; a reset between two discards restarts the dropped count", () => {
    const r = recorder(64, 4);
    r.feed("+QIOTEVT: 5,10200,3\r\nA");
    r.lexer.endDiscard();
    equal(r.lexer.raw, true);
    equal(r.lexer.rawRemainingCount, 2);
    r.feed("BC");
    r.lexer.abandon();
    r.feed("12345");
    r.lexer.reset();
    r.lexer.abandon();
    r.feed("123");
    r.lexer.endDiscard();
    deepEqual(r.log, [
      "mode true 3",
      "mode false 0",
      "raw +QIOTEVT: 5,10200,3 [65 66 67]",
      "discard",
      "discard",
      "error discarded 3 bytes dropped after an abandoned payload",
    ]);
  });

  it("abandon() while discarding keeps counting the dropped bytes", () => {
    const r = recorder();
    r.lexer.abandon();
    r.feed("12");
    r.lexer.abandon();
    r.feed("345");
    r.lexer.endDiscard();
    deepEqual(r.log, ["discard", "error discarded 5 bytes dropped after an abandoned payload"]);
  });

  it("a discard entered at the end of a payload counts from zero after a reset, and counts an LF", () => {
    const r = recorder(64, 4);
    r.lexer.abandon();
    r.feed("12345");
    r.lexer.reset();
    r.feed("+QIOTEVT: 5,10200,6\r\nABCD\nXY");
    r.lexer.endDiscard();
    deepEqual(r.log.slice(-2), ["discard", "error discarded 3 bytes dropped after an abandoned payload"]);
  });

  it("with neither a text nor a bytes candidate, a line as long as the last echoLength is a line", () => {
    const r = recorder();
    r.lexer.echoBytes = undefined;
    r.lexer.echoLength = 4;
    r.feed("ABCD\r\n");
    deepEqual(r.log, ["line ABCD"]);
  });

  it("matches a bytes echo after leading spaces", () => {
    const r = recorder();
    r.lexer.echoBytes = latin1("AT+QIOTOTARD=0,5\r");
    r.lexer.echoLength = 16;
    r.feed("  AT+QIOTOTARD=0,5\r\n");
    deepEqual(r.log, ["echo"]);
  });
});
