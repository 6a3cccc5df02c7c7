// Engine figures in the XS engine: live heap while a download runs (a steady heap means no per-block
// retention) and XS work per KiB of a whole update (device, virtual module and pure-JS digests together).

import path from "node:path";
import { fileURLToPath } from "node:url";
import { openXsBench } from "../tools/xs/bench-worker.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const SIZE = 128 * 1024;

const xs = await openXsBench("engine-bench", path.join(here, "engine-xs-entry.ts"));
try {
  const run = xs.run;
  await run(`benchStart(${SIZE})`);
  const points: { bytes: number; heap: number; compute: number }[] = [];
  for (const fraction of [0.125, 0.25, 0.5, 0.75, 0.95]) {
    const target = Math.floor(SIZE * fraction);
    const step = await run(`benchRunTo(${target})`);
    const reached = await run(
      `if (globalThis.benchReached < ${target}) throw new Error("stuck at " + globalThis.benchReached)`,
    );
    const settled = await run("gc()");
    points.push({ bytes: target, heap: settled.heapCount, compute: step.compute + reached.compute });
  }
  await run("benchFinish()");
  await run(`if (globalThis.benchReached !== -2) throw new Error("update did not finish")`);

  console.log(`XS (@agoric/xsnap), one ${SIZE / 1024} KiB update at 115200 baud in 1024-byte reads:`);
  console.log("  bytes received   live heap slots after gc()");
  for (const p of points) console.log(`  ${String(p.bytes).padStart(14)}   ${p.heap.toLocaleString("en")}`);
  // The middle of the download: the start and the end of a piece add and drop per-piece state.
  const first = points[1]!;
  const last = points[3]!;
  const growth = (last.heap - first.heap) / ((last.bytes - first.bytes) / 1024);
  console.log(
    `  heap change from 25% to 75%: ${last.heap - first.heap} slots (${growth.toFixed(2)} slots per KiB downloaded)`,
  );
  const work = points[2]!.compute + points[3]!.compute;
  const kib = (last.bytes - first.bytes) / 1024;
  console.log(
    `  XS work per KiB downloaded (device + module + pure-JS MD5/SHA-256 on both sides): ${Math.round(work / kib).toLocaleString("en")} compute units`,
  );
} finally {
  await xs.close();
}
