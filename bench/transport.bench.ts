// Transport figures: Node parse throughput of 1024-byte OTA reads (lexer, whole transport) and XS compute per KiB.

import { build } from "esbuild";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { BLOCK, runLexer, runTransport } from "./transport-workload.js";
import { XsnapWorker } from "../tools/xs/xsnap-worker.js";

const here = path.dirname(fileURLToPath(import.meta.url));

function mbPerSecond(bytes: number, ms: number): string {
  return ((bytes / 1e6) * (1000 / ms)).toFixed(1);
}

async function nodeFigures(): Promise<void> {
  const reads = 20000;
  runLexer(2000);
  await runTransport(2000);
  let t = performance.now();
  const lexed = runLexer(reads);
  const lexMs = performance.now() - t;
  t = performance.now();
  const moved = await runTransport(reads);
  const transportMs = performance.now() - t;
  console.log(`Node ${process.version}: ${reads} reads of ${BLOCK} B`);
  console.log(
    `  lexer only      : ${mbPerSecond(lexed, lexMs)} MB/s of payload (${((lexMs * 1000) / reads).toFixed(2)} µs per read)`,
  );
  console.log(
    `  whole transport : ${mbPerSecond(moved, transportMs)} MB/s of payload (${((transportMs * 1000) / reads).toFixed(2)} µs per read)`,
  );
}

async function xsFigures(): Promise<void> {
  const bundle = await build({
    entryPoints: [path.join(here, "transport-xs-entry.ts")],
    bundle: true,
    write: false,
    format: "iife",
    platform: "neutral",
    target: "es2022",
  });
  const code = bundle.outputFiles[0]!.text;
  const worker = new XsnapWorker("transport-bench");
  try {
    const load = await worker.evaluate(code);
    if (!load.ok) throw new Error(`bundle failed in XS: ${load.text}`);
    // Two sizes: the difference cancels the fixed cost of building the responses and the lexer.
    const small = 16;
    const large = 144;
    const lex = async (n: number) => {
      const r = await worker.evaluate(`benchLexer(${n})`);
      if (!r.ok) throw new Error(r.text);
      return r.compute;
    };
    const tra = async (n: number) => {
      const r = await worker.evaluate(`benchTransport(${n})`);
      if (!r.ok) throw new Error(r.text);
      const check = await worker.evaluate(
        `if (globalThis.benchTransportResult !== ${n * BLOCK}) throw new Error("transport did not finish: " + globalThis.benchTransportResult)`,
      );
      if (!check.ok) throw new Error(check.text);
      return r.compute;
    };
    const lexPerKiB = ((await lex(large)) - (await lex(small))) / (large - small);
    const traPerKiB = ((await tra(large)) - (await tra(small))) / (large - small);
    console.log(`XS (@agoric/xsnap) compute units per KiB of payload (1024-byte reads):`);
    console.log(`  lexer only      : ${Math.round(lexPerKiB).toLocaleString("en")}`);
    console.log(`  whole transport : ${Math.round(traPerKiB).toLocaleString("en")}`);
  } finally {
    await worker.close();
  }
}

await nodeFigures();
await xsFigures();
