// Transport edge cases from mutation testing: response prefixes, report words, exact deadlines and quiet times at a
// low baud rate, late replies of timed-out commands and reads, listeners that leave, close() and poll().

import { AtTransport, responsePrefix } from "../../../src/at/transport.js";
import type {
  AtResponse,
  LineErrorKind,
  OtaReadResult,
  TransportOptions,
} from "../../../src/at/transport.js";
import { VirtualClock } from "../../../hal/sim/virtual-clock.js";
import { deepEqual, equal, throws } from "../../lib/assert.js";
import { FakePort } from "./fake-port.js";

function setup(options: Partial<TransportOptions> = {}) {
  const clock = new VirtualClock();
  const port = new FakePort();
  const transport = new AtTransport(port, clock, { baud: 115200, ...options });
  const urcs: string[] = [];
  const errors: string[] = [];
  transport.onUnsolicited((l) => urcs.push(l));
  transport.onLineError((k: LineErrorKind, d) => errors.push(`${k}: ${d}`));
  return { clock, port, transport, urcs, errors };
}

function track<T>(p: Promise<T>): { value: T | undefined; done: boolean } {
  const box: { value: T | undefined; done: boolean } = { value: undefined, done: false };
  void p.then((v) => {
    box.value = v;
    box.done = true;
  });
  return box;
}

/** Bytes that wait in the port without telling the transport (a CPU busy elsewhere has not read them yet). */
function feedSilently(port: FakePort, text: string): void {
  const signal = port.onReadable;
  port.onReadable = undefined;
  port.feed(text);
  port.onReadable = signal;
}

const OK: AtResponse = { final: "OK", cmeError: -1, lines: [] };
const TIMEOUT: AtResponse = { final: "TIMEOUT", cmeError: -1, lines: [] };

describe("at/transport edges", () => {
  it("derives the response prefix of AT+, AT$ and AT% commands up to the first character outside [0-9A-Z_]", () => {
    const cases: [string, string][] = [
      [" at+qiotstate? ", "+QIOTSTATE:"],
      ["AT+CSQ", "+CSQ:"],
      ["AT$QCFG=1", "+QCFG:"],
      ["AT%XBAND?", "+XBAND:"],
      ["AT+QIOT_X9=1", "+QIOT_X9:"],
      ["AT+A/B", "+A:"],
      ["AT+0:1", "+0:"],
      ["AT+Z@", "+Z:"],
      ["AT+Z[", "+Z:"],
      ["AT+9`", "+9:"],
      ["ATE0", ""],
      ["AT&W", ""],
      ["ATX+CSQ", ""],
      ["+CSQ", ""],
    ];
    deepEqual(
      cases.map(([c]) => responsePrefix(c)),
      cases.map(([, p]) => p),
    );
  });

  it("treats every power and voltage report as a URC, even while a command waits for its lines", async () => {
    const { clock, port, transport, urcs } = setup();
    const words = [
      "RDY",
      "POWERED DOWN",
      "NORMAL POWER DOWN",
      "UNDER-VOLTAGE POWER DOWN",
      "UNDER-VOLTAGE WARNING",
      "OVER-VOLTAGE POWER DOWN",
      "OVER-VOLTAGE WARNING",
    ];
    const r = track(transport.send("AT+QTEST"));
    port.feed(words.map((w) => `\r\n${w}\r\n`).join("") + "\r\nPOWERED\r\n\r\nOK\r\n");
    await clock.settle();
    deepEqual(urcs, words);
    deepEqual(r.value, { final: "OK", cmeError: -1, lines: ["POWERED"] });
  });

  it("matches information lines in any case, one exactly as long as the prefix, and z", async () => {
    const { clock, port, transport, urcs } = setup();
    const a = track(transport.send("AT+QZA?"));
    port.feed("\r\n+qza: 1\r\n+QZA:\r\n+QZ: 2\r\n+QZAB: 3\r\nOK\r\n");
    await clock.settle();
    deepEqual(a.value, { final: "OK", cmeError: -1, lines: ["+qza: 1", "+QZA:"] });
    deepEqual(urcs, ["+QZ: 2", "+QZAB: 3"]);
  });

  it("reads +CME ERROR in any case, and -1 when its number is not 1 to 9 digits alone", async () => {
    const { clock, port, transport } = setup();
    const answers = [
      "+cme error: 7",
      "+CME ERROR: 12a",
      "+CME ERROR: x12",
      "+CME ERROR: 1234567890",
      "+CME ERROR:  42 ",
    ];
    const results: (AtResponse | undefined)[] = [];
    for (const answer of answers) {
      const r = track(transport.send("AT+X"));
      port.feed(`\r\n${answer}\r\n`);
      await clock.settle();
      results.push(r.value);
    }
    deepEqual(
      results.map((r) => [r?.final, r?.cmeError]),
      [
        ["CME ERROR", 7],
        ["CME ERROR", -1],
        ["CME ERROR", -1],
        ["CME ERROR", -1],
        ["CME ERROR", 42],
      ],
    );
  });

  it("times a command out at its own deadline when an earlier command's timer is still armed", async () => {
    const { clock, port, transport } = setup();
    const a = track(transport.send("AT+A", 5000));
    await clock.run(10);
    port.feed("\r\nOK\r\n");
    await clock.run(490);
    const b = track(transport.send("AT+B", 100));
    await clock.run(99);
    equal(b.done, false);
    await clock.run(1);
    deepEqual([a.value, b.value], [OK, TIMEOUT]);
  });

  it("an earlier command's timer firing before the deadline of the one in flight is set again for the rest", async () => {
    const { clock, port, transport } = setup();
    const a = track(transport.send("AT+A"));
    await clock.run(10);
    port.feed("\r\nOK\r\n");
    await clock.run(490);
    const c = track(transport.send("AT+C"));
    await clock.run(999);
    equal(c.done, false, "not timed out by the earlier timer at 1000 ms");
    await clock.run(1);
    deepEqual([a.value, c.value], [OK, TIMEOUT]);
  });

  it("at the deadline, first reads what waits in the port: a reply there completes the command and the next one runs", async () => {
    const { clock, port, transport } = setup();
    const a = track(transport.send("AT+A"));
    const b = track(transport.send("AT+B"));
    await clock.run(500);
    feedSilently(port, "\r\nOK\r\n");
    await clock.run(500);
    deepEqual(a.value, OK);
    deepEqual(port.writes, ["AT+A\r", "AT+B\r"]);
    equal(b.done, false, "the next command has a deadline of its own");
    await clock.run(999);
    equal(b.done, false);
    await clock.run(1);
    deepEqual(b.value, TIMEOUT);
  });

  it("poll() reads what waits in the port; after close() nothing is read", async () => {
    const { clock, port, transport, urcs } = setup();
    feedSilently(port, "\r\n+QIOTEVT: 3,10200\r\n");
    await clock.settle();
    deepEqual(urcs, []);
    transport.poll();
    deepEqual(urcs, ["+QIOTEVT: 3,10200"]);
    transport.close();
    feedSilently(port, "\r\n+QIOTEVT: 7,10702\r\n");
    transport.poll();
    deepEqual(urcs, ["+QIOTEVT: 3,10200"]);
    equal(clock.pendingTimers, 0, "close() leaves no timer behind");
  });

  it("settled: not before the start quiet time has passed, nor while a late reply may come", async () => {
    const fresh = setup();
    equal(fresh.transport.settled, true);
    const quiet = setup({ startQuietMs: 400 });
    equal(quiet.transport.settled, false, "a predecessor may still answer");
    const { clock, port, transport } = setup();
    const a = track(transport.send("AT+A"));
    equal(transport.settled, false);
    await clock.run(1000);
    deepEqual(a.value, TIMEOUT);
    equal(transport.quiet, true);
    equal(transport.settled, false, "the timed-out command may still answer");
    const b = track(transport.send("AT+B"));
    equal(transport.quiet, false, "a command waiting for the guard is not quiet");
    await clock.run(50);
    port.feed("\r\nOK\r\n");
    await clock.settle();
    deepEqual(b.value, OK);
    equal(transport.settled, true);
  });

  it("close() ends the command in flight, the queued ones and later ones with TIMEOUT and cme -1, once", async () => {
    const { clock, transport } = setup();
    const a = track(transport.send("AT+A"));
    const b = track(transport.send("AT+B"));
    transport.close();
    transport.close();
    const c = track(transport.send("AT+C"));
    await clock.settle();
    deepEqual([a.value, b.value, c.value], [TIMEOUT, TIMEOUT, TIMEOUT]);
  });

  it("reports the information line of a timed-out command as a late reply (its echo is the lexer's), other lines as URCs", async () => {
    const { clock, port, transport, urcs, errors } = setup();
    const a = track(transport.send("at+qiotstate?"));
    await clock.run(1000);
    deepEqual(a.value, TIMEOUT);
    port.feed("\r\nAT+QIOTSTATE? \r\n+qiotstate: 8\r\n+QIOTEVT: 3,10200\r\nAT+CSQ\r\nStryker was here!\r\n");
    await clock.settle();
    deepEqual(errors, ["late-reply: information line of a timed-out command: +qiotstate: 8"]);
    deepEqual(urcs, ["+QIOTEVT: 3,10200", "AT+CSQ", "Stryker was here!"]);
  });

  it("after a command completes, neither its echo nor its prefix is a late reply any more", async () => {
    const { clock, port, transport, urcs, errors } = setup();
    const a = track(transport.send("AT+QIOTSTATE?"));
    port.feed("\r\nOK\r\n");
    await clock.settle();
    deepEqual(a.value, OK);
    port.feed("\r\nAT+QIOTSTATE?\r\n+QIOTSTATE: 8\r\nStryker was here!\r\n");
    await clock.settle();
    deepEqual(errors, []);
    deepEqual(urcs, ["AT+QIOTSTATE?", "+QIOTSTATE: 8", "Stryker was here!"]);
  });

  it("RDY (or APP RDY) ends the start quiet time at once: a module that just booted owes no earlier reply", async () => {
    for (const word of ["RDY", "APP RDY"]) {
      const { clock, port, transport, urcs } = setup({ startQuietMs: 300 });
      const a = track(transport.send("ATE0"));
      await clock.run(120);
      deepEqual(port.writes, [], "still quiet before the module's word");
      port.feed(`\r\n${word}\r\n`);
      await clock.settle();
      deepEqual(port.writes, ["ATE0\r"], `sent at ${word}, 180 ms early`);
      equal(clock.now(), 120);
      deepEqual(urcs, [word], "the engine still hears of the reboot");
      port.feed("\r\nOK\r\n");
      await clock.settle();
      deepEqual(a.value, OK);
    }
  });

  it("RDY ends the late-reply guard of a timed-out command; other report words and lines restart it", async () => {
    const { clock, port, transport } = setup();
    const a = track(transport.send("AT+A"));
    await clock.run(1000);
    deepEqual(a.value, TIMEOUT);
    const b = track(transport.send("AT+B"));
    port.feed("\r\nPOWERED DOWN\r\n");
    await clock.run(30);
    deepEqual(port.writes, ["AT+A\r"], "a report word is not a reboot: the guard holds");
    port.feed("\r\nRDY\r\n");
    await clock.settle();
    deepEqual(port.writes, ["AT+A\r", "AT+B\r"]);
    equal(clock.now(), 1030);
    port.feed("\r\nOK\r\n");
    await clock.settle();
    deepEqual(b.value, OK);
  });

  it("RDY while a command is in flight leaves that command to its deadline (the client gives up on it)", async () => {
    const { clock, port, transport, urcs } = setup();
    const a = track(transport.send("AT+A"));
    port.feed("\r\nRDY\r\n");
    await clock.settle();
    equal(a.done, false);
    deepEqual(urcs, ["RDY"]);
    await clock.run(1000);
    deepEqual(a.value, TIMEOUT);
  });

  it("with startQuietMs, lines before the first command are URCs (no timed-out command to blame)", async () => {
    const { clock, port, urcs, errors } = setup({ startQuietMs: 400 });
    port.feed("\r\nStryker was here!\r\n+CSQ: 1,2\r\n");
    await clock.settle();
    deepEqual(urcs, ["Stryker was here!", "+CSQ: 1,2"]);
    deepEqual(errors, []);
  });

  it("reports the echo and the stray +QIOTOTARD line of a timed-out readOtaThen as late replies", async () => {
    const { clock, port, transport, urcs, errors } = setup();
    const results: OtaReadResult[] = [];
    transport.readOtaThen(10, 100, new Uint8Array(100), (r) => results.push({ ...r }));
    deepEqual(port.writes, ["AT+QIOTOTARD=10,100\r"]);
    await clock.run(3100);
    equal(results.length, 1);
    equal(results[0]!.final, "TIMEOUT");
    port.feed("\r\nat+qiototard=10,100\r\n+QIOTOTARD: 0,(1-1024)\r\n");
    await clock.settle();
    deepEqual(errors, ["late-reply: information line of a timed-out command: +QIOTOTARD: 0,(1-1024)"]);
    deepEqual(urcs, []);
  });

  it("keeps a read's own non-header +QIOTOTARD lines away from the URC listeners (both read forms)", async () => {
    const { clock, port, transport, urcs } = setup();
    const results: OtaReadResult[] = [];
    transport.readOtaThen(0, 16, new Uint8Array(16), (r) => results.push({ ...r }));
    port.feed("\r\n+QIOTOTARD: 0,(1-1024)\r\nERROR\r\n");
    await clock.settle();
    const r = track(transport.readOta("AT+QIOTOTARD=0,16", 0, 16, new Uint8Array(16)));
    port.feed("\r\n+QIOTOTARD: 0,(1-1024)\r\nERROR\r\n");
    await clock.settle();
    deepEqual(urcs, []);
    equal(results[0]!.final, "ERROR");
    equal(r.value?.final, "ERROR");
  });

  it("a readOtaThen answered ERROR after a good one returns start -1, length 0 and no flags", async () => {
    const { clock, port, transport } = setup();
    const results: OtaReadResult[] = [];
    const into = new Uint8Array(8);
    transport.readOtaThen(0, 8, into, (r) => results.push({ ...r }));
    port.feed("\r\n+QIOTOTARD: 4,8\r\n12345678\r\nOK\r\n");
    await clock.run(300);
    transport.readOtaThen(0, 8, into, (r) => results.push({ ...r }));
    port.feed("\r\nERROR\r\n");
    await clock.settle();
    deepEqual(results, [
      { final: "OK", start: 4, length: 8, headerMismatch: true, framingError: false },
      { final: "ERROR", start: -1, length: 0, headerMismatch: false, framingError: false },
    ]);
  });

  it("a readOtaThen cut mid-payload times out with the header's numbers and a mismatch", async () => {
    const { clock, port, transport } = setup();
    const results: OtaReadResult[] = [];
    transport.readOtaThen(40, 8, new Uint8Array(8), (r) => results.push({ ...r }));
    port.feed("\r\n+QIOTOTARD: 40,8\r\n1234");
    await clock.run(3100);
    deepEqual(results, [
      { final: "TIMEOUT", start: 40, length: 8, headerMismatch: true, framingError: false },
    ]);
  });

  it("refuses a second readOtaThen while one is in flight, with its reason", () => {
    const { transport } = setup();
    transport.readOtaThen(0, 8, new Uint8Array(8), () => undefined);
    throws(
      () => transport.readOtaThen(8, 8, new Uint8Array(8), () => undefined),
      /^transport: a readOtaThen is still in flight$/,
    );
  });

  it("writes multi-digit starts and lengths (10, 99, 100) digit by digit", async () => {
    const { clock, port, transport } = setup();
    for (const [start, length] of [
      [10, 100],
      [99, 10],
      [100, 1],
    ] as const) {
      transport.readOtaThen(start, length, new Uint8Array(100), () => undefined);
      port.feed("\r\nERROR\r\n");
      await clock.settle();
    }
    deepEqual(port.writes, ["AT+QIOTOTARD=10,100\r", "AT+QIOTOTARD=99,10\r", "AT+QIOTOTARD=100,1\r"]);
  });

  it("gives readOtaThen the read deadline: 3 s plus twice the line time of length + 64 bytes (9600 baud)", async () => {
    const { clock, transport } = setup({ baud: 9600 });
    const results: OtaReadResult[] = [];
    transport.readOtaThen(0, 1024, new Uint8Array(1024), (r) => results.push({ ...r }));
    // (1024 + 64) x 10 bits / 9600 baud x 2 = 2266.7 ms, rounded up.
    await clock.run(5266);
    equal(results.length, 0);
    await clock.run(1);
    equal(results[0]?.final, "TIMEOUT");
  });

  it("flags a header announcing more than the buffer holds, even when the request was larger", async () => {
    const { clock, port, transport, errors } = setup();
    const into = new Uint8Array(4);
    const r = track(transport.readOta("AT+QIOTOTARD=0,8", 0, 8, into));
    port.feed("\r\n+QIOTOTARD: 0,6\r\nabcdef\r\nOK\r\n");
    await clock.settle();
    deepEqual(r.value, { final: "OK", start: 0, length: 6, headerMismatch: true, framingError: false });
    deepEqual(Array.from(into), [0, 0, 0, 0]);
    deepEqual(errors, ["payload-too-large: +QIOTOTARD: 0,6 for a read of 8 into 4 bytes; discarded"]);
  });

  it("names an unexpected payload's numbers and holds a command sent during its discard until the line is quiet", async () => {
    const { clock, port, transport, errors } = setup({ maxRawUrcLength: 4 });
    port.feed("\r\n+QIOTOTARD: 3,9\r\nabcd");
    await clock.settle();
    equal(transport.quiet, false, "discarding");
    const r = track(transport.send("AT+A"));
    deepEqual(port.writes, [], "not sent into a discard");
    await clock.run(49);
    deepEqual(port.writes, []);
    await clock.run(1);
    deepEqual(port.writes, ["AT+A\r"]);
    port.feed("\r\nOK\r\n");
    await clock.settle();
    deepEqual(r.value, OK);
    deepEqual(errors, ["unexpected-payload: +QIOTOTARD: 3,9 with no read in flight; 9 bytes discarded"]);
  });

  it("at 1200 baud waits 20 character times (167 ms) of silence after a timeout", async () => {
    const { clock, port, transport } = setup({ baud: 1200 });
    track(transport.send("AT+A"));
    const b = track(transport.send("AT+B"));
    await clock.run(1000);
    await clock.run(166);
    deepEqual(port.writes, ["AT+A\r"]);
    await clock.run(1);
    deepEqual(port.writes, ["AT+A\r", "AT+B\r"]);
    equal(b.done, false);
  });

  it("at 1200 baud gives up on an unclaimed payload after 50 character times (417 ms) without a byte", async () => {
    const { clock, port, transport, errors } = setup({ baud: 1200, maxRawUrcLength: 16 });
    port.feed("\r\n+QIOTEVT: 5,10200,10\r\nab");
    await clock.run(300);
    port.feed("cd");
    await clock.run(416);
    deepEqual(errors, []);
    await clock.run(1);
    deepEqual(errors, [
      "payload-too-large: payload stalled with 6 of 10 bytes missing; discarding until quiet",
    ]);
    equal(transport.quiet, false, "discarding until quiet");
    await clock.run(167);
    equal(transport.quiet, true);
  });

  it("a line busy in discard mode holds the next command exactly 3000 ms from time 0, then resets it", async () => {
    const { clock, port, transport, errors } = setup({ maxRawUrcLength: 4 });
    port.feed("\r\n+QIOTEVT: 5,10200,9\r\nabcd");
    const r = track(transport.send("AT+A"));
    for (let t = 0; t < 2990; t += 10) {
      port.feed("~");
      await clock.run(10);
    }
    deepEqual(port.writes, []);
    await clock.run(9);
    deepEqual(port.writes, []);
    await clock.run(1);
    deepEqual(port.writes, ["AT+A\r"]);
    port.feed("\r\nOK\r\n");
    await clock.settle();
    deepEqual(r.value, OK);
    deepEqual(errors, [
      "payload-too-large: raw URC payload of 9 bytes discarded (at most 4 taken, the rest until quiet): +QIOTEVT: 5,10200,9",
      "discarded: line busy for 3000 ms: back to line mode to send the next command",
    ]);
  });

  it("a line busy in line mode after a timeout holds the next command 3000 ms, then sends it without a reset", async () => {
    const { clock, port, transport, errors } = setup();
    track(transport.send("AT+A"));
    const b = track(transport.send("AT+B"));
    await clock.run(1000);
    for (let t = 0; t < 2990; t += 10) {
      port.feed("\r");
      await clock.run(10);
    }
    await clock.run(9);
    deepEqual(port.writes, ["AT+A\r"]);
    await clock.run(1);
    deepEqual(port.writes, ["AT+A\r", "AT+B\r"]);
    port.feed("\r\nOK\r\n");
    await clock.settle();
    deepEqual(b.value, OK);
    deepEqual(errors, []);
  });

  it("calls every listener once even when one unsubscribes itself or another while being called", async () => {
    const clock = new VirtualClock();
    const port = new FakePort();
    const transport = new AtTransport(port, clock, { baud: 115200, maxRawUrcLength: 4 });
    const seen: string[] = [];
    const offA = transport.onUnsolicited((l) => {
      seen.push(`a ${l}`);
      offA();
    });
    transport.onUnsolicited((l) => seen.push(`b ${l}`));
    const offRawA = transport.onRawUnsolicited((l) => {
      seen.push(`raw a ${l}`);
      offRawA();
    });
    transport.onRawUnsolicited((l) => seen.push(`raw b ${l}`));
    const offErrA = transport.onLineError((k) => {
      seen.push(`err a ${k}`);
      offErrA();
    });
    transport.onLineError((k) => seen.push(`err b ${k}`));
    port.feed("\r\nX\r\n+QIOTEVT: 5,10200,1\r\nZ\r\nOK\r\nY\r\n");
    await clock.settle();
    offA();
    offRawA();
    offErrA();
    port.feed("\r\nW\r\n");
    await clock.settle();
    deepEqual(seen, [
      "a X",
      "b X",
      "b +QIOTEVT: 5,10200,1",
      "raw a +QIOTEVT: 5,10200,1",
      "raw b +QIOTEVT: 5,10200,1",
      "err a late-reply",
      "err b late-reply",
      "b Y",
      "b W",
    ]);
  });

  it("with nothing queued, a discard that never goes quiet ends at the hold limit", async () => {
    const { clock, port, transport, errors } = setup({ maxRawUrcLength: 4 });
    await clock.run(100);
    port.feed("\r\n+QIOTEVT: 5,10200,9\r\nabcd");
    for (let t = 0; t < 2990; t += 10) {
      await clock.run(10);
      port.feed("~");
    }
    await clock.run(9);
    equal(transport.quiet, false);
    await clock.run(1);
    equal(transport.quiet, true);
    deepEqual(errors.slice(1), ["discarded: 299 bytes dropped after an abandoned payload"]);
  });

  it("with two commands held by a raw payload that never ends, sends only the first when the hold runs out", async () => {
    const { clock, port, transport, errors } = setup();
    track(transport.send("AT+A"));
    const b = track(transport.send("AT+B"));
    const c = track(transport.send("AT+C"));
    await clock.run(1000);
    port.feed("\r\n+QIOTOTARD: 0,99999\r\n");
    for (let t = 1000; t < 4000; t += 10) {
      port.feed("~");
      await clock.run(10);
    }
    deepEqual(port.writes, ["AT+A\r", "AT+B\r"], "one command on the line at a time");
    port.feed("\r\nOK\r\n");
    await clock.settle();
    deepEqual(b.value, OK);
    deepEqual(port.writes, ["AT+A\r", "AT+B\r", "AT+C\r"]);
    equal(c.done, false);
    deepEqual(errors.slice(1), [
      "discarded: line busy for 3000 ms: back to line mode to send the next command",
    ]);
  });

  it("names how long a line was busy counting from when the hold began", async () => {
    const { clock, port, transport, errors } = setup({ maxRawUrcLength: 4 });
    await clock.run(100);
    port.feed("\r\n+QIOTEVT: 5,10200,9\r\nabcd");
    track(transport.send("AT+A"));
    for (let t = 0; t < 3000; t += 10) {
      port.feed("~");
      await clock.run(10);
    }
    deepEqual(port.writes, ["AT+A\r"]);
    equal(errors[1], "discarded: line busy for 3000 ms: back to line mode to send the next command");
  });

  it("after a timeout, a payload that ends lets the held command go once the line is quiet, not at the hold limit", async () => {
    const { clock, port, transport } = setup();
    track(transport.send("AT+A"));
    track(transport.send("AT+B"));
    await clock.run(1010);
    port.feed("\r\n+QIOTEVT: 5,10200,3\r\n");
    await clock.run(90);
    port.feed("abc");
    await clock.run(49);
    deepEqual(port.writes, ["AT+A\r"]);
    await clock.run(1);
    deepEqual(port.writes, ["AT+A\r", "AT+B\r"]);
  });

  it("a stalled unclaimed payload is abandoned even after a read's claimed payload", async () => {
    const { clock, port, transport, errors } = setup();
    const r = track(transport.readOta("AT+QIOTOTARD=0,2", 0, 2, new Uint8Array(2)));
    port.feed("\r\n+QIOTOTARD: 0,2\r\nab\r\n\r\nOK\r\n");
    await clock.settle();
    equal(r.value?.final, "OK");
    port.feed("\r\n+QIOTEVT: 5,10200,10\r\nab");
    await clock.run(199);
    deepEqual(errors, []);
    await clock.run(1);
    deepEqual(errors, [
      "payload-too-large: payload stalled with 8 of 10 bytes missing; discarding until quiet",
    ]);
  });

  it("a payload that the raw check's drain completes is not abandoned", async () => {
    const { clock, port, transport, raw, errors } = setupRaw();
    port.feed("\r\n+QIOTEVT: 5,10200,4\r\nab");
    await clock.run(100);
    feedSilently(port, "cd\r\n");
    await clock.run(1000);
    deepEqual(raw, ["+QIOTEVT: 5,10200,4 abcd"]);
    deepEqual(errors, []);
    equal(transport.quiet, true);
  });

  it("at the deadline, a reply waiting in the port completes the command with nothing queued behind it", async () => {
    const { clock, port, transport } = setup();
    const a = track(transport.send("AT+A"));
    await clock.run(500);
    feedSilently(port, "\r\nOK\r\n");
    await clock.run(500);
    deepEqual(a.value, OK);
    equal(transport.quiet, true);
  });

  it("refuses a readOtaThen made while the previous one's callback is still to come", async () => {
    const { clock, port, transport } = setup();
    const outcomes: string[] = [];
    transport.onUnsolicited(() => {
      try {
        transport.readOtaThen(8, 8, new Uint8Array(8), () => outcomes.push("second done"));
        outcomes.push("second accepted");
      } catch (error) {
        outcomes.push((error as Error).message);
      }
    });
    transport.readOtaThen(0, 8, new Uint8Array(8), (r) => outcomes.push(`first ${r.final}`));
    port.feed("\r\nERROR\r\n+QIOTEVT: 7,10702\r\n");
    await clock.settle();
    deepEqual(outcomes, ["transport: a readOtaThen is still in flight", "first ERROR"]);
  });

  it("a 127-character command still uses the shared transmit buffer, a 128-character one its own", async () => {
    const { clock, port, transport } = setup();
    for (const n of [127, 128]) {
      track(transport.send("AT+" + "X".repeat(n - 3)));
      port.feed("\r\nOK\r\n");
      await clock.settle();
    }
    track(transport.send("AT"));
    const [w127, w128, w2] = port.writeArrays;
    equal(w127!.length, 128);
    equal(w127!.buffer, w2!.buffer);
    equal(w128!.length, 129);
    equal(w128!.buffer === w2!.buffer, false);
  });

  it("close() leaves no timer behind: deadline, raw payload, guard and quiet checks", async () => {
    const first = setup();
    track(first.transport.send("AT+A"));
    first.port.feed("\r\nOK\r\n\r\n+QIOTEVT: 5,10200,9\r\nab");
    await first.clock.settle();
    equal(first.clock.pendingTimers, 2, "the deadline timer stays armed; the raw payload's check");
    first.transport.close();
    equal(first.clock.pendingTimers, 0);
    const second = setup({ maxRawUrcLength: 4 });
    track(second.transport.send("AT+A"));
    track(second.transport.send("AT+B"));
    await second.clock.run(1000);
    second.port.feed("\r\n+QIOTEVT: 5,10200,9\r\nabcdef");
    await second.clock.settle();
    equal(second.clock.pendingTimers, 2, "the guard and the quiet check");
    second.transport.close();
    equal(second.clock.pendingTimers, 0);
  });

  it("learns the module's usual trailer gap, ties going to the longer one, and counts gaps of 7 and more together", async () => {
    const { clock, port, transport, errors } = setup();
    const into = new Uint8Array(4);
    const read = async (payload: string, trailer: string): Promise<boolean> => {
      const r = track(transport.readOta("AT+QIOTOTARD=0,4", 0, 4, into));
      port.feed(`\r\n+QIOTOTARD: 0,4\r\n${payload}${trailer}OK\r\n`);
      await clock.settle();
      return r.value!.framingError;
    };
    const flags: boolean[] = [];
    // Gaps of 9: counted as 7. A later payload ending in LF with a gap of 1 ate the trailer.
    for (let i = 0; i < 3; i++) flags.push(await read("abcd", "\r\n\r\n\r\n\r\n\r"));
    flags.push(await read("abc\n", "\r"));
    deepEqual(flags, [false, false, false, true]);
    deepEqual(errors, [
      "garbage: payload followed by 1 CR/LF bytes, not 7: a payload byte was lost or doubled",
    ]);
  });

  it("a tie between usual gaps goes to the longer; a short gap after a payload not ending in CR or LF is fine", async () => {
    const { clock, port, transport } = setup();
    const into = new Uint8Array(4);
    const read = async (payload: string, gap: number): Promise<boolean> => {
      const r = track(transport.readOta("AT+QIOTOTARD=0,4", 0, 4, into));
      port.feed(`\r\n+QIOTOTARD: 0,4\r\n${payload}${"\r\n".repeat(8).slice(0, gap)}OK\r\n`);
      await clock.settle();
      return r.value!.framingError;
    };
    deepEqual(
      [
        await read("abcd", 2),
        await read("abcd", 4),
        await read("abc\r", 3),
        await read("abcx", 3),
        await read("abc\n", 1),
      ],
      [false, false, true, false, true],
    );
  });

  it("counts each gap once: two gaps of 2 outweigh one of 4", async () => {
    const { clock, port, transport } = setup();
    const into = new Uint8Array(4);
    const read = async (payload: string, gap: number): Promise<boolean> => {
      const r = track(transport.readOta("AT+QIOTOTARD=0,4", 0, 4, into));
      port.feed(`\r\n+QIOTOTARD: 0,4\r\n${payload}${"\r\n".repeat(8).slice(0, gap)}OK\r\n`);
      await clock.settle();
      return r.value!.framingError;
    };
    deepEqual(
      [await read("abcd", 2), await read("abcd", 2), await read("abcd", 4), await read("abc\r", 3)],
      [false, false, false, false],
    );
  });
});

/** A transport whose raw URCs are recorded as "line payload-as-text". */
function setupRaw() {
  const s = setup({ maxRawUrcLength: 16 });
  const raw: string[] = [];
  s.transport.onRawUnsolicited((l, p) => raw.push(`${l} ${String.fromCharCode(...p)}`));
  return { ...s, raw };
}
