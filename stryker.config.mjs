// StrykerJS mutation testing of the core (`src/`, `hal/*.ts`) against the Node suites of test/src and test/hal/sim.
// `npm run mutate` runs it all; `npm run mutate:folder -- src/image` one folder (or file); `npm run mutate:ci` the fixed CI sample.
import "./test/lib/stryker-mocha12.mjs";

// Mocha 12 keeps its CLI helpers in `.cjs` files that the 9.x mocha runner requires without an extension.
const mocha12 = new URL("./test/lib/stryker-mocha12.mjs", import.meta.url).href;

// MUTATE="src/at,src/image/journal.ts": folders (every .ts below) or single files; empty means the whole core.
const targets = (process.env.MUTATE ?? "")
  .split(",")
  .map((t) => t.trim().replace(/\/+$/, ""))
  .filter(Boolean);
// A glob ("src/boot/*.ts": a folder without its subfolders) is taken as it is.
const mutate = targets.length
  ? targets.map((t) => (t.endsWith(".ts") || t.includes("*") ? t : `${t}/**/*.ts`))
  : ["src/**/*.ts", "hal/*.ts", "!src/app/**/*.ts"];
// MUTATE_NAME names the reports (scripts/mutate-folders.mjs: the folder); else the targets do.
const reportName =
  process.env.MUTATE_NAME ?? (targets.length ? targets.join("+").replace(/[/.*]/g, "-") : "all");
// MUTATE_TESTS="test/src/sota/policy.test.ts,...": only these suites (the CI sample's fast unit suites).
const tests = (process.env.MUTATE_TESTS ?? "").split(",").filter(Boolean);
// MUTATE_BREAK=90: exit non-zero below this mutation score (CI).
const breakAt = process.env.MUTATE_BREAK ? Number(process.env.MUTATE_BREAK) : null;
// MUTATE_INCREMENTAL=1: reuse the last run's results for mutants and tests that did not change (`--force` reruns all).
const incremental = process.env.MUTATE_INCREMENTAL === "1";

// Mutation runs replay one seed so that a mutant is judged by the same inputs every time.
process.env.FC_SEED ??= "20261205";
// The chaos property's 40 scenarios take ~10 s per surviving mutant: 5 keep its paths covered at a quarter of that.
process.env.CHAOS_RUNS ??= "5";

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  // src/app/ is the Moddable app (Moddable-only imports): no Node test can load it.
  mutate,
  testRunner: "mocha",
  mochaOptions: {
    // Only in-process suites: the tools' end-to-end tests run the core in child processes Stryker cannot see.
    spec: tests.length ? tests : ["test/src/**/*.test.ts", "test/hal/sim/**/*.test.ts"],
    require: ["tsx"],
    extension: ["ts"],
    "no-config": true,
  },
  testRunnerNodeArgs: ["--import", mocha12],
  checkerNodeArgs: ["--import", mocha12],
  coverageAnalysis: "perTest",
  thresholds: { high: 90, low: 80, break: breakAt },
  checkers: ["typescript"],
  tsconfigFile: "tsconfig.json",
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  // The machine has 2 cores and other work runs beside it.
  concurrency: 2,
  timeoutMS: 10000,
  reporters: ["clear-text", "progress-append-only", "html", "json"],
  htmlReporter: { fileName: `reports/mutation/${reportName}.html` },
  jsonReporter: { fileName: `reports/mutation/${reportName}.json` },
  clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true },
  incremental,
  incrementalFile: `reports/mutation/${reportName}.incremental.json`,
  ignorePatterns: ["test/xs/.build", "reports", "docs", "examples", "bench", ".stryker-tmp"],
  // One sandbox folder per target: runs of different folders may overlap.
  tempDirName: `.stryker-tmp/${reportName}`,
  cleanTempDir: "always",
};
