// Stryker per folder of src/: each folder against the suites that cover it, one after the other, then one table
// (mutants, killed, survived, score, score without the equivalents listed in docs/mutation.md, minutes).
// `npm run mutate:folders` runs them all; `-- src/at src/boot` some; `-- --table` prints the table of the last runs.
import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/**
 * Each folder of src/ (src/boot without its backends, which have folders and suites of their own) and the suites that
 * cover it: its own mirror under test/src. Of src/app only the files no Moddable module is imported by.
 */
export const FOLDERS = [
  { folder: "src/at", mutate: "src/at", tests: ["test/src/at/**/*.test.ts"] },
  { folder: "src/quecthing", mutate: "src/quecthing", tests: ["test/src/quecthing/**/*.test.ts"] },
  // The power-cut sweeps (test/src/boot/power-cut.test.ts) are left out: instrumented, they take ~40 s per surviving
  // mutant. npm test runs them, and so does the whole-core npm run mutate.
  {
    folder: "src/boot",
    mutate: "src/boot/*.ts",
    tests: [
      "test/src/boot/generic-boot*.test.ts",
      "test/src/boot/records*.test.ts",
      "test/src/boot/slot-image.test.ts",
    ],
  },
  { folder: "src/boot/esp32", mutate: "src/boot/esp32", tests: ["test/src/boot/esp32/**/*.test.ts"] },
  { folder: "src/boot/mcuboot", mutate: "src/boot/mcuboot", tests: ["test/src/boot/mcuboot/**/*.test.ts"] },
  { folder: "src/flash-format", mutate: "src/flash-format", tests: ["test/src/flash-format/**/*.test.ts"] },
  // The fast-check property (test/src/package/property.test.ts) is left out: it covers nearly every mutant and verifies
  // hundreds of random packages per run (several seconds each instrumented). npm test runs it.
  {
    folder: "src/package",
    mutate: "src/package",
    tests: [
      "test/src/package/verifier.test.ts",
      "test/src/package/trust.test.ts",
      "test/src/package/*-edges.test.ts",
    ],
  },
  // The receivers are driven by the boot controls and the engine too: the generic boot control's suites and the
  // engine's differential updates (the one place DeltaReceiver's stash, checkpoints and refusals run whole).
  {
    folder: "src/image",
    mutate: "src/image",
    tests: [
      "test/src/image/**/*.test.ts",
      "test/src/boot/generic-boot*.test.ts",
      "test/src/sota/delta-update.test.ts",
    ],
  },
  // The firmware-pair suite (test/src/delta/apply.test.ts: properties, every cut point) is left out: instrumented, it
  // runs whole for every surviving mutant (the first run with it took 36 min). npm test runs it.
  {
    folder: "src/delta",
    mutate: "src/delta",
    tests: ["test/src/delta/heatshrink*.test.ts", "test/src/delta/*-edges.test.ts"],
  },
  // The whole-device suites (test/src/components/multi*.test.ts) are left out: instrumented, on a shared machine, the
  // run takes over an hour. npm test runs them, and so does the whole-core npm run mutate.
  {
    folder: "src/components",
    mutate: "src/components",
    tests: [
      "test/src/components/config*.test.ts",
      "test/src/components/area*.test.ts",
      "test/src/components/set*.test.ts",
    ],
  },
  // src/sota in groups (engine.ts has its own). Left out, all run by npm test (and by the whole-core npm run mutate):
  // the large delta updates (~2 min plain), the power-cut sweeps and the chaos property (seconds per surviving mutant
  // instrumented), the soak. Every path they take is also taken by the unit and scenario suites below.
  // download.ts: the suites that read pieces (not the 1 MiB image of engine.test.ts, nor the signed packages').
  {
    folder: "src/sota (download.ts)",
    mutate: "src/sota/download.ts",
    // Listed one by one: MUTATE_TESTS is split at commas, so no {a,b} globs.
    tests: [
      "test/src/sota/download-edges.test.ts",
      "test/src/sota/download-delta.test.ts",
      "test/src/sota/erase-ahead.test.ts",
      "test/src/sota/engine-events.test.ts",
      "test/src/sota/engine-resets.test.ts",
      "test/src/sota/mcu-resets.test.ts",
      "test/src/sota/module-variants.test.ts",
      "test/src/sota/delta-update.test.ts",
      "test/src/sota/engine-edges.test.ts",
    ],
  },
  // The twelve other files.
  {
    folder: "src/sota (rest)",
    mutate: "src/sota/*.ts,!src/sota/engine.ts,!src/sota/download.ts",
    tests: [
      "test/src/sota/delta-update.test.ts",
      "test/src/sota/engine.test.ts",
      "test/src/sota/engine-events.test.ts",
      "test/src/sota/engine-resets.test.ts",
      "test/src/sota/erase-ahead.test.ts",
      "test/src/sota/mcu-resets.test.ts",
      "test/src/sota/module-variants.test.ts",
      "test/src/sota/policy.test.ts",
      "test/src/sota/progress.test.ts",
      "test/src/sota/report.test.ts",
      "test/src/sota/resume.test.ts",
      "test/src/sota/signed-packages.test.ts",
      "test/src/sota/trial-health.test.ts",
      "test/src/sota/version-report.test.ts",
      "test/src/sota/*-edges.test.ts",
      // The engine with several components (set-cycle.ts); not its power-cut sweep.
      "test/src/components/multi.test.ts",
    ],
  },
  // The engine's loop alone: its edge suites (exact logs, times and commands of every turn of the loop) and the
  // whole-device suites that reach its other turns (erase ahead, several components, events, resets).
  {
    folder: "src/sota/engine.ts",
    mutate: "src/sota/engine.ts",
    tests: [
      "test/src/sota/engine-edges.test.ts",
      "test/src/sota/engine-edges2.test.ts",
      "test/src/sota/erase-ahead.test.ts",
      "test/src/components/multi.test.ts",
      "test/src/sota/engine-events.test.ts",
      "test/src/sota/engine-resets.test.ts",
    ],
  },
  // The pure files of src/app (main.ts, app-logic.ts, signed-packages.ts and boards/ import Moddable modules); the
  // app build test (a rollup of the whole app, ~30 s) is left out.
  {
    folder: "src/app",
    mutate: "src/app/app-config.ts,src/app/components-config.ts",
    tests: [
      "test/src/app/app-config.test.ts",
      "test/src/app/app-manifest.test.ts",
      "test/src/app/zephyr-layout.test.ts",
      "test/src/app/*-edges.test.ts",
      "test/src/components/config.test.ts",
    ],
  },
];

const args = process.argv.slice(2);
const tableOnly = args.includes("--table") || args.includes("--before");
// --before: the table of the reports kept in reports/mutation/before/ (a run saved before tests were added).
const before = args.includes("--before");
const fresh = args.includes("--fresh");
const concurrency = valueOf("--concurrency") ?? "1";
const chosen = args.filter((a) => a.startsWith("src/")).map((a) => a.replace(/\/+$/, ""));
const runs = chosen.length ? FOLDERS.filter((f) => chosen.includes(f.folder)) : FOLDERS;
if (chosen.length && runs.length !== chosen.length) {
  console.error(
    `unknown folder among ${chosen.join(", ")}; known: ${FOLDERS.map((f) => f.folder).join(", ")}`,
  );
  process.exit(2);
}

function valueOf(flag) {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
}

function reportName(folder) {
  // A single file: its path without ".ts" (src/sota/engine.ts -> src-sota-engine); "src/sota (rest)" -> src-sota-rest.
  return folder
    .replace(/\.ts$/, "")
    .replace(/[^\w-]+/g, "-")
    .replace(/-+$/, "");
}

function reportPath(folder) {
  return path.join(root, "reports/mutation", before ? "before" : "", `${reportName(folder)}.json`);
}

/**
 * Stryker's incremental mode keeps the verdict of a surviving static mutant (code run at module load) even when new
 * tests were added that would kill it: such verdicts are dropped from the last run, so that they are tested again.
 */
function forgetStaticSurvivors(folder) {
  const file = path.join(root, "reports/mutation", `${reportName(folder)}.incremental.json`);
  if (!existsSync(file)) return;
  const report = JSON.parse(readFileSync(file, "utf8"));
  for (const data of Object.values(report.files))
    data.mutants = data.mutants.filter(
      (m) => !(m.static && (m.status === "Survived" || m.status === "NoCoverage")),
    );
  writeFileSync(file, JSON.stringify(report));
}

function run(entry) {
  forgetStaticSurvivors(entry.folder);
  return new Promise((resolve) => {
    const started = Date.now();
    const stryker = path.join(root, "node_modules/.bin/stryker");
    const child = spawn(stryker, ["run", "--concurrency", concurrency, ...(fresh ? ["--force"] : [])], {
      cwd: root,
      stdio: ["ignore", "inherit", "inherit"],
      env: {
        ...process.env,
        MUTATE: entry.mutate,
        MUTATE_NAME: reportName(entry.folder),
        MUTATE_TESTS: entry.tests.join(","),
        MUTATE_INCREMENTAL: "1",
      },
    });
    child.once("close", (code) => resolve({ code, minutes: (Date.now() - started) / 60000 }));
  });
}

/** `- src/x.ts:12:5 Mutator ...: why` lines of docs/mutation.md: equivalent mutants by place and mutator. */
function equivalents() {
  const doc = path.join(root, "docs/mutation.md");
  const out = new Set();
  if (!existsSync(doc)) return out;
  for (const line of readFileSync(doc, "utf8").split("\n")) {
    const m = /^- `(src\/[^`:]+):(\d+):(\d+)` (\w+)/.exec(line);
    if (m) out.add(`${m[1]}:${m[2]}:${m[3]} ${m[4]}`);
  }
  return out;
}

/** Counts per directory (src/boot and src/boot/esp32 apart) from Stryker's JSON report. */
function tally(folder, minutes) {
  const file = reportPath(folder);
  if (!existsSync(file)) return [];
  const report = JSON.parse(readFileSync(file, "utf8"));
  const equivalent = equivalents();
  const rows = new Map();
  const listed = new Set();
  const files = new Set();
  for (const [name, data] of Object.entries(report.files)) {
    const rel = path.relative(root, path.resolve(root, name)).split(path.sep).join("/");
    files.add(rel);
    // A single file's run is its own row, and so is a named group ("src/sota (rest)").
    const dir = folder.endsWith(".ts") ? rel : folder.includes(" (") ? folder : path.posix.dirname(rel);
    const row = rows.get(dir) ?? { dir, mutants: 0, killed: 0, survived: 0, noCoverage: 0, equivalent: 0 };
    rows.set(dir, row);
    for (const m of data.mutants) {
      if (m.status === "CompileError" || m.status === "RuntimeError" || m.status === "Ignored") continue;
      row.mutants++;
      if (m.status === "Killed" || m.status === "Timeout") row.killed++;
      else {
        const key = `${rel}:${m.location.start.line}:${m.location.start.column} ${m.mutatorName}`;
        if (equivalent.has(key)) {
          row.equivalent++;
          listed.add(key);
        }
        if (m.status === "NoCoverage") row.noCoverage++;
        else row.survived++;
      }
    }
  }
  for (const key of equivalent)
    // Only the files of this run (src/sota is run in groups).
    if (!before && files.has(key.split(":")[0]) && !listed.has(key))
      console.warn(`docs/mutation.md lists ${key}, which is no surviving mutant of the last ${folder} run`);
  const out = [...rows.values()].sort((a, b) => a.dir.localeCompare(b.dir));
  if (out.length && minutes !== undefined) out[0].minutes = minutes;
  return out;
}

function pct(n, d) {
  return d === 0 ? "-" : `${((100 * n) / d).toFixed(1)} %`;
}

function table(rows) {
  const head = [
    "folder",
    "mutants",
    "killed",
    "survived",
    "no cover",
    "score",
    "equivalent",
    "score w/o eq.",
    "min",
  ];
  const lines = rows.map((r) => [
    r.dir,
    String(r.mutants),
    String(r.killed),
    String(r.survived),
    String(r.noCoverage),
    pct(r.killed, r.mutants),
    String(r.equivalent),
    pct(r.killed, r.mutants - r.equivalent),
    r.minutes === undefined ? "" : r.minutes.toFixed(1),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  console.log([fmt(head), fmt(widths.map((w) => "-".repeat(w))), ...lines.map(fmt)].join("\n"));
}

const rows = [];
let failed = false;
for (const entry of runs) {
  let minutes;
  if (!tableOnly) {
    console.log(`\n== ${entry.folder} against ${entry.tests.join(", ")}`);
    const result = await run(entry);
    minutes = result.minutes;
    if (result.code !== 0) {
      console.error(`stryker exited ${result.code} on ${entry.folder}`);
      failed = true;
    }
  }
  rows.push(...tally(entry.folder, minutes));
}
console.log("");
table(rows);
process.exitCode = failed ? 1 : 0;
