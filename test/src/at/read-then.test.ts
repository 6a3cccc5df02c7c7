// AtTransport.readOtaThen, the download loop's read without a Promise: the same bytes on the wire as readOta, the
// echo recognised without a command string, the callback only after the port is drained, and one deadline timer
// serving many reads.

import { AtTransport } from "../../../src/at/transport.js";
import type { LineErrorKind, OtaReadResult } from "../../../src/at/transport.js";
import { VirtualClock } from "../../../hal/sim/virtual-clock.js";
import { bytesEqual, deepEqual, equal, ok } from "../../lib/assert.js";
import { FakePort, latin1 } from "./fake-port.js";

function setup() {
  const clock = new VirtualClock();
  const port = new FakePort();
  const transport = new AtTransport(port, clock, { baud: 115200 });
  const urcs: string[] = [];
  const errors: LineErrorKind[] = [];
  transport.onUnsolicited((l) => urcs.push(l));
  transport.onLineError((k) => errors.push(k));
  return { clock, port, transport, urcs, errors };
}

function copy(r: OtaReadResult): OtaReadResult {
  return { ...r };
}

describe("AtTransport.readOtaThen", () => {
  it("sends AT+QIOTOTARD=<start>,<length> CR from the numbers and gets the payload, echo and URC around it", () => {
    const { port, transport, urcs, errors } = setup();
    const into = new Uint8Array(8);
    const results: OtaReadResult[] = [];
    transport.readOtaThen(1234567, 8, into, (r) => results.push(copy(r)));
    deepEqual(port.writes, ["AT+QIOTOTARD=1234567,8\r"]);
    port.feed(
      "AT+QIOTOTARD=1234567,8\r\r\n+QIOTOTARD: 1234567,8\r\nOK\r\n\r\n1\r\n\r\n+QIOTEVT: 7,10702\r\n\r\nOK\r\n",
    );
    equal(results.length, 1);
    deepEqual(results[0], {
      final: "OK",
      start: 1234567,
      length: 8,
      headerMismatch: false,
      framingError: false,
    });
    bytesEqual(into, latin1("OK\r\n\r\n1\r"));
    deepEqual(urcs, ["+QIOTEVT: 7,10702"]);
    deepEqual(errors, []);
  });

  it("calls back after the drain, so the callback may send the next read at once", () => {
    const { port, transport } = setup();
    const into = new Uint8Array(4);
    const seen: number[] = [];
    let reads = 0;
    const next = (r: OtaReadResult): void => {
      seen.push(r.start);
      if (++reads < 3) transport.readOtaThen(r.start + 4, 4, into, next);
    };
    transport.readOtaThen(0, 4, into, next);
    for (let start = 0; start < 12; start += 4) port.feed(`\r\n+QIOTOTARD: ${start},4\r\nabcd\r\n\r\nOK\r\n`);
    deepEqual(seen, [0, 4, 8]);
    deepEqual(port.writes, ["AT+QIOTOTARD=0,4\r", "AT+QIOTOTARD=4,4\r", "AT+QIOTOTARD=8,4\r"]);
  });

  it("a read with no answer times out once at its own deadline, after earlier reads left the timer armed", () => {
    const { clock, port, transport } = setup();
    const into = new Uint8Array(4);
    const results: OtaReadResult[] = [];
    transport.readOtaThen(0, 4, into, (r) => results.push(copy(r)));
    port.feed("\r\n+QIOTOTARD: 0,4\r\nabcd\r\n\r\nOK\r\n");
    clock.advance(2000);
    transport.readOtaThen(4, 4, into, (r) => results.push(copy(r)));
    const sent = clock.now();
    clock.advance(2999);
    equal(results.length, 1, "not yet at 2999 ms");
    clock.advance(100);
    equal(results.length, 2);
    equal(results[1]!.final, "TIMEOUT");
    ok(clock.now() - sent >= 3000);
    equal(clock.pendingTimers, 0, "no timer left once nothing is in flight");
  });

  it("a second readOtaThen while one is in flight is refused", () => {
    const { transport } = setup();
    const into = new Uint8Array(4);
    transport.readOtaThen(0, 4, into, () => undefined);
    let threw = false;
    try {
      transport.readOtaThen(4, 4, into, () => undefined);
    } catch {
      threw = true;
    }
    ok(threw);
  });
});
