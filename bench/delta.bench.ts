// Delta figures per firmware pair: full size, our patch size and ratio, detools' patch size, the applier's XS work per
// KiB of output and its memory (fixed buffers, live XS heap), Node throughput, and the download time saved at 115200.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { openXsBench } from "../tools/xs/bench-worker.js";
import { makeDeltaPackage, makeSequentialPatch } from "../tools/delta/create.js";
import { applySequentialPatch } from "../tools/delta/apply.js";
import { SequentialPatchApplier } from "../src/delta/sequential.js";
import { DELTA_HEADER_SIZE } from "../src/delta/package.js";
import { parsePlan } from "../tools/module/plan.js";
import { VirtualModule } from "../tools/module/virtual-module.js";
import { HostDevice } from "../tools/device/session.js";
import { createSimDevice } from "../tools/sim/device.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const fixtures = path.join(here, "../test/fixtures/delta");
/** Effective rate of the demo's full download at 115200 baud (README figures), and the raw line rate. */
const DEMO_BYTES_PER_S = 7995;
const LINE_BYTES_PER_S = 11520;

interface Pair {
  name: string;
  from: Uint8Array;
  to: Uint8Array;
  detools?: Uint8Array;
}

function pairs(): Pair[] {
  const read = (file: string) => new Uint8Array(readFileSync(file));
  const list: Pair[] = ["firmware", "firmware-libc"].map((name) => ({
    name: `${name} (Cortex-M4)`,
    from: read(path.join(fixtures, `${name}-v1.bin`)),
    to: read(path.join(fixtures, `${name}-v2.bin`)),
    detools: read(path.join(fixtures, `${name}.detools.patch`)),
  }));
  // More pairs: DELTA_PAIRS="old.bin:new.bin[:detools.patch],..." (e.g. two builds of the app bundle).
  for (const spec of (process.env["DELTA_PAIRS"] ?? "").split(",").filter(Boolean)) {
    const [from, to, detools] = spec.split(":");
    list.push({
      name: path.basename(to!),
      from: read(from!),
      to: read(to!),
      ...(detools && existsSync(detools) ? { detools: read(detools) } : {}),
    });
  }
  return list;
}

/** Download block size: small, so that even the small patches cross many blocks (zero allocation per block). */
const BLOCK = 128;

const XS_ENTRY = `
const BLOCK = ${BLOCK};
import { SequentialPatchApplier } from "../src/delta/sequential.js";
const g = globalThis;
function decode(text) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const clean = text.replace(/=+$/, "");
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let bits = 0, count = 0, at = 0;
  for (let i = 0; i < clean.length; i++) {
    bits = (bits << 6) | alphabet.indexOf(clean[i]);
    count += 6;
    if (count >= 8) { count -= 8; out[at++] = (bits >> count) & 0xff; }
  }
  return out;
}
g.deltaLoad = (from, patch) => { g.from = decode(from); g.patch = decode(patch); g.chunk = new Uint8Array(BLOCK); };
g.deltaStart = () => {
  g.written = 0;
  g.at = 0;
  g.applier = new SequentialPatchApplier({
    sourceSize: g.from.length,
    readSource: (offset, length, into) => { into.set(g.from.subarray(offset, offset + length)); return true; },
    write: (bytes, length) => { g.written += length; return true; },
  });
};
// Pushes BLOCK-byte download blocks (copied into one reused buffer, as the engine's) up to patch byte 'until'.
g.deltaRun = (until) => {
  const patch = g.patch, chunk = g.chunk, applier = g.applier;
  until = Math.min(until, patch.length);
  while (g.at < until) {
    const n = Math.min(BLOCK, patch.length - g.at);
    for (let i = 0; i < n; i++) chunk[i] = patch[g.at + i];
    const status = applier.push(chunk, 0, n);
    if (status === 3) throw new Error(applier.failure.message);
    g.at += n;
  }
  if (g.at >= patch.length && applier.finish() !== 2) throw new Error("not done");
};
`;

async function xsFigures(
  pair: Pair,
  patch: Uint8Array,
): Promise<{ perKiB: number; msPerMiB: number; slots: number; growth: number }> {
  const xs = await openXsBench("delta-bench", { contents: XS_ENTRY, resolveDir: here });
  try {
    const run = xs.run;
    const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");
    await run(`deltaLoad(${JSON.stringify(b64(pair.from))}, ${JSON.stringify(b64(patch))})`);
    const before = (await run("gc()")).heapCount;
    const start = await run("deltaStart()");
    const half = Math.ceil(patch.length / 2 / BLOCK) * BLOCK;
    const t0 = performance.now();
    const first = await run(`deltaRun(${half})`);
    const t1 = performance.now();
    const middle = (await run("gc()")).heapCount;
    const t2 = performance.now();
    const second = await run(`deltaRun(${patch.length})`);
    const ms = t1 - t0 + (performance.now() - t2);
    const end = (await run("gc()")).heapCount;
    const check = await run(
      `if (globalThis.written !== ${pair.to.length}) throw new Error("wrote " + globalThis.written)`,
    );
    const compute = start.compute + first.compute + second.compute + check.compute;
    return {
      perKiB: compute / (pair.to.length / 1024),
      msPerMiB: ms / (pair.to.length / 1048576),
      slots: middle - before,
      growth: end - middle,
    };
  } finally {
    await xs.close();
  }
}

function nodeMBps(pair: Pair, patch: Uint8Array): number {
  let rounds = 0;
  const started = performance.now();
  let elapsed = 0;
  while (elapsed < 400 || rounds < 3) {
    const result = applySequentialPatch(pair.from, patch, 1024);
    if (!result.ok || result.output.length !== pair.to.length) throw new Error("apply failed");
    rounds++;
    elapsed = performance.now() - started;
  }
  return (rounds * pair.to.length) / 1e6 / (elapsed / 1000);
}

/**
 * One update on the simulated 115200-baud link (ESP32's 128-byte FIFO, NOR flash that costs time) against the
 * virtual module, whose own download is fast, so the UART and the device's flash work set the time: virtual seconds
 * from the 10703 to the 10705 (reading, applying, verifying, activating, trial boot), and from the device's start.
 */
async function simulatedUpdate(
  pair: Pair,
  pkg: Uint8Array,
  differential: boolean,
): Promise<{ ok: boolean; downloadS: number; totalS: number }> {
  const sim = createSimDevice({
    baud: 115200,
    fifoSize: 128,
    slotSize: Math.max(pair.from.length, pair.to.length) + 4096,
    factory: { component: "app", version: "1.0.0", bytes: pair.from },
  });
  const plan = parsePlan({
    product: "pBench",
    components: [
      {
        id: "app",
        type: differential ? "diff" : "full",
        ...(differential ? { sourceVersion: "1.0.0" } : {}),
        targetVersion: "1.1.0",
        package: "pkg.bin",
      },
    ],
    settings: {
      deviceId: "bench",
      productKey: "pBench",
      productSecret: "s",
      downloadBytesPerSecond: 10_000_000,
    },
  });
  const module = new VirtualModule({
    serial: sim.link.b,
    clock: sim.clock,
    digests: sim.digests,
    plan,
    packages: () => pkg,
  });
  module.powerOn();
  await sim.clock.run(module.settings.bootDelayMs + 10);
  const drain = new Uint8Array(64);
  while (sim.link.a.read(drain) > 0);
  let pieceAt = -1;
  const device = new HostDevice({
    serial: sim.link.a,
    clock: sim.clock,
    flash: sim.flash,
    layout: sim.layout,
    digests: sim.digests,
    kv: sim.kv,
    component: "app",
    baud: 115200,
    once: true,
    engine: { acceptDifferential: true },
    onProgress: (p) => {
      if (p.state === "reading" && pieceAt < 0) pieceAt = sim.clock.now();
    },
  });
  const start = sim.clock.now();
  let done = false;
  const run = device.run().finally(() => {
    done = true;
  });
  await sim.clock.runUntil(() => done, 30 * 60_000);
  const result = await run;
  const end = sim.clock.now();
  const running = device.bootReport!.running;
  const built = new Uint8Array(running.size);
  sim.flash.read(built, sim.layout.slots[running.slot]!.offset);
  module.powerOff();
  return {
    ok:
      result.status === "updated" &&
      built.length === pair.to.length &&
      built.every((b, i) => b === pair.to[i]),
    downloadS: (end - pieceAt) / 1000,
    totalS: (end - start) / 1000,
  };
}

const fmt = (n: number) => Math.round(n).toLocaleString("en");
const pct = (part: number, whole: number) => `${((100 * part) / whole).toFixed(1)} %`;
const secs = (bytes: number, rate: number) => `${(bytes / rate).toFixed(1)} s`;

console.log("Delta packages (detools sequential + heatshrink 2^8/2^7 inside our 88-byte header):");
for (const pair of pairs()) {
  const started = performance.now();
  const patch = makeSequentialPatch(pair.from, pair.to);
  const createMs = performance.now() - started;
  const pkg = makeDeltaPackage(pair.from, pair.to, patch);
  const xs = await xsFigures(pair, patch);
  const buffers = new SequentialPatchApplier({ sourceSize: 0, readSource: () => true, write: () => true })
    .bufferBytes;
  console.log(`\n${pair.name}: ${fmt(pair.from.length)} -> ${fmt(pair.to.length)} bytes`);
  console.log(
    `  our patch          : ${fmt(patch.length)} bytes = ${pct(patch.length, pair.to.length)} of the full image (made in ${fmt(createMs)} ms); package ${fmt(pkg.length)} bytes (+${DELTA_HEADER_SIZE} header)`,
  );
  if (pair.detools) {
    console.log(
      `  detools' patch     : ${fmt(pair.detools.length)} bytes = ${pct(pair.detools.length, pair.to.length)} (detools 0.53 create_patch -c heatshrink, measured locally)`,
    );
  }
  console.log(
    `  XS applier         : ${fmt(xs.perKiB)} compute units per KiB of output (${BLOCK}-byte blocks, no digest); xsnap wall time ${fmt(xs.msPerMiB)} ms per MiB`,
  );
  console.log(
    `  memory             : ${fmt(buffers)} bytes of fixed buffers; ${fmt(xs.slots)} live XS heap slots held mid-patch, ${fmt(xs.growth)} more over the second half`,
  );
  console.log(`  Node applier       : ${nodeMBps(pair, patch).toFixed(1)} MB/s of output`);
  const full = await simulatedUpdate(pair, pair.to, false);
  const delta = await simulatedUpdate(pair, pkg, true);
  if (!full.ok || !delta.ok) throw new Error(`${pair.name}: the simulated update did not build the target`);
  console.log(
    `  simulated 115200   : full package ${full.downloadS.toFixed(2)} s, delta ${delta.downloadS.toFixed(2)} s from the first read to the new version confirmed (10705); start to end ${full.totalS.toFixed(2)} s vs ${delta.totalS.toFixed(2)} s`,
  );
  console.log(
    `  download at 115200 : full ${secs(pair.to.length, DEMO_BYTES_PER_S)}, delta ${secs(pkg.length, DEMO_BYTES_PER_S)} at the demo's ${fmt(DEMO_BYTES_PER_S)} B/s (line-rate bound: ${secs(pair.to.length, LINE_BYTES_PER_S)} vs ${secs(pkg.length, LINE_BYTES_PER_S)})`,
  );
}
