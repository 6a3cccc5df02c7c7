// End to end over the simulated UART: docs/protocol.md §5 exchange with corrected offsets (a 19,656-byte
// file read in 1024-byte steps from 0, the last read 19456 → 200 bytes), echo on, URCs in between.

import { AtTransport } from "../../../src/at/transport.js";
import { AT, parseOtaReadMax } from "../../../src/quecthing/commands.js";
import { decodeEvent } from "../../../src/quecthing/events.js";
import { VirtualClock } from "../../../hal/sim/virtual-clock.js";
import { createSerialLink } from "../../../hal/sim/serial-link.js";
import type { SimSerialEnd } from "../../../hal/sim/serial-link.js";
import { bytesEqual, deepEqual, equal, ok } from "../../lib/assert.js";

const FILE_SIZE = 19656;
const BAUD = 115200;

function latin1(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

/** The file: every byte value, with the framing texts the parser must never see inside a payload. */
function makeFile(): Uint8Array {
  const file = new Uint8Array(FILE_SIZE);
  for (let i = 0; i < FILE_SIZE; i++) file[i] = (i * 131 + (i >> 8)) & 0xff;
  const traps = ["\r\nOK\r\n", "\r\nERROR\r\n", "+QIOTEVT: 7,10706\r\n", "+QIOTOTARD: 0,1024\r\n"];
  traps.forEach((t, k) => file.set(latin1(t), 1000 + k * 1024));
  file.set(latin1("\r\nOK\r\n"), FILE_SIZE - 6); // the very last bytes of the last read
  return file;
}

/** A scripted module on the far end of the cable: echo on, answers QIOTOTARD from the file. */
function scriptedModule(end: SimSerialEnd, file: Uint8Array, log: string[]): void {
  const rx = new Uint8Array(64);
  let line = "";
  end.onReadable = () => {
    for (let n = end.read(rx); n > 0; n = end.read(rx)) {
      for (let i = 0; i < n; i++) {
        const c = rx[i]!;
        if (c !== 0x0d) {
          line += String.fromCharCode(c);
          continue;
        }
        const command = line;
        line = "";
        log.push(command);
        end.write(latin1(command + "\r"));
        const read = /^AT\+QIOTOTARD=(\d+),(\d+)$/.exec(command);
        if (command === "AT+QIOTOTARD=?") {
          end.write(latin1("\r\n+QIOTOTARD: 0,(1-1024)\r\n\r\nOK\r\n"));
        } else if (read) {
          const start = Number(read[1]);
          const n2 = Math.min(Number(read[2]), FILE_SIZE - start);
          end.write(latin1(`\r\n+QIOTOTARD: ${start},${n2}\r\n`));
          end.write(file.subarray(start, start + n2));
          // A URC now and then between the payload and OK (the tolerated fault mode).
          end.write(
            latin1(start % 4096 === 0 ? "\r\n\r\n+QIOTEVT: 7,10702\r\n\r\nOK\r\n" : "\r\n\r\nOK\r\n"),
          );
        } else if (command === "AT+QIOTUPDATE=3") {
          end.write(latin1("\r\nOK\r\n\r\n+QIOTEVT: 7,10704\r\n"));
        } else {
          end.write(latin1("\r\nERROR\r\n"));
        }
      }
    }
  };
}

describe("at/transport seed replay over the simulated UART", () => {
  it("reads 19,656 bytes in 1024-byte steps from 0 (last read 19456 → 200) with the exact commands", async () => {
    const clock = new VirtualClock();
    // An ESP32-sized 128-byte receive FIFO: flash work while quiet must not lose a byte.
    const link = createSerialLink({ clock, baud: BAUD, fifoSize: 128 });
    const file = makeFile();
    const commands: string[] = [];
    scriptedModule(link.b, file, commands);
    const transport = new AtTransport(link.a, clock, { baud: BAUD });
    const events: string[] = [];
    const errors: string[] = [];
    transport.onUnsolicited((l) => events.push(decodeEvent(l).kind));
    transport.onLineError((k, d) => errors.push(`${k} ${d}`));

    const received = new Uint8Array(FILE_SIZE);
    const block = new Uint8Array(1024);
    const reads: [number, number][] = [];
    let done = false;
    const session = (async () => {
      const test = await transport.send(AT.otaReadTest());
      const max = Math.min(parseOtaReadMax(test.lines) ?? 0, block.length);
      equal(max, 1024);
      let offset = 0;
      while (offset < FILE_SIZE) {
        const r = await transport.readOta(
          AT.otaRead(offset, Math.min(max, FILE_SIZE - offset)),
          offset,
          Math.min(max, FILE_SIZE - offset),
          block,
        );
        equal(r.final, "OK");
        equal(r.headerMismatch, false);
        equal(r.start, offset);
        ok(transport.quiet, "quiet right after the read resolves: flash work may run now");
        received.set(block.subarray(0, r.length), offset);
        clock.busy(45); // a sector erase between reads, as the engine does while the line is quiet
        reads.push([r.start, r.length]);
        offset += r.length; // advance by the module's n, never by the request
      }
      equal((await transport.send(AT.update(3))).final, "OK");
      done = true;
    })();
    ok(await clock.runUntil(() => done, 60_000), "session finished");
    await session;
    await clock.run(50);

    equal(reads.length, 20);
    deepEqual(reads[0], [0, 1024]);
    deepEqual(reads[18], [18432, 1024]);
    deepEqual(reads[19], [19456, 200]);
    bytesEqual(received, file);
    const expectedCommands = ["AT+QIOTOTARD=?"];
    for (let s = 0; s < 19456; s += 1024) expectedCommands.push(`AT+QIOTOTARD=${s},1024`);
    expectedCommands.push("AT+QIOTOTARD=19456,200", "AT+QIOTUPDATE=3");
    deepEqual(commands, expectedCommands);
    deepEqual(events, [
      "downloading",
      "downloading",
      "downloading",
      "downloading",
      "downloading",
      "updating",
    ]);
    deepEqual(errors, []);
    equal(link.a.droppedBytes, 0);
    // 20 reads of ~1.1 KB at 115200 baud plus 20 erases of 45 ms: about 2.9 s of virtual time.
    ok(clock.now() > 2600 && clock.now() < 3500, `virtual time ${clock.now()} ms`);
  });
});
