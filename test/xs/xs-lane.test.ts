// Node-only tests of the XS lane itself: it must run mocha's semantics in XS and fail loudly on a failing test.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { LaneEvent } from "./harness.js";
import {
  classify,
  discoverSuites,
  repoRoot,
  runSuiteInXs,
  type Classified,
  type LaneSummary,
} from "./lane.js";

const fixture = (name: string): string => path.join(repoRoot, "test/xs/fixtures", name);
const brief = (events: LaneEvent[]): string[] =>
  events.map(
    (e) => `${e.kind} ${[...e.path, e.title].join(" > ")}${e.kind === "fail" ? `: ${e.message}` : ""}`,
  );

async function portable(name: string): Promise<Extract<Classified, { kind: "portable" }>> {
  const classified = await classify(fixture(name));
  assert.equal(classified.kind, "portable", JSON.stringify(classified));
  return classified as Extract<Classified, { kind: "portable" }>;
}

describe("test/xs lane", function () {
  this.timeout(30_000);

  it("finds every *.test.ts but not the fixtures", () => {
    const suites = discoverSuites().map((file) => path.relative(repoRoot, file));
    assert.ok(suites.includes("test/xs/xs-lane.test.ts"));
    assert.ok(suites.includes("test/hal/sim/digest.test.ts"));
    assert.equal(suites.filter((file) => file.includes("fixtures")).length, 0);
  });

  it("classifies a suite that reaches a Node built-in as Node-only, naming the import", async () => {
    const classified = await classify(fixture("node-only.fixture.ts"));
    assert.deepEqual(classified, {
      kind: "node-only",
      file: fixture("node-only.fixture.ts"),
      reasons: ["test/xs/fixtures/node-only.fixture.ts imports node:os"],
    });
  });

  it("classifies a Node-only suite with top-level await (which iife cannot bundle) as Node-only", async () => {
    const classified = await classify(fixture("node-only-tla.fixture.ts"));
    assert.deepEqual(classified, {
      kind: "node-only",
      file: fixture("node-only-tla.fixture.ts"),
      reasons: ["test/xs/fixtures/node-only-tla.fixture.ts imports node:os"],
    });
  });

  it("classifies this Node-only lane test (it imports node:*) as Node-only", async () => {
    const classified = await classify(path.join(repoRoot, "test/xs/xs-lane.test.ts"));
    assert.equal(classified.kind, "node-only");
  });

  it("runs hooks, async tests, done callbacks and skips in XS exactly as mocha orders them", async () => {
    const result = await runSuiteInXs(await portable("semantics.fixture.ts"));
    assert.deepEqual(brief(result.events), [
      "pass semantics fixture > runs an async test to its end before the next starts",
      "pass semantics fixture > supports the done callback",
      "pending semantics fixture > can skip itself at run time",
      "pass semantics fixture > nested > runs after the outer tests, with both each-hooks",
      "pending semantics fixture > nested > is skipped with it.skip",
      "pending semantics fixture > nested > is pending without a function",
      "pending semantics fixture > skipped describe > is pending too",
      "pass semantics fixture > order check > saw hooks and tests in mocha's order",
    ]);
    assert.deepEqual([result.passed, result.failed, result.pending], [4, 0, 4]);
    assert.ok(result.compute > 0, "the xsnap meter reports compute units");
  });

  it("gives the same pass/pending list as mocha on Node for the semantics fixture", () => {
    const run = spawnSync(
      process.execPath,
      [
        path.join(repoRoot, "node_modules/mocha/bin/mocha.js"),
        "--no-config",
        "--require",
        "tsx",
        "--extension",
        "ts",
        "--reporter",
        "json",
        fixture("semantics.fixture.ts"),
      ],
      { cwd: repoRoot, encoding: "utf8" },
    );
    assert.equal(run.status, 0, run.stderr);
    const report = JSON.parse(run.stdout) as {
      tests: { fullTitle: string; err: object; duration?: number }[];
      pending: { fullTitle: string }[];
    };
    const pending = new Set(report.pending.map((t) => t.fullTitle));
    const mochaOrder = report.tests.map(
      (t) => `${pending.has(t.fullTitle) ? "pending" : "pass"} ${t.fullTitle}`,
    );
    assert.deepEqual(mochaOrder, [
      "pass semantics fixture runs an async test to its end before the next starts",
      "pass semantics fixture supports the done callback",
      "pending semantics fixture can skip itself at run time",
      "pass semantics fixture nested runs after the outer tests, with both each-hooks",
      "pending semantics fixture nested is skipped with it.skip",
      "pending semantics fixture nested is pending without a function",
      "pending semantics fixture skipped describe is pending too",
      "pass semantics fixture order check saw hooks and tests in mocha's order",
    ]);
  });

  it("reports each failure with its full name and message, and moves past a test that never settles", async () => {
    const result = await runSuiteInXs(await portable("failing.fixture.ts"));
    assert.deepEqual(brief(result.events), [
      "pass failing fixture > passes",
      "fail failing fixture > fails after an await: AssertionError: late failure: expected a truthy value, got false",
      "fail failing fixture > never settles: Error: did not settle: it waits on a promise that nothing resolves in XS (no timers here; use a VirtualClock)",
      "pass failing fixture > still runs after the one that never settled",
      "fail failing fixture > fails when device code reaches for setTimeout: Error: setTimeout does not exist on the device (XS): take time from the Clock port",
      "fail failing fixture > nested > fails with a message: AssertionError: arithmetic: expected 3, got 2",
      'fail failing fixture > broken hook > "before each" hook for "is not run (first)": Error: setup exploded',
      'fail failing fixture > broken hook > is not run (second): Error: not run: an "each" hook failed before or after "is not run (first)"',
    ]);
    const nested = result.events.find((e) => e.title === "fails with a message")!;
    assert.match(
      nested.stack ?? "",
      /\(test\/xs\/fixtures\/failing\.fixture\.ts:11\)/,
      "stack frames are mapped back to the TypeScript source",
    );
  });

  it("counts a suite that throws while loading as failed", async () => {
    const result = await runSuiteInXs(await portable("load-error.fixture.ts"));
    assert.deepEqual(brief(result.events), ["fail loading the suite: Error: suite exploded while loading"]);
    assert.deepEqual([result.passed, result.failed], [0, 1]);
  });

  it("kills a test stuck in an endless loop after the step timeout and names it", async () => {
    const result = await runSuiteInXs(await portable("timeout/endless-loop.fixture.ts"), {
      stepTimeoutMs: 400,
    });
    assert.deepEqual(brief(result.events), ["pass endless fixture > finishes first"]);
    assert.deepEqual(result.errors, [
      "endless fixture > loops forever: exceeded 400 ms of wall time in XS (an endless loop?); worker killed",
    ]);
    assert.deepEqual([result.passed, result.failed], [1, 1]);
  });

  it("--self-test exits 1 and prints the failing XS tests with full names and messages", () => {
    const summaryFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "xs-lane-")), "summary.json");
    const run = spawnSync(
      process.execPath,
      ["--import", "tsx", path.join(repoRoot, "test/xs/run-xs.ts"), "--self-test", "--summary", summaryFile],
      {
        cwd: repoRoot,
        encoding: "utf8",
      },
    );
    assert.equal(run.status, 1, run.stdout + run.stderr);
    assert.match(
      run.stdout,
      /✗ failing fixture > nested > fails with a message\n\s+AssertionError: arithmetic: expected 3, got 2\n/,
    );
    assert.match(run.stdout, /FAIL test\/xs\/fixtures\/load-error\.fixture\.ts: 0 passed, 1 failed/);
    assert.match(run.stdout, /skipped, Node-only: test\/xs\/fixtures\/node-only\.fixture\.ts/);
    assert.match(
      run.stdout,
      /XS lane: 6 passed, 7 failed, 4 pending in 3 suite\(s\); compute [\d,]+; [\d.]+ s\n$/,
    );
    const summary = JSON.parse(fs.readFileSync(summaryFile, "utf8")) as LaneSummary;
    assert.deepEqual([summary.passed, summary.failed, summary.pending], [6, 7, 4]);
    assert.deepEqual(
      summary.suites.map((s) => [s.file, s.passed, s.failed, s.pending]),
      [
        ["test/xs/fixtures/failing.fixture.ts", 2, 6, 0],
        ["test/xs/fixtures/load-error.fixture.ts", 0, 1, 0],
        ["test/xs/fixtures/semantics.fixture.ts", 4, 0, 4],
      ],
    );
    assert.deepEqual(
      summary.nodeOnly.map((s) => s.file),
      ["test/xs/fixtures/node-only-tla.fixture.ts", "test/xs/fixtures/node-only.fixture.ts"],
    );
  });
});
