// CLI of the XS lane: `tsx test/xs/run-xs.ts [--self-test] [--verbose] [--summary <file>] [suite.test.ts ...]`.
import fs from "node:fs";
import path from "node:path";
import { discoverSuites, repoRoot, runLane } from "./lane.js";

const usage = `usage: tsx test/xs/run-xs.ts [options] [suite files]
  (no files)        every portable test/**/*.test.ts
  --self-test       run the fixtures in test/xs/fixtures/ instead (some fail on purpose: exit code 1)
  --verbose, -v     list every test, and what XS printed
  --summary <file>  also write the counts as JSON (for test/run-all.mjs)
  --parallel <n>    XS engines at once (default: available cores)
  --step-timeout <ms>  wall-clock limit of one test in XS (default 120000)`;

const args = process.argv.slice(2);
let selfTest = false;
let verbose = false;
let summaryFile: string | undefined;
let parallel: number | undefined;
let stepTimeoutMs: number | undefined;
const files: string[] = [];
for (let i = 0; i < args.length; i++) {
  const arg = args[i]!;
  if (arg === "--self-test") selfTest = true;
  else if (arg === "--verbose" || arg === "-v") verbose = true;
  else if (arg === "--summary") summaryFile = args[++i];
  else if (arg === "--parallel") parallel = Number(args[++i]);
  else if (arg === "--step-timeout") stepTimeoutMs = Number(args[++i]);
  else if (arg === "--help" || arg === "-h") {
    console.log(usage);
    process.exit(0);
  } else if (arg.startsWith("-")) {
    console.error(`unknown option ${arg}\n${usage}`);
    process.exit(2);
  } else files.push(path.resolve(arg));
}

const fixtureDir = path.join(repoRoot, "test/xs/fixtures");
const suites = selfTest
  ? fs
      .readdirSync(fixtureDir)
      .filter((name) => name.endsWith(".fixture.ts"))
      .sort()
      .map((name) => path.join(fixtureDir, name))
  : files.length > 0
    ? files
    : discoverSuites();

const summary = await runLane({
  files: suites,
  verbose,
  ...(parallel ? { parallel } : {}),
  ...(stepTimeoutMs ? { stepTimeoutMs } : {}),
});
if (summaryFile) fs.writeFileSync(summaryFile, JSON.stringify(summary, null, 2));
process.exitCode = summary.failed > 0 ? 1 : 0;
