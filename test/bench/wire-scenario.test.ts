// The wire benchmark's figures that the erase placement promises (docs/protocol.md §13, decision 82), in virtual time:
// instant pieces read within 10 % of the stop-and-wait bound; paced pieces lose nothing but the erases before the confirm.

import { equal, ok } from "../lib/assert.js";
import { INSTANT, runWire } from "../../bench/wire-scenario.js";

const KIB = 1024;

/** Figures for the closing note: on the console in Node, through `print` in XS (which has no console). */
function note(line: string): void {
  const g = globalThis as { console?: { log(s: string): void }; print?: (s: string) => void };
  if (g.console) g.console.log(line);
  else g.print?.(line);
}

describe("bench:wire figures", () => {
  for (const baud of [115200, 921600]) {
    it(`${baud} baud, 160 KiB, instant pieces: reading within 1.10 of the stop-and-wait bound, nothing lost`, async () => {
      const r = await runWire({
        baud,
        readLength: 1024,
        imageSize: 160 * KIB,
        rate: INSTANT,
        client: "engine",
      });
      const ratio = r.readingMs / r.stopAndWaitMs;
      note(
        `      reading ${r.readingMs.toFixed(1)} ms, bound ${r.stopAndWaitMs.toFixed(1)} ms: ${ratio.toFixed(3)}`,
      );
      ok(r.ok, "10705 after every piece");
      ok(ratio <= 1.1, `reading ratio ${ratio.toFixed(3)}`);
      equal(r.droppedBytes, 0, "no byte lost on the 128-byte FIFO");
    });
  }

  // Totals of the engine before decision 82 (commit 2dd0a10), same scenario: device start to 10705, in ms.
  const before: [number, number][] = [
    [115200, 26410.527],
    [921600, 13202.606],
  ];
  for (const [baud, total] of before) {
    it(`${baud} baud, 160 KiB, pieces at 20 KB/s: the total is the earlier one plus the erases before the confirm`, async () => {
      const r = await runWire({
        baud,
        readLength: 1024,
        imageSize: 160 * KIB,
        rate: 20_000,
        client: "engine",
      });
      note(
        `      total ${r.totalMs.toFixed(1)} ms (before: ${total} ms), erased while the module waited ${r.quietEraseMs} ms`,
      );
      ok(r.ok, "10705 after every piece");
      // The journal block and the first piece's 16 sectors, 45 ms each, before the confirm; none before QIOTUPDATE=2.
      ok(
        Math.abs(r.quietEraseMs - 17 * 45) < 1e-6,
        `erase time while the module waited: ${r.quietEraseMs} ms`,
      );
      ok(r.totalMs - r.quietEraseMs <= total + 1, `total ${r.totalMs.toFixed(1)} ms`);
      ok(
        r.readingMs / r.stopAndWaitMs <= 1.02,
        `reading ratio ${(r.readingMs / r.stopAndWaitMs).toFixed(3)}`,
      );
      equal(r.droppedBytes, 0, "no byte lost on the 128-byte FIFO");
    });
  }

  // Decision 83: at power-on the module's RDY ends the start-up quiet time, so what is left is the commands a naive
  // client skips (buffer mode, state and registration queries, AT+CSQ, the offer window, the new image's start-up).
  it("engine-side fixed time (beyond a naive client, outside reading and the erases moved out of it) at most 0.3 s", async () => {
    for (const baud of [9600, 115200, 921600]) {
      const run = (client: "engine" | "naive") =>
        runWire({ baud, readLength: 1024, imageSize: 20 * KIB, rate: INSTANT, client });
      const engine = await run("engine");
      const naive = await run("naive");
      ok(engine.ok && naive.ok, "both reach 10705");
      const fixed =
        engine.totalMs - engine.readingMs - engine.quietEraseMs - (naive.totalMs - naive.readingMs);
      note(`      ${baud} baud: fixed ${fixed.toFixed(1)} ms`);
      ok(fixed > 0 && fixed <= 300, `fixed time at ${baud} baud: ${fixed.toFixed(1)} ms`);
    }
  });

  it("9600 baud, 160 KiB, pieces at 20 KB/s: nothing erased before the confirm, the total unchanged", async () => {
    const r = await runWire({
      baud: 9600,
      readLength: 1024,
      imageSize: 160 * KIB,
      rate: 20_000,
      client: "engine",
    });
    note(`      total ${r.totalMs.toFixed(1)} ms, erased while the module waited ${r.quietEraseMs} ms`);
    // An erase costs under a tenth of reading its sector at 9600 baud: every erase stays hidden behind the download.
    equal(r.quietEraseMs, 0, "erase time while the module waited");
    // 192467.524 ms before decision 82 (commit 2dd0a10).
    ok(r.totalMs <= 192_467.524 + 1, `total ${r.totalMs.toFixed(1)} ms`);
  });
});
