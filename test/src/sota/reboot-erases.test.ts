// A module reboot in the middle of a download (the MCU keeps running): the engine resumes with the blocks it had
// erased ahead still known, so only the block it was writing is erased a second time (docs/protocol.md §13, decision 84).

import { deepEqual, ok } from "../../lib/assert.js";
import { Rig } from "./rig.js";

const MINUTE = 60_000;
const PIECE = 16 * 1024;
const INSTANT = 1_000_000_000;

describe("erases after a module reboot", () => {
  for (const [rate, name] of [
    [INSTANT, "instant pieces (64 KiB erased before the confirm)"],
    [20_000, "pieces at 20 KB/s (erased while each piece downloads)"],
  ] as const) {
    it(`${name}: every slot block erased once but the one half written at the reboot`, async () => {
      const size = 72 * 1024 + 300;
      const rig = new Rig({
        imageSize: size,
        baud: 115200,
        fifoSize: 128,
        settings: { downloadBytesPerSecond: rate, freeSpace: PIECE },
        // After read 19 the image holds 19 KiB: sectors 0-3 journaled, sector 4 three quarters written.
        faults: ["reboot:read=19"],
      });
      const slot = rig.layout.slots[1];
      const first = slot.offset / rig.layout.blockLength;
      const sectors = Math.ceil(size / rig.layout.blockLength);
      const before = Array.from({ length: sectors }, (_, i) => rig.flash.stats.erases[first + i] ?? 0);
      rig.bootDevice();
      ok(await rig.runUntil(() => rig.monitorHas("success"), 60 * MINUTE), "10705 after the reboot");
      await rig.clock.run(2000);
      ok(rig.hasState("updated"), "updated");
      const erases = Array.from(
        { length: sectors },
        (_, i) => (rig.flash.stats.erases[first + i] ?? 0) - before[i]!,
      );
      const expected = Array.from({ length: sectors }, (_, i) => (i === 4 ? 2 : 1));
      deepEqual(erases, expected, "erases per slot block");
    });
  }
});
