// `npm test`: typecheck, lint, the Node lane (mocha) and the XS lane; the last line is `N passed, N failed`.
// A failing typecheck or lint step, or a lane that ends without reporting counts, adds 1 to the failed count.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => path.join(root, "node_modules", ".bin", name);
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "run-all-"));
const mochaCounts = path.join(scratch, "mocha.json");
const xsSummary = path.join(scratch, "xs.json");

/** Runs a command; `buffered` collects its output to print in one piece (for steps run side by side). */
function run(label, command, args, { buffered = false } = {}) {
  return new Promise((resolve) => {
    const started = performance.now();
    let output = "";
    const child = spawn(command, args, {
      cwd: root,
      stdio: buffered ? ["ignore", "pipe", "pipe"] : "inherit",
    });
    if (buffered) {
      child.stdout.on("data", (chunk) => (output += chunk));
      child.stderr.on("data", (chunk) => (output += chunk));
    }
    const finish = (code, error) => {
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      if (buffered && output.trim()) process.stdout.write(output.endsWith("\n") ? output : `${output}\n`);
      if (error) process.stdout.write(`${error}\n`);
      process.stdout.write(`== ${label}: ${code === 0 ? "ok" : `FAILED (exit ${code})`} in ${seconds} s\n`);
      resolve({ label, ok: code === 0, seconds });
    };
    child.once("error", (error) => finish(-1, `cannot run ${command}: ${error.message}`));
    child.once("close", (code, signal) => finish(code ?? `signal ${signal}`));
  });
}

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch {
    return undefined;
  }
}

const steps = [];
process.stdout.write("== typecheck (device and Node sides) and lint, side by side\n");
steps.push(
  ...(await Promise.all([
    run("typecheck tsconfig.json", bin("tsc"), ["-p", "tsconfig.json", "--noEmit"], { buffered: true }),
    run("typecheck test/tsconfig.json", bin("tsc"), ["-p", "test/tsconfig.json", "--noEmit"], {
      buffered: true,
    }),
    run("lint", bin("eslint"), ["."], { buffered: true }),
  ])),
);

process.stdout.write("== Node lane (mocha)\n");
const nodeLane = await run("Node lane", bin("mocha"), [
  "--reporter",
  path.join(root, "test/run-all.reporter.cjs"),
  "--reporter-option",
  `countsFile=${mochaCounts}`,
]);
process.stdout.write("== XS lane (@agoric/xsnap)\n");
const xsLane = await run("XS lane", bin("tsx"), [
  path.join(root, "test/xs/run-xs.ts"),
  "--summary",
  xsSummary,
]);

const mocha = readJson(mochaCounts);
const xs = readJson(xsSummary);
let passed = 0;
let failed = 0;
const notes = [];
for (const step of steps) {
  if (!step.ok) {
    failed++;
    notes.push(`${step.label} failed (counted as 1 failed)`);
  }
}
for (const [lane, counts, result] of [
  ["Node lane", mocha, nodeLane],
  ["XS lane", xs, xsLane],
]) {
  if (!counts) {
    failed++;
    notes.push(`${lane} reported no counts (counted as 1 failed)`);
    continue;
  }
  passed += counts.passed;
  failed += counts.failed;
  if (!result.ok && counts.failed === 0) {
    failed++;
    notes.push(`${lane} exited with an error but reported no failed test (counted as 1 failed)`);
  }
  notes.push(
    `${lane}: ${counts.passed} passed, ${counts.failed} failed, ${counts.pending} pending (${result.seconds} s)`,
  );
}
fs.rmSync(scratch, { recursive: true, force: true });
process.stdout.write(`${notes.join("\n")}\n`);
process.exitCode = failed > 0 || !steps.concat(nodeLane, xsLane).every((s) => s.ok) ? 1 : 0;
process.stdout.write(`${passed} passed, ${failed} failed\n`);
