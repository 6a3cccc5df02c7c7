// The read at the wire bound: per baud rate, read length, image size and module piece rate, the engine's reading time
// against the line and stop-and-wait bounds, beside a naive client's; then the XS allocations and work per read.
// `npm run bench:wire` (all 54 cases); `-- --quick` runs 1024-byte reads of 160 KiB only.

import path from "node:path";
import { fileURLToPath } from "node:url";
import { openXsBench } from "../tools/xs/bench-worker.js";
import { INSTANT, runWire } from "./wire-scenario.js";
import type { WireResult } from "./wire-scenario.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const quick = process.argv.includes("--quick");
const BAUDS = [9600, 115200, 921600];
const READS = quick ? [1024] : [1024, 512];
const SIZES = quick ? [160 * 1024] : [20 * 1024, 160 * 1024, 1024 * 1024];
const RATES: [string, number][] = [
  ["instant", INSTANT],
  ["20 KB/s", 20_000],
  ["2 KB/s", 2_000],
];

const s = (ms: number): string => (ms / 1000).toFixed(2).padStart(8);
const kib = (bytes: number): string => `${bytes / 1024} KiB`.padStart(8);

console.log(
  "Virtual time, simulated device (128-byte receive FIFO, 4 KiB sectors erased in 45 ms) and virtual module (pieces of 64 KiB).",
);
console.log(
  "line: payload bytes at 10 bits; s&w: every read's command and reply bytes; reading: 10703 arrival to the piece's last byte",
);
console.log(
  "written, summed over pieces; total: power-on (MCU and module) to 10705; erase: erases while the module waited for the MCU outside",
);
console.log(
  "reading (before the confirm, before QIOTUPDATE=2); fixed: the engine's time outside reading and those erases beyond",
);
console.log("the naive client's (its own waits and extra commands). Times in seconds.\n");
console.log(
  "    baud  read    image  pieces  |    line     s&w  reading  ratio    total  erase  fixed | naive: reading  ratio    total | lost bytes",
);
let worst = 0;
let worstInstant = 0;
let worstPaced = 0;
let worstFixed = 0;
const failures: string[] = [];
for (const baud of BAUDS)
  for (const readLength of READS)
    for (const imageSize of SIZES)
      for (const [rateName, rate] of RATES) {
        const run = (client: "engine" | "naive"): Promise<WireResult> =>
          runWire({ baud, readLength, imageSize, rate, client });
        const engine = await run("engine");
        const naive = await run("naive");
        const ratio = engine.readingMs / engine.stopAndWaitMs;
        const naiveRatio = naive.readingMs / naive.stopAndWaitMs;
        const label = `${baud} ${readLength} ${imageSize} ${rateName}`;
        const fixed =
          (engine.totalMs - engine.readingMs - engine.quietEraseMs - (naive.totalMs - naive.readingMs)) /
          1000;
        worstFixed = Math.max(worstFixed, fixed);
        if (!engine.ok) failures.push(`engine ${label}`);
        if (!naive.ok) failures.push(`naive ${label}`);
        worst = Math.max(worst, ratio);
        if (rate === INSTANT) worstInstant = Math.max(worstInstant, ratio);
        else worstPaced = Math.max(worstPaced, ratio);
        console.log(
          `${String(baud).padStart(8)} ${String(readLength).padStart(5)} ${kib(imageSize)} ${rateName.padStart(7)} | ` +
            `${s(engine.lineBoundMs)}${s(engine.stopAndWaitMs)} ${s(engine.readingMs)} ${ratio.toFixed(3)} ${s(engine.totalMs)} ${(engine.quietEraseMs / 1000).toFixed(2).padStart(6)} ${fixed.toFixed(2).padStart(6)} | ` +
            `      ${s(naive.readingMs)}  ${naiveRatio.toFixed(3)} ${s(naive.totalMs)} | ${engine.droppedBytes}/${naive.droppedBytes}`,
        );
      }

// The engine's read path alone inside XS, against a scripted module: slots allocated per read in steady state.
const xs = await openXsBench("wire-bench", path.join(here, "wire-xs-entry.ts"));
let slotsPerRead = -1;
try {
  const run = xs.run;
  console.log("\nXS (@agoric/xsnap), the engine's read path (download.ts, client, transport, receiver):");
  for (const pureJs of [false, true])
    for (const readLength of [1024, 512]) {
      const warm = 16;
      const window = 32;
      await run(`wireStart(65536, ${readLength}, ${pureJs})`);
      await run(`wireRun(${warm - 1})`);
      await run(`wireCheck(${warm})`);
      // What the command itself allocates (its script, its call) is measured with no read and taken off.
      const idleBefore = await run("gc()");
      const idle = await run("wireRun(0)");
      const before = await run("gc()");
      const step = await run(`wireRun(${window})`);
      await run(`wireCheck(${warm + window})`);
      const overhead = idle.heapCount - idleBefore.heapCount;
      const slots = (step.heapCount - before.heapCount - overhead) / window;
      const perKiB = step.compute / ((window * readLength) / 1024);
      if (!pureJs && readLength === 1024) slotsPerRead = slots;
      console.log(
        `  ${readLength}-byte reads, ${pureJs ? "pure-JS MD5/SHA-256 (@noble/hashes)" : "digests as on the device (native, stood in by a byte sum)"}: ` +
          `${slots.toFixed(2)} slots allocated per read (${window} reads after ${warm}, no GC between, the command's own ${overhead} off), ` +
          `${Math.round(perKiB).toLocaleString("en")} compute units per KiB`,
      );
    }
} finally {
  await xs.close();
}
if (failures.length > 0) {
  console.log(`\nruns that did not reach 10705: ${failures.join("; ")}`);
  process.exitCode = 1;
}
console.log(
  `\nworst reading ratio with instant pieces: ${worstInstant.toFixed(3)}; with paced pieces: ${worstPaced.toFixed(3)}`,
);
console.log(`XS slots allocated per 1024-byte read (device digests): ${slotsPerRead.toFixed(2)}`);
console.log(`largest engine-side fixed time: ${worstFixed.toFixed(2)} s`);
console.log(`worst reading ratio: ${worst.toFixed(3)}`);
