// AtTransport: exact bytes on the wire, final codes, URCs never completing a command, echo, deadlines,
// late replies, counted OTA reads, and chunking invariance over generated sessions (fast-check).

import fc from "fast-check";
import { AtTransport } from "../../../src/at/transport.js";
import type { AtResponse, LineErrorKind, OtaReadResult } from "../../../src/at/transport.js";
import { VirtualClock } from "../../../hal/sim/virtual-clock.js";
import { bytesEqual, deepEqual, equal, ok } from "../../lib/assert.js";
import { FakePort, latin1 } from "./fake-port.js";
import { expected, play, serialise, sessionArb } from "./session-model.js";
import { AT } from "../../../src/quecthing/commands.js";
import { assertProperty } from "../../lib/property.js";

// The XS lane is ~50x slower than Node: keep its property runs modest.
const IN_XS = typeof (globalThis as { process?: unknown }).process === "undefined";
const SESSION_RUNS = IN_XS ? 50 : 300;

function setup(
  options: { commandTimeoutMs?: number; readTimeoutMs?: number; maxLineLength?: number; baud?: number } = {},
) {
  const clock = new VirtualClock();
  const port = new FakePort();
  const transport = new AtTransport(port, clock, { baud: options.baud ?? 115200, ...options });
  const urcs: string[] = [];
  const raw: [string, number[]][] = [];
  const errors: [LineErrorKind, string][] = [];
  transport.onUnsolicited((l) => urcs.push(l));
  transport.onRawUnsolicited((l, p) => raw.push([l, Array.from(p)]));
  transport.onLineError((k, d) => errors.push([k, d]));
  return { clock, port, transport, urcs, raw, errors };
}

/** Tracks a promise's settlement so a test can assert "not yet". */
function track<T>(p: Promise<T>): { value: T | undefined; done: boolean } {
  const box: { value: T | undefined; done: boolean } = { value: undefined, done: false };
  void p.then((v) => {
    box.value = v;
    box.done = true;
  });
  return box;
}

describe("at/transport", () => {
  it("writes the command with CR and returns its information lines on OK", async () => {
    const { clock, port, transport } = setup();
    ok(transport.quiet);
    const r = track(transport.send("AT+QIOTSTATE?"));
    deepEqual(port.writes, ["AT+QIOTSTATE?\r"]);
    equal(transport.quiet, false);
    port.feed("\r\n+QIOTSTATE: 8\r\n\r\nOK\r\n");
    await clock.settle();
    deepEqual(r.value, { final: "OK", cmeError: -1, lines: ["+QIOTSTATE: 8"] } as AtResponse);
    ok(transport.quiet);
  });

  it("reports ERROR and +CME ERROR: <n>", async () => {
    const { clock, port, transport } = setup();
    const a = track(transport.send("AT+QIOTREG=1"));
    const b = track(transport.send("AT+QIOTUPDATE=1"));
    port.feed("\r\nERROR\r\n");
    await clock.settle();
    port.feed("\r\n+CME ERROR: 58\r\n");
    await clock.settle();
    deepEqual(a.value, { final: "ERROR", cmeError: -1, lines: [] } as AtResponse);
    deepEqual(b.value, { final: "CME ERROR", cmeError: 58, lines: [] } as AtResponse);
  });

  it("delivers a URC that arrives before the final code to subscribers and keeps waiting", async () => {
    const { clock, port, transport, urcs } = setup();
    const r = track(transport.send("AT+QIOTREG=1"));
    port.feed("\r\n+QIOTEVT: 2,10200\r\n\r\n+QIOTEVT: 3,10200\r\nRDY\r\n");
    await clock.settle();
    equal(r.done, false, "a URC never completes a command");
    deepEqual(urcs, ["+QIOTEVT: 2,10200", "+QIOTEVT: 3,10200", "RDY"]);
    port.feed("\r\nOK\r\n");
    await clock.settle();
    deepEqual(r.value, { final: "OK", cmeError: -1, lines: [] } as AtResponse);
  });

  it("treats lines with another command's prefix as URCs and a bare line as the command's", async () => {
    const { clock, port, transport, urcs } = setup();
    const r = track(transport.send("AT+CSQ"));
    port.feed('+QIOTSTATE: 8\r\n+CSQ: 31,99\r\n42\r\n+QIND: "FOTA","END",0\r\nOK\r\n');
    await clock.settle();
    deepEqual(r.value, { final: "OK", cmeError: -1, lines: ["+CSQ: 31,99", "42"] } as AtResponse);
    deepEqual(urcs, ["+QIOTSTATE: 8", '+QIND: "FOTA","END",0']);
  });

  it("gives the same result with echo on (any case, CR only) and echo off", async () => {
    for (const echo of ["", "AT+QIOTMCUVER?\r", "at+qiotmcuver?\r\n", "AT+QIOTMCUVER?\r\r\n"]) {
      const { clock, port, transport, urcs } = setup();
      const r = track(transport.send("AT+QIOTMCUVER?"));
      port.feed(`${echo}\r\n+QIOTMCUVER: "MCU","1_0_0"\r\n\r\nOK\r\n`);
      await clock.settle();
      deepEqual(
        r.value,
        { final: "OK", cmeError: -1, lines: ['+QIOTMCUVER: "MCU","1_0_0"'] } as AtResponse,
        `echo ${JSON.stringify(echo)}`,
      );
      deepEqual(urcs, []);
    }
  });

  it("runs queued commands one at a time, in order", async () => {
    const { clock, port, transport } = setup();
    const a = track(transport.send("ATE0"));
    const b = track(transport.send('AT+QIOTCFG="buffer",1'));
    const c = track(transport.send("AT+QIOTREG=1"));
    deepEqual(port.writes, ["ATE0\r"], "only the first command is on the wire");
    port.feed("ATE0\r\r\nOK\r\n");
    await clock.settle();
    ok(a.done);
    deepEqual(port.writes, ["ATE0\r", 'AT+QIOTCFG="buffer",1\r']);
    equal(b.done, false);
    port.feed("\r\nOK\r\n");
    await clock.settle();
    deepEqual(port.writes, ["ATE0\r", 'AT+QIOTCFG="buffer",1\r', "AT+QIOTREG=1\r"]);
    port.feed("\r\nERROR\r\n");
    await clock.settle();
    deepEqual([a.value?.final, b.value?.final, c.value?.final], ["OK", "OK", "ERROR"]);
    ok(transport.quiet);
  });

  it("copes with a port that answers synchronously from inside write()", async () => {
    const { clock, port, transport, urcs } = setup();
    const pending = [
      transport.send("AT+QIOTSTATE?"),
      transport.send("AT+QIOTSTATE?"),
      transport.send("AT+QIOTSTATE?"),
    ];
    // Commands 2 and 3 are written from inside the handling of the previous OK, and answered at once.
    const filler = "0123456789".repeat(8);
    port.onWrite = (text) => port.feed(`${text}\r\n+QIOTSTATE: ${port.writes.length}\r\n${filler}\r\nOK\r\n`);
    port.feed("AT+QIOTSTATE?\r\r\n+QIOTSTATE: 1\r\nOK\r\n\r\n+QIOTEVT: 2,10200\r\n");
    const results = await Promise.all(pending);
    await clock.settle();
    deepEqual(
      results.map((r) => r.lines),
      [["+QIOTSTATE: 1"], ["+QIOTSTATE: 2", filler], ["+QIOTSTATE: 3", filler]],
    );
    deepEqual(
      urcs,
      ["+QIOTEVT: 2,10200"],
      "the bytes after the first OK were not overwritten by the nested reads",
    );
    ok(transport.quiet);
  });

  it("resolves TIMEOUT exactly at the deadline (default 1000 ms, or the per-command one)", async () => {
    const { clock, transport } = setup();
    const a = track(transport.send("AT+QIOTSTATE?"));
    await clock.run(999);
    equal(a.done, false);
    await clock.run(1);
    deepEqual(a.value, { final: "TIMEOUT", cmeError: -1, lines: [] } as AtResponse);
    const { clock: clock2, transport: t2 } = setup({ commandTimeoutMs: 300 });
    const b = track(t2.send("AT+QIOTREG=1", 5000));
    await clock2.run(4999);
    equal(b.done, false);
    await clock2.run(1);
    equal(b.value?.final, "TIMEOUT");
  });

  it("after a timeout, holds the next command until the line is silent and reports the late reply", async () => {
    const { clock, port, transport, errors } = setup();
    const a = track(transport.send("AT+QIOTSTATE?"));
    const b = track(transport.send("AT+CSQ"));
    await clock.run(1000);
    equal(a.value?.final, "TIMEOUT");
    deepEqual(port.writes, ["AT+QIOTSTATE?\r"], "the next command waits for a silent line");
    await clock.run(30);
    port.feed("\r\n+QIOTSTATE: 8\r\n\r\nOK\r\n"); // the late reply
    await clock.run(49);
    deepEqual(port.writes, ["AT+QIOTSTATE?\r"], "silence is measured from the last byte received");
    await clock.run(1);
    deepEqual(port.writes, ["AT+QIOTSTATE?\r", "AT+CSQ\r"]);
    deepEqual(
      errors.map((e) => e[0]),
      ["late-reply", "late-reply"],
    );
    equal(b.done, false, "the late OK did not complete the next command");
    port.feed("\r\n+CSQ: 20,99\r\nOK\r\n");
    await clock.settle();
    deepEqual(b.value, { final: "OK", cmeError: -1, lines: ["+CSQ: 20,99"] } as AtResponse);
  });

  it("with startQuietMs, the first command waits for a silent line and a stray final code does not complete it", async () => {
    const clock = new VirtualClock();
    const port = new FakePort();
    const transport = new AtTransport(port, clock, { baud: 115200, startQuietMs: 400 });
    const errors: string[] = [];
    transport.onLineError((kind) => errors.push(kind));
    const first = track(transport.send("ATE0"));
    await clock.run(300);
    deepEqual(port.writes, [], "nothing sent before 400 ms of silence");
    port.feed("\r\nOK\r\n"); // the previous engine's reply, late
    await clock.run(399);
    deepEqual(port.writes, [], "the stray OK restarted the silence");
    await clock.run(1);
    deepEqual(port.writes, ["ATE0\r"]);
    equal(first.value, undefined, "the stray OK did not complete ATE0");
    port.feed("\r\nOK\r\n");
    await clock.settle();
    equal(first.value?.final, "OK");
    deepEqual(errors, ["late-reply"]);
    const second = track(transport.send("AT"));
    await clock.settle();
    deepEqual(port.writes, ["ATE0\r", "AT\r"], "later commands go at once");
    void second;
  });

  it("reports a final code with no command in flight as a late reply and ignores it", async () => {
    const { clock, port, transport, errors, urcs } = setup();
    port.feed("\r\nOK\r\n");
    await clock.settle();
    deepEqual(errors, [["late-reply", "final code with no command in flight: OK"]]);
    deepEqual(urcs, []);
    ok(transport.quiet);
  });

  it("reads a counted OTA payload into the caller's buffer and returns the reused result object", async () => {
    const { clock, port, transport, urcs } = setup();
    const into = new Uint8Array(16).fill(0xa5);
    const payload = latin1("\r\nOK\r\n\x00+QIOTEVT:");
    const r1 = track(transport.readOta(AT.otaRead(1024, 16), 1024, 16, into));
    deepEqual(port.writes, ["AT+QIOTOTARD=1024,16\r"]);
    port.feed(latin1("AT+QIOTOTARD=1024,16\r\r\n+QIOTOTARD: 1024,16\r\n"));
    port.feed(payload.subarray(0, 5));
    equal(transport.quiet, false, "not quiet while the payload streams in");
    port.feed(payload.subarray(5));
    port.feed("\r\n+QIOTEVT: 7,10702\r\n\r\nOK\r\n");
    await clock.settle();
    deepEqual(r1.value, {
      final: "OK",
      start: 1024,
      length: 16,
      headerMismatch: false,
      framingError: false,
    } as OtaReadResult);
    bytesEqual(into, payload);
    deepEqual(urcs, ["+QIOTEVT: 7,10702"]);
    const first = r1.value;
    const r2 = track(transport.readOta(AT.otaRead(2048, 16), 2048, 16, into));
    port.feed("\r\n+QIOTOTARD: 2048,3\r\nabc\r\nOK\r\n");
    await clock.settle();
    ok(r2.value === first, "one result object for every read");
    deepEqual(r2.value, {
      final: "OK",
      start: 2048,
      length: 3,
      headerMismatch: false,
      framingError: false,
    } as OtaReadResult);
    bytesEqual(into.subarray(0, 4), latin1("abcK"), "only n bytes are written");
  });

  it("flags a payload that lost or doubled a byte by its trailer: the count ate the CR, or no CR/LF follows", async () => {
    const { clock, port, transport, errors } = setup();
    const into = new Uint8Array(8);
    const read = async (start: number, wire: string) => {
      const r = track(transport.readOta(AT.otaRead(start, 8), start, 8, into));
      port.feed(latin1(wire));
      await clock.settle();
      return { framingError: r.value!.framingError, bytes: Array.from(into.subarray(0, r.value!.length)) };
    };
    // Two clean reads teach the module's framing: payload, CR LF, then CR LF OK.
    deepEqual(await read(0, "\r\n+QIOTOTARD: 0,8\r\nABCDEFGH\r\n\r\nOK\r\n"), {
      framingError: false,
      bytes: [65, 66, 67, 68, 69, 70, 71, 72],
    });
    deepEqual(
      (await read(8, "\r\n+QIOTOTARD: 8,8\r\nIJKLMNO\r\r\n\r\nOK\r\n")).framingError,
      false,
      "a payload ending in CR is fine",
    );
    // Byte "R" dropped on the line: the count takes the trailer's CR, and the gap is one byte short.
    const dropped = await read(16, "\r\n+QIOTOTARD: 16,8\r\nQSTUVWX\r\n\r\nOK\r\n");
    deepEqual(dropped.framingError, true);
    // A byte doubled on the line: the last payload byte stands where the trailer should start.
    deepEqual((await read(24, "\r\n+QIOTOTARD: 24,8\r\nYYZabcdef\r\n\r\nOK\r\n")).framingError, true);
    deepEqual(
      (await read(32, "\r\n+QIOTOTARD: 32,8\r\nghijklmn\r\n\r\nOK\r\n")).framingError,
      false,
      "clean again",
    );
    deepEqual(
      errors.map((e) => e[0]),
      ["garbage", "garbage"],
    );
  });

  it("flags a header whose start differs from the request, and one announcing more than was asked", async () => {
    const { clock, port, transport, errors } = setup();
    const into = new Uint8Array(8);
    const a = track(transport.readOta(AT.otaRead(100, 4), 100, 4, into));
    port.feed("\r\n+QIOTOTARD: 99,4\r\nWXYZ\r\nOK\r\n");
    await clock.settle();
    deepEqual(a.value, {
      final: "OK",
      start: 99,
      length: 4,
      headerMismatch: true,
      framingError: false,
    } as OtaReadResult);
    bytesEqual(into.subarray(0, 4), latin1("WXYZ"));
    into.fill(0);
    const b = track(transport.readOta(AT.otaRead(100, 4), 100, 4, into));
    port.feed("\r\n+QIOTOTARD: 100,6\r\nOK\r\nOK\r\nOK\r\n");
    await clock.run(49);
    equal(b.done, false, "the bytes after the four requested are dropped until the line is quiet");
    await clock.run(1);
    deepEqual(b.value, {
      final: "TIMEOUT",
      start: 100,
      length: 6,
      headerMismatch: true,
      framingError: false,
    } as OtaReadResult);
    bytesEqual(into, new Uint8Array(8), "nothing stored when n exceeds the request");
    deepEqual(errors, [
      ["payload-too-large", "+QIOTOTARD: 100,6 for a read of 4 into 8 bytes; discarded"],
      ["discarded", "8 bytes dropped after an abandoned payload"],
    ]);
  });

  it("returns start -1 and length 0 for an OTA read answered ERROR", async () => {
    const { clock, port, transport } = setup();
    const r = track(transport.readOta(AT.otaRead(0, 1024), 0, 1024, new Uint8Array(1024)));
    port.feed("AT+QIOTOTARD=0,1024\r\r\nERROR\r\n");
    await clock.settle();
    deepEqual(r.value, {
      final: "ERROR",
      start: -1,
      length: 0,
      headerMismatch: false,
      framingError: false,
    } as OtaReadResult);
  });

  it("derives the read deadline from the reference's 3 s reply time, the payload size and baud", async () => {
    const { clock, port, transport } = setup({ baud: 115200 });
    const into = new Uint8Array(1024);
    const r = track(transport.readOta(AT.otaRead(0, 1024), 0, 1024, into));
    port.feed("\r\n+QIOTOTARD: 0,1024\r\n" + "x".repeat(500));
    // max(3000, 1000) + ceil((1024 + 64) * 10 * 1000 / 115200 * 2) = 3189 ms
    await clock.run(3188);
    equal(r.done, false);
    await clock.run(1);
    deepEqual(r.value, {
      final: "TIMEOUT",
      start: 0,
      length: 1024,
      headerMismatch: true,
      framingError: false,
    } as OtaReadResult);
    equal(transport.quiet, false, "the rest of the cut payload is discarded until the line is quiet");
    await clock.run(50);
    equal(transport.quiet, true, "no longer held in raw mode or discarding");
  });

  it("takes the read's reply time from readTimeoutMs, or commandTimeoutMs when that is longer", async () => {
    for (const [options, want] of [
      [{ readTimeoutMs: 500 }, 1000 + 189],
      [{ readTimeoutMs: 5000 }, 5000 + 189],
      [{ readTimeoutMs: 500, commandTimeoutMs: 800 }, 800 + 189],
      [{ commandTimeoutMs: 4000 }, 4000 + 189],
    ] as const) {
      const { clock, transport } = setup(options);
      const r = track(transport.readOta(AT.otaRead(0, 1024), 0, 1024, new Uint8Array(1024)));
      await clock.run(want - 1);
      equal(r.done, false, JSON.stringify(options));
      await clock.run(1);
      equal(r.value?.final, "TIMEOUT", JSON.stringify(options));
    }
  });

  it("after a read times out mid-payload, the rest of the payload is dropped until the line is quiet", async () => {
    const { clock, port, transport, errors, urcs, raw } = setup({ baud: 115200 });
    const r = track(transport.readOta(AT.otaRead(0, 64), 0, 64, new Uint8Array(64)));
    const next = track(transport.send("AT+QIOTSTATE?"));
    port.feed("\r\n+QIOTOTARD: 0,64\r\n" + "y".repeat(20));
    await clock.run(3022); // 3000 + ceil(128 * 10 * 1000 / 115200 * 2) = 3023 ms
    equal(r.done, false);
    await clock.run(1);
    equal(r.value?.final, "TIMEOUT");
    await clock.run(30);
    // The rest of the image: a fake event, a fake module reset, a fake header with its "payload", OK.
    const rest =
      "\r\n+QIOTEVT: 7,10706\r\n\r\nRDY\r\n+QIOTOTARD: 0,5\r\n\r\nOK\r\n" + "z".repeat(10) + "\r\n\r\nOK\r\n";
    port.feed(rest);
    equal(transport.quiet, false);
    await clock.run(49);
    deepEqual(port.writes, ["AT+QIOTOTARD=0,64\r"], "silence is measured from the last byte received");
    await clock.run(1);
    deepEqual(port.writes, ["AT+QIOTOTARD=0,64\r", "AT+QIOTSTATE?\r"]);
    deepEqual(urcs, [], "no fake URC, no fake RDY");
    deepEqual(raw, []);
    deepEqual(errors, [["discarded", `${rest.length} bytes dropped after an abandoned payload`]]);
    equal(next.done, false, "the dropped OK did not complete the next command");
    port.feed("\r\n+QIOTSTATE: 8\r\nOK\r\n");
    await clock.settle();
    deepEqual(next.value, { final: "OK", cmeError: -1, lines: ["+QIOTSTATE: 8"] } as AtResponse);
  });

  it("drops what follows a stalled unexpected payload until the line is quiet, then parses lines again", async () => {
    const { clock, port, transport, errors, urcs } = setup();
    port.feed("\r\n+QIOTOTARD: 0,600\r\nabc");
    await clock.run(199);
    deepEqual(
      errors.map((e) => e[0]),
      ["unexpected-payload"],
      "still waiting for the payload",
    );
    await clock.run(1);
    deepEqual(
      errors.map((e) => e[0]),
      ["unexpected-payload", "payload-too-large"],
      "no byte for 200 ms: stalled",
    );
    await clock.run(20);
    port.feed("\r\nRDY\r\n+QIOTEVT: 5,10200,4\r\n");
    await clock.run(49);
    port.feed("\r\n+QIOTEVT: 7,10706\r\n");
    await clock.run(50);
    ok(transport.quiet);
    port.feed("\r\nRDY\r\n");
    deepEqual(urcs, ["RDY"], "only the line after the quiet");
    deepEqual(
      errors.map((e) => e[0]),
      ["unexpected-payload", "payload-too-large", "discarded"],
    );
  });

  it("a corrupted count with a read in flight: takes the requested length, drops the rest, fails the read at once", async () => {
    const { clock, port, transport, errors, urcs } = setup();
    const into = new Uint8Array(64);
    const r = track(transport.readOta(AT.otaRead(0, 64), 0, 64, into));
    const next = track(transport.send("AT+QIOTSTATE?"));
    const payload = "\r\nRDY\r\n" + "p".repeat(56);
    port.feed("\r\n+QIOTOTARD: 0,2000000000\r\n" + payload + "\r\n\r\n+QIOTEVT: 7,10702\r\n\r\nOK\r\n");
    await clock.run(49);
    equal(r.done, false);
    await clock.run(1);
    deepEqual(r.value, {
      final: "TIMEOUT",
      start: 0,
      length: 2000000000,
      headerMismatch: true,
      framingError: false,
    } as OtaReadResult);
    bytesEqual(into, new Uint8Array(64), "nothing stored");
    deepEqual(urcs, []);
    await clock.run(49);
    deepEqual(
      port.writes,
      ["AT+QIOTOTARD=0,2000000000\r".replace("2000000000", "64")],
      "a guard time for a late reply",
    );
    await clock.run(1);
    deepEqual(port.writes, ["AT+QIOTOTARD=0,64\r", "AT+QIOTSTATE?\r"]);
    port.feed("\r\n+QIOTSTATE: 8\r\nOK\r\n");
    await clock.settle();
    equal(next.value?.final, "OK");
    deepEqual(
      errors.map((e) => e[0]),
      ["payload-too-large", "discarded"],
    );
  });

  for (const header of ["+QIOTOTARD: 0,2000000000", "+QIOTEVT: 5,10200,999999999"]) {
    it(`a corrupted count with no read in flight (${header}) holds the queue only until the line is quiet`, async () => {
      const { clock, port, transport, urcs } = setup();
      const a = track(transport.send("AT"));
      const b = track(transport.send("AT+QIOTSTATE?"));
      await clock.run(1000);
      equal(a.value?.final, "TIMEOUT");
      await clock.run(10);
      port.feed(`\r\n${header}\r\nabc\r\nRDY\r\n`);
      await clock.run(249);
      deepEqual(port.writes, ["AT\r"]);
      await clock.run(1); // 200 ms without a byte: stalled; 50 ms more of silence: back to line mode
      deepEqual(port.writes, ["AT\r", "AT+QIOTSTATE?\r"]);
      port.feed("\r\n+QIOTSTATE: 8\r\nOK\r\n");
      await clock.settle();
      deepEqual(b.value, { final: "OK", cmeError: -1, lines: ["+QIOTSTATE: 8"] } as AtResponse);
      ok(!urcs.includes("RDY"));
      ok(transport.quiet);
    });
  }

  it("a corrupted raw URC count cannot swallow the reply of the command in flight", async () => {
    const { clock, port, transport, errors } = setup();
    const r = track(transport.send("AT+QIOTSTATE?"));
    port.feed("\r\n+QIOTEVT: 5,10200,999999999\r\nhello");
    await clock.run(300);
    port.feed("\r\n+QIOTSTATE: 8\r\nOK\r\n");
    await clock.settle();
    deepEqual(r.value, { final: "OK", cmeError: -1, lines: ["+QIOTSTATE: 8"] } as AtResponse);
    deepEqual(
      errors.map((e) => e[0]),
      ["payload-too-large", "payload-too-large"],
    );
  });

  it("a line that never goes quiet holds the next command for at most max(readTimeoutMs, commandTimeoutMs)", async () => {
    const { clock, port, transport } = setup();
    const a = track(transport.send("AT"));
    const b = track(transport.send("AT+QIOTSTATE?"));
    await clock.run(1000);
    equal(a.value?.final, "TIMEOUT");
    for (let t = 1000; t < 3990; t += 10) {
      port.feed(t === 1500 ? "\r\n+QIOTOTARD: 0,99999\r\n" : "~");
      await clock.run(10);
    }
    deepEqual(port.writes, ["AT\r"]);
    await clock.run(10);
    deepEqual(port.writes, ["AT\r", "AT+QIOTSTATE?\r"], "sent 3000 ms after the hold began");
    equal(b.done, false, "its own deadline runs now");
    await clock.run(1000);
    equal(b.value?.final, "TIMEOUT");
  });

  it("encodes every command into one reusable transmit buffer, and a long one on its own", async () => {
    const { clock, port, transport } = setup();
    const into = new Uint8Array(16);
    for (const start of [0, 16, 32]) {
      const r = track(transport.readOta(AT.otaRead(start, 16), start, 16, into));
      port.feed(`\r\n+QIOTOTARD: ${start},0\r\n\r\nOK\r\n`);
      await clock.settle();
      equal(r.value?.final, "OK");
    }
    const long = 'AT+QIOTCFG="productinfo","' + "k".repeat(150) + '"';
    const l = track(transport.send(long));
    port.feed("\r\nOK\r\n");
    await clock.settle();
    equal(l.value?.final, "OK");
    deepEqual(port.writes, [
      "AT+QIOTOTARD=0,16\r",
      "AT+QIOTOTARD=16,16\r",
      "AT+QIOTOTARD=32,16\r",
      long + "\r",
    ]);
    const [w0, w1, w2, w3] = port.writeArrays;
    ok(w0!.buffer === w1!.buffer && w1!.buffer === w2!.buffer, "one buffer for every read");
    ok(w1 === w2, "one view per command length: nothing allocated per read");
    ok(w3!.buffer !== w0!.buffer && w3!.length === long.length + 1);
  });

  it("consumes an OTA payload that arrives with no read in flight", async () => {
    const { clock, port, transport, errors, urcs } = setup();
    port.feed("\r\n+QIOTOTARD: 0,8\r\nRDY\r\nOK\r\n\r\nRDY\r\n");
    await clock.settle();
    deepEqual(urcs, ["RDY"], "payload bytes were not parsed as lines");
    deepEqual(errors[0]?.[0], "unexpected-payload");
    ok(transport.quiet);
  });

  it("returns to line mode when an unexpected payload stalls", async () => {
    const { clock, port, transport, errors, urcs } = setup();
    port.feed("\r\n+QIOTOTARD: 0,60000\r\nabc");
    equal(transport.quiet, false);
    await clock.run(250);
    ok(transport.quiet);
    deepEqual(
      errors.map((e) => e[0]),
      ["unexpected-payload", "payload-too-large"],
    );
    port.feed("\r\nRDY\r\n");
    deepEqual(urcs, ["RDY"]);
  });

  it("delivers a raw-byte URC with its payload while a command is pending", async () => {
    const { clock, port, transport, urcs, raw } = setup();
    const r = track(transport.send("AT+QIOTSTATE?"));
    port.feed("\r\n+QIOTEVT: 5,10210,6\r\n\r\nOK\r\n\r\n+QIOTSTATE: 8\r\nOK\r\n");
    await clock.settle();
    deepEqual(raw, [["+QIOTEVT: 5,10210,6", [13, 10, 79, 75, 13, 10]]]);
    deepEqual(urcs, ["+QIOTEVT: 5,10210,6"]);
    deepEqual(r.value, { final: "OK", cmeError: -1, lines: ["+QIOTSTATE: 8"] } as AtResponse);
  });

  it("reports an over-long line and garbage, keeps the command alive", async () => {
    const { clock, port, transport, errors } = setup({ maxLineLength: 32 });
    const r = track(transport.send("AT+CSQ"));
    port.feed("\r\n" + "A".repeat(5000) + "\r\n\x00\x01\xff\r\n+CSQ: 5,0\r\nOK\r\n");
    await clock.settle();
    deepEqual(
      errors.map((e) => e[0]),
      ["overflow", "garbage"],
    );
    deepEqual(r.value, { final: "OK", cmeError: -1, lines: ["+CSQ: 5,0"] } as AtResponse);
  });

  it("close() resolves pending and queued commands with TIMEOUT and leaves the port open to its owner", async () => {
    const { clock, port, transport } = setup();
    const a = track(transport.send("AT"));
    const b = track(transport.readOta(AT.otaRead(0, 4), 0, 4, new Uint8Array(4)));
    transport.close();
    await clock.settle();
    equal(a.value?.final, "TIMEOUT");
    equal(b.value?.final, "TIMEOUT");
    ok(!port.closed);
    equal(port.onReadable, undefined);
    const c = await transport.send("AT");
    equal(c.final, "TIMEOUT");
  });

  it(`decodes generated sessions identically for any chunking (fast-check, ${SESSION_RUNS} sessions x 2 chunkings)`, async () => {
    let cases = 0;
    await assertProperty(
      fc.asyncProperty(sessionArb, fc.array(fc.nat(4000), { maxLength: 40 }), async (session, rawCuts) => {
        const { stream, boundaries } = serialise(session);
        const want = expected(session);
        const cuts = rawCuts.map((c) => c % (stream.length + 1));
        deepEqual(await play(session, stream, boundaries, cuts), want);
        const single: number[] = [];
        for (let i = 1; i < stream.length; i++) single.push(i);
        deepEqual(await play(session, stream, boundaries, single), want, "one byte at a time");
        cases++;
      }),
      { numRuns: SESSION_RUNS },
    );
    equal(cases, SESSION_RUNS);
  });

  it(`decodes a fixed sample identically when split at every byte boundary`, async () => {
    const samples = fc.sample(sessionArb, { seed: 42, numRuns: IN_XS ? 1 : 4 });
    let splits = 0;
    for (const session of samples) {
      const { stream, boundaries } = serialise(session);
      const want = expected(session);
      for (let k = 0; k <= stream.length; k++) {
        deepEqual(await play(session, stream, boundaries, [k]), want, `split at ${k} of ${stream.length}`);
        splits++;
      }
    }
    ok(splits > samples.length * 20, `splits tried: ${splits}`);
  });
});
