// Runs the property suites again and again, each run on a fresh printed seed, to show they pass on unchanged code.
// `node scripts/property-soak.mjs [--runs 300] [--jobs 1] [--bail] [files...]`; a failing run prints `FC_SEED=<n>` to replay it.
import { spawn } from "node:child_process";
import { randomInt } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(name);
  if (at < 0) return fallback;
  const [, value] = args.splice(at, 2);
  return Number(value);
};
const runs = option("--runs", 300);
const jobs = option("--jobs", 1);
const bail = args.includes("--bail") ? (args.splice(args.indexOf("--bail"), 1), true) : false;

/** Every test file that runs a property (they all go through test/lib/property.ts). */
function propertySuites(dir) {
  const found = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...propertySuites(file));
    else if (entry.name.endsWith(".test.ts") && fs.readFileSync(file, "utf8").includes("assertProperty("))
      found.push(path.relative(root, file));
  }
  return found.sort();
}

const files = args.length > 0 ? args : propertySuites(path.join(root, "test"));
const mocha = path.join(root, "node_modules/mocha/bin/mocha.js");
const mochaArgs = ["--no-config", "--require", "tsx", "--extension", "ts", "--timeout", "120000"];
process.stdout.write(`property soak: ${runs} runs of ${files.length} suites, ${jobs} at a time\n`);

function runOnce(seed) {
  return new Promise((resolve) => {
    let output = "";
    const child = spawn(
      process.execPath,
      [mocha, ...mochaArgs, "--forbid-only", "--reporter", "dot", ...files],
      {
        cwd: root,
        env: { ...process.env, FC_SEED: String(seed) },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    child.once("close", (code) => resolve({ ok: code === 0, output }));
  });
}

const started = Date.now();
const failures = [];
let next = 0;
let done = 0;
async function worker() {
  while (next < runs && !(bail && failures.length > 0)) {
    const index = ++next;
    const seed = randomInt(0x7fffffff);
    const { ok, output } = await runOnce(seed);
    done++;
    if (!ok) {
      failures.push(seed);
      const failing = output
        .split("\n")
        .filter((line) => !/^\s+at /.test(line))
        .slice(-30)
        .join("\n");
      process.stdout.write(`run ${index}: FAILED, replay with FC_SEED=${seed}\n${failing}\n`);
    } else if (done % 10 === 0 || done === runs) {
      const minutes = ((Date.now() - started) / 60000).toFixed(1);
      process.stdout.write(`${done} runs, ${failures.length} failed (${minutes} min)\n`);
    }
  }
}
await Promise.all(Array.from({ length: Math.max(1, jobs) }, worker));
const minutes = ((Date.now() - started) / 60000).toFixed(1);
process.stdout.write(
  `${done} runs in ${minutes} min: ${done - failures.length} passed, ${failures.length} failed` +
    (failures.length ? `; failing seeds: ${failures.join(", ")}\n` : "\n"),
);
process.exitCode = failures.length > 0 ? 1 : 0;
