// Tests the busy MCU in a running world: busy() stalls the device's timers only; the module's timers and the line go
// on, bytes fill the MCU's receive FIFO unread and overflow it exactly, and the MCU hears of them when it runs again.
import { bytesEqual, deepEqual, equal } from "../../lib/assert.js";
import { VirtualClock } from "../../../hal/sim/virtual-clock.js";
import { createSerialLink, lineTimeMs } from "../../../hal/sim/serial-link.js";

const BAUD = 115200;

function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

describe("busy MCU, running world", () => {
  it("busy() fires world timers at their time inside it; device timers fire late, after it", () => {
    const clock = new VirtualClock();
    const log: string[] = [];
    const at = (name: string) => () => log.push(`${name}@${clock.now()}`);
    clock.setTimer(() => {
      log.push(`erase@${clock.now()}`);
      clock.busy(45);
      log.push(`erased@${clock.now()}`);
    }, 10);
    clock.setTimer(at("device20"), 20);
    clock.world.setTimer(at("world30"), 30);
    clock.world.setTimer(at("world70"), 70);
    clock.advance(100);
    deepEqual(log, ["erase@10", "world30@30", "erased@55", "device20@55", "world70@70"]);
    equal(clock.now(), 100);
  });

  it("a world timer set inside busy() fires inside it when due before its end", () => {
    const clock = new VirtualClock();
    const log: string[] = [];
    clock.world.setTimer(() => {
      log.push(`ask@${clock.now()}`);
      clock.world.setTimer(() => log.push(`answer@${clock.now()}`), 5);
      clock.setTimer(() => log.push(`device@${clock.now()}`), 1);
    }, 2);
    clock.busy(10);
    deepEqual(log, ["ask@2", "answer@7"]);
    equal(clock.now(), 10);
    clock.advance(0);
    deepEqual(log, ["ask@2", "answer@7", "device@10"]);
  });

  it("the module answers during an erase; the MCU's 128-byte FIFO keeps the first 128 bytes, reads them after", () => {
    const clock = new VirtualClock();
    const { a, b } = createSerialLink({ clock, baud: BAUD, fifoSizeA: 128, worldEnd: "b" });
    // The module: every line it gets is answered at once with 300 bytes.
    const answer = ascii("X".repeat(298) + "\r\n");
    const rx = new Uint8Array(64);
    b.onReadable = () => {
      while (b.read(rx) > 0);
      b.write(answer);
    };
    const got: number[] = [];
    const readAt: number[] = [];
    const buffer = new Uint8Array(256);
    a.onReadable = () => {
      readAt.push(clock.now());
      for (let n = a.read(buffer); n > 0; n = a.read(buffer))
        for (let i = 0; i < n; i++) got.push(buffer[i]!);
    };
    clock.setTimer(() => {
      a.write(ascii("AT\r"));
      clock.busy(45); // the erase starts as the command leaves
    }, 1);
    clock.advance(100);
    const commandArrives = 1 + lineTimeMs(3, BAUD);
    // 300 bytes arrived by commandArrives + 26 ms, all inside the erase: 128 kept, 172 lost.
    equal(a.droppedBytes, 172);
    equal(a.receivedBytes, 300);
    equal(readAt[0], 46);
    equal(got.length, 128);
    bytesEqual(Uint8Array.from(got), answer.subarray(0, 128));
    equal(b.receivedBytes, 3);
    equal(commandArrives < 46, true);
  });

  it("at the end of a stall, bytes that arrived after the last chunk timer meet the full FIFO (lost)", () => {
    const clock = new VirtualClock();
    const { a, b } = createSerialLink({ clock, baud: BAUD, fifoSizeA: 128, worldEnd: "b" });
    const data = Uint8Array.from({ length: 2000 }, (_, i) => i & 0xff);
    const got: number[] = [];
    const buffer = new Uint8Array(256);
    a.onReadable = () => {
      for (let n = a.read(buffer); n > 0; n = a.read(buffer))
        for (let i = 0; i < n; i++) got.push(buffer[i]!);
    };
    b.write(data);
    clock.setTimer(() => clock.busy(50), 10);
    clock.advance(lineTimeMs(2000, BAUD) + 1);
    // 112 read before 10 ms; by 60 ms 691 arrived: 112..239 kept, 240..690 lost, the rest read as it came.
    equal(a.droppedBytes, 691 - 240);
    bytesEqual(Uint8Array.from(got), Uint8Array.of(...data.subarray(0, 240), ...data.subarray(691)));
  });
});
