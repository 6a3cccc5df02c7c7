// Time of one signed-package verify inside XS (@agoric/xsnap's XS 13): a 3.6 KB imgtool package, P-256 and Ed25519,
// noble with its precomputed tables off; wall time per verify, compute units, and live heap after gc().
import path from "node:path";
import { fileURLToPath } from "node:url";
import { openXsBench } from "../tools/xs/bench-worker.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const xs = await openXsBench("package-verify-bench", path.join(here, "package-verify-xs-entry.ts"));
try {
  const run = xs.run;
  const N = 20;
  console.log(
    `XS (@agoric/xsnap), one verify of a 3.6 KB imgtool package (SHA-256 + signature), mean of ${N}:`,
  );
  for (const kind of ["p256", "ed25519"]) {
    const first = performance.now();
    await run(`benchVerify("${kind}", 1)`);
    const firstMs = performance.now() - first;
    const before = (await run("gc()")).heapCount;
    const started = performance.now();
    const step = await run(`benchVerify("${kind}", ${N})`);
    const ms = (performance.now() - started) / N;
    const after = (await run("gc()")).heapCount;
    const hashStarted = performance.now();
    const hashStep = await run(`benchHashOnly("${kind}", ${N})`);
    const hashMs = (performance.now() - hashStarted) / N;
    console.log(
      `  ${kind.padEnd(8)} ${ms.toFixed(1)} ms per verify (first ${firstMs.toFixed(1)} ms), ${Math.round(step.compute / N).toLocaleString("en")} compute units;` +
        ` hashing alone ${hashMs.toFixed(1)} ms (${Math.round(hashStep.compute / N).toLocaleString("en")} units); live heap ${before.toLocaleString("en")} -> ${after.toLocaleString("en")} slots after ${N} verifies`,
    );
  }
} finally {
  await xs.close();
}
