// The XS lane: finds the portable suites, bundles each with the harness, runs them in real XS engines, reports.
import { build, type Metafile, type Plugin } from "esbuild";
import { builtinModules } from "node:module";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { LaneEvent, StepReport } from "./harness.js";
import { XsnapWorker } from "../../tools/xs/xsnap-worker.js";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const harnessPath = path.join(repoRoot, "test/xs/harness.ts");
export const buildDir = path.join(repoRoot, "test/xs/.build");

/** Packages that only exist for Node; a suite reaching them cannot run in XS. */
const nodeOnlyPackages =
  /^(mocha|tsx|serialport|@serialport\/.*|esbuild|@agoric\/xsnap|fsevents|eslint|typescript-eslint|typescript)(\/.*)?$/;
const nodeBuiltins = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));

function isNodeOnlySpecifier(specifier: string): boolean {
  return (
    specifier.startsWith("node:") ||
    nodeBuiltins.has(specifier) ||
    nodeBuiltins.has(specifier.split("/")[0]!) ||
    nodeOnlyPackages.test(specifier)
  );
}

/** Every `*.test.ts` under test/ (sorted, so runs and reports are stable). */
export function discoverSuites(root = path.join(repoRoot, "test")): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === "node_modules" || entry.name.startsWith(".")) continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile() && entry.name.endsWith(".test.ts")) found.push(full);
    }
  };
  walk(root);
  return found.sort();
}

export type Classified =
  | { kind: "portable"; file: string; bundle: string; bundlePath: string; map: SourceMapLines }
  | { kind: "node-only"; file: string; reasons: string[] }
  | { kind: "broken"; file: string; error: string };

const rel = (file: string): string => path.relative(repoRoot, file).split(path.sep).join("/");

/** Marks Node-only imports external so the neutral build completes and the metafile names them all. */
const nodeOnlyExternals: Plugin = {
  name: "node-only-externals",
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /.*/ }, (args) =>
      isNodeOnlySpecifier(args.path) ? { path: args.path, external: true } : undefined,
    );
  },
};

function nodeOnlyReasons(metafile: Metafile): string[] {
  const reasons: string[] = [];
  for (const [input, info] of Object.entries(metafile.inputs)) {
    const where = input.replace(/^.*?node_modules\//, "node_modules/");
    if (/^hal\/host\//.test(input)) reasons.push(`reaches ${where}`);
    for (const imported of info.imports) {
      if (imported.external && isNodeOnlySpecifier(imported.path))
        reasons.push(`${where} imports ${imported.path}`);
    }
  }
  return [...new Set(reasons)];
}

/** Bundles a suite for XS (iife, ES2022, neutral platform) or says why it cannot run there. */
export async function classify(file: string): Promise<Classified> {
  const name = rel(file)
    .replace(/[^A-Za-z0-9_.-]+/g, "_")
    .replace(/\.ts$/, ".js");
  const bundlePath = path.join(buildDir, name);
  // The suite is imported dynamically so that an exception while it loads reaches the harness.
  const entry = `import { lane } from ${JSON.stringify(harnessPath)};\nimport(${JSON.stringify(file)}).catch((error) => lane.loadFailed(error));\n`;
  const bundle = (format: "iife" | "esm") =>
    build({
      stdin: {
        contents: entry,
        resolveDir: path.dirname(file),
        sourcefile: "xs-lane-entry.ts",
        loader: "ts",
      },
      absWorkingDir: repoRoot,
      bundle: true,
      write: false,
      format,
      platform: "neutral",
      mainFields: ["module", "main"],
      target: "es2022",
      // XS 13 throws on a class whose static field constructs an instance of itself (@noble/curves does).
      supported: { "class-static-field": false },
      sourcemap: "external",
      sourcesContent: false,
      outfile: bundlePath,
      metafile: true,
      logLevel: "silent",
      plugins: [nodeOnlyExternals],
    });
  let result: Awaited<ReturnType<typeof bundle>>;
  try {
    result = await bundle("iife");
  } catch (error) {
    const text = buildErrorText(error);
    // Node CLIs use top-level await, which iife cannot hold: an ESM build still tells whether Node is reached.
    const esm = await bundle("esm").catch(() => undefined);
    const reasons = esm ? nodeOnlyReasons(esm.metafile) : [];
    if (reasons.length > 0) return { kind: "node-only", file, reasons };
    return { kind: "broken", file, error: text };
  }
  const reasons = nodeOnlyReasons(result.metafile);
  if (reasons.length > 0) return { kind: "node-only", file, reasons };
  const js = result.outputFiles.find((f) => f.path.endsWith(".js"))!;
  const map = result.outputFiles.find((f) => f.path.endsWith(".map"))!;
  fs.mkdirSync(buildDir, { recursive: true });
  fs.writeFileSync(bundlePath, js.contents);
  fs.writeFileSync(`${bundlePath}.map`, map.contents);
  return {
    kind: "portable",
    file,
    bundle: js.text,
    bundlePath,
    map: new SourceMapLines(map.text, path.dirname(bundlePath)),
  };
}

function buildErrorText(error: unknown): string {
  const failure = error as { errors?: { text: string; location?: { file: string; line: number } | null }[] };
  if (!failure.errors) return String(error);
  return failure.errors
    .map((e) => (e.location ? `${e.location.file}:${e.location.line}: ${e.text}` : e.text))
    .join("\n");
}

/** Maps bundle lines back to source lines, from the first mapping segment of each generated line. */
export class SourceMapLines {
  readonly #lines: ({ source: string; line: number } | undefined)[] = [];

  constructor(json: string, mapDir: string) {
    const map = JSON.parse(json) as { sources: string[]; mappings: string };
    const sources = map.sources.map((s) => rel(path.resolve(mapDir, s)));
    let source = 0;
    let line = 0;
    let generated = 0;
    for (const group of map.mappings.split(";")) {
      let first: { source: string; line: number } | undefined;
      for (const segment of group.split(",")) {
        if (!segment) continue;
        const fields = decodeVlq(segment);
        if (fields.length >= 4) {
          source += fields[1]!;
          line += fields[2]!;
          first ??= { source: sources[source]!, line: line + 1 };
        }
      }
      this.#lines[generated++] = first;
    }
  }

  /** Source position of a 1-based bundle line, as "file:line". */
  lookup(bundleLine: number): string | undefined {
    const hit = this.#lines[bundleLine - 1];
    return hit ? `${hit.source}:${hit.line}` : undefined;
  }
}

const vlqDigits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

function decodeVlq(segment: string): number[] {
  const values: number[] = [];
  let value = 0;
  let shift = 0;
  for (const char of segment) {
    const digit = vlqDigits.indexOf(char);
    value += (digit & 31) << shift;
    if (digit & 32) shift += 5;
    else {
      values.push(value & 1 ? -(value >>> 1) : value >>> 1);
      value = 0;
      shift = 0;
    }
  }
  return values;
}

export interface SuiteResult {
  file: string;
  passed: number;
  failed: number;
  pending: number;
  events: LaneEvent[];
  /** Failures that are not a test's own (load errors, crashes, timeouts). */
  errors: string[];
  compute: number;
  maxHeapCount: number;
  wallMs: number;
  output: string;
}

export interface RunOptions {
  /** Wall-clock limit of one step (one test with its hooks) before the worker is killed. */
  stepTimeoutMs?: number;
}

/** Rewrites XS stack frames `(bundle.js:123)` into source positions. */
function mapStack(stack: string, suite: Extract<Classified, { kind: "portable" }>): string {
  const bundleName = rel(suite.bundlePath);
  return stack.replace(/\(([^():]+):(\d+)\)/g, (whole, file: string, line: string) =>
    file === bundleName ? `(${suite.map.lookup(Number(line)) ?? `${file}:${line}`})` : whole,
  );
}

/** Runs one bundled suite in a fresh XS engine, one test per step. */
export async function runSuiteInXs(
  suite: Extract<Classified, { kind: "portable" }>,
  options: RunOptions = {},
): Promise<SuiteResult> {
  const stepTimeoutMs = options.stepTimeoutMs ?? 120_000;
  const started = performance.now();
  const result: SuiteResult = {
    file: suite.file,
    passed: 0,
    failed: 0,
    pending: 0,
    events: [],
    errors: [],
    compute: 0,
    maxHeapCount: 0,
    wallMs: 0,
    output: "",
  };
  let activity = "loading the suite";
  const decoder = new TextDecoder();
  const worker = new XsnapWorker(rel(suite.file), {
    onOutput: (text) => {
      result.output += text;
    },
    // The harness announces each test before it starts, so a killed step can name its test.
    onCommand: (bytes) => {
      activity = decoder.decode(bytes);
      return new Uint8Array(0);
    },
  });
  const timed = async (code: string) => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `${activity}: exceeded ${stepTimeoutMs} ms of wall time in XS (an endless loop?); worker killed`,
            ),
          ),
        stepTimeoutMs,
      );
    });
    try {
      const reply = await Promise.race([worker.evaluate(code), timeout]);
      result.compute += reply.compute;
      result.maxHeapCount = Math.max(result.maxHeapCount, reply.heapCount);
      return reply;
    } finally {
      clearTimeout(timer);
    }
  };
  try {
    const load = await timed(`${suite.bundle}\n//# sourceURL=${rel(suite.bundlePath)}\n`);
    if (!load.ok) throw new Error(`loading the suite: ${load.text}`);
    let command = "globalThis.__xsLane.step()";
    let stuckWithoutProgress = 0;
    for (;;) {
      const reply = await timed(command);
      if (!reply.ok) throw new Error(`XS harness step threw: ${reply.text}`);
      const step = JSON.parse(reply.text) as StepReport;
      for (const event of step.events) {
        if (event.stack) event.stack = mapStack(event.stack, suite);
        result.events.push(event);
        if (event.kind === "pass") result.passed++;
        else if (event.kind === "fail") result.failed++;
        else result.pending++;
      }
      if (step.state === "finished") break;
      if (step.state === "running") {
        stuckWithoutProgress =
          step.events.length === 0 && command.includes("abandon") ? stuckWithoutProgress + 1 : 0;
        if (stuckWithoutProgress > 3) throw new Error(`XS harness stuck at ${step.current ?? "?"}`);
        command = "globalThis.__xsLane.abandon()";
      } else command = "globalThis.__xsLane.step()";
    }
    await worker.close();
  } catch (error) {
    worker.kill();
    await worker.exited;
    result.errors.push(error instanceof Error ? error.message : String(error));
    result.failed++;
  }
  result.wallMs = performance.now() - started;
  return result;
}

/** Runs tasks with at most `limit` in flight, keeping results in input order. */
export async function pool<T, R>(items: T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const runners = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index]!);
    }
  });
  await Promise.all(runners);
  return results;
}

export interface LaneSummary {
  passed: number;
  failed: number;
  pending: number;
  compute: number;
  wallMs: number;
  suites: {
    file: string;
    passed: number;
    failed: number;
    pending: number;
    compute: number;
    wallMs: number;
  }[];
  nodeOnly: { file: string; reasons: string[] }[];
}

export interface LaneOptions extends RunOptions {
  files: string[];
  parallel?: number;
  verbose?: boolean;
  write?: (text: string) => void;
}

const fullName = (event: LaneEvent): string => [...event.path, event.title].join(" > ");
const grouped = (n: number): string => n.toLocaleString("en-US");

/** Classifies, bundles and runs the given suites; prints a readable report and returns the counts. */
export async function runLane(options: LaneOptions): Promise<LaneSummary> {
  const write = options.write ?? ((text: string) => process.stdout.write(text));
  const started = performance.now();
  const classified = await Promise.all(options.files.map((file) => classify(file)));
  const summary: LaneSummary = {
    passed: 0,
    failed: 0,
    pending: 0,
    compute: 0,
    wallMs: 0,
    suites: [],
    nodeOnly: [],
  };

  const portable = classified.filter(
    (c): c is Extract<Classified, { kind: "portable" }> => c.kind === "portable",
  );
  write(
    `XS lane: ${portable.length} portable suite(s) run in XS (@agoric/xsnap), ${classified.length - portable.length} not:\n`,
  );
  for (const c of classified) {
    if (c.kind === "node-only") {
      summary.nodeOnly.push({ file: rel(c.file), reasons: c.reasons });
      write(
        `  skipped, Node-only: ${rel(c.file)} (${c.reasons.slice(0, 2).join("; ")}${c.reasons.length > 2 ? "; …" : ""})\n`,
      );
    } else if (c.kind === "broken") {
      summary.failed++;
      write(`  FAILED to bundle for XS: ${rel(c.file)}\n${indent(c.error, "      ")}\n`);
    }
  }

  const parallel = options.parallel ?? Math.max(1, os.availableParallelism());
  // Longest first (by the previous run's times) so that one slow suite does not run alone at the end.
  const previous = readTimings();
  const ordered = [...portable].sort(
    (a, b) => (previous[rel(b.file)] ?? Infinity) - (previous[rel(a.file)] ?? Infinity),
  );
  await pool(ordered, parallel, async (suite) => {
    const result = await runSuiteInXs(suite, options);
    summary.passed += result.passed;
    summary.failed += result.failed;
    summary.pending += result.pending;
    summary.compute += result.compute;
    summary.suites.push({
      file: rel(result.file),
      passed: result.passed,
      failed: result.failed,
      pending: result.pending,
      compute: result.compute,
      wallMs: result.wallMs,
    });
    write(formatSuite(result, options.verbose === true));
  });
  summary.suites.sort((a, b) => (a.file < b.file ? -1 : 1));
  writeTimings(summary.suites);
  summary.wallMs = performance.now() - started;
  write(
    `XS lane: ${summary.passed} passed, ${summary.failed} failed, ${summary.pending} pending in ${portable.length} suite(s); ` +
      `compute ${grouped(summary.compute)}; ${(summary.wallMs / 1000).toFixed(1)} s\n`,
  );
  return summary;
}

const timingsFile = path.join(buildDir, "timings.json");

function readTimings(): Record<string, number> {
  try {
    return JSON.parse(fs.readFileSync(timingsFile, "utf8")) as Record<string, number>;
  } catch {
    return {};
  }
}

function writeTimings(suites: LaneSummary["suites"]): void {
  const timings = readTimings();
  for (const suite of suites) timings[suite.file] = Math.round(suite.wallMs);
  try {
    fs.mkdirSync(buildDir, { recursive: true });
    fs.writeFileSync(timingsFile, JSON.stringify(timings, null, 1));
  } catch {
    // only an ordering hint
  }
}

function indent(text: string, prefix: string): string {
  return text
    .split("\n")
    .map((line) => prefix + line)
    .join("\n");
}

/** Keeps the stack frames that point into the suite or the code under test, not the lane's plumbing. */
function isUserFrame(line: string): boolean {
  const frame = line.trim();
  if (!frame.startsWith("at ")) return false;
  if (!/\([^()]+:\d+\)$/.test(frame)) return false;
  return !/test\/xs\/harness\.ts|test\/lib\/assert\.ts|xs-lane-entry|\.build\/|\(#\d+:\d+\)/.test(frame);
}

function formatSuite(result: SuiteResult, verbose: boolean): string {
  const mark = result.failed > 0 ? "FAIL" : "ok  ";
  let text =
    `${mark} ${rel(result.file)}: ${result.passed} passed, ${result.failed} failed, ${result.pending} pending; ` +
    `compute ${grouped(result.compute)}, heap ${grouped(result.maxHeapCount)} slots, ${(result.wallMs / 1000).toFixed(2)} s\n`;
  for (const event of result.events) {
    if (event.kind === "fail") {
      text += `     ✗ ${fullName(event)}\n${indent(event.message ?? "", "         ")}\n`;
      const frames = (event.stack ?? "").split("\n").filter(isUserFrame);
      if (frames.length > 0)
        text += `${indent(
          frames
            .slice(0, 5)
            .map((f) => f.trim())
            .join("\n"),
          "           ",
        )}\n`;
    } else if (verbose) text += `     ${event.kind === "pass" ? "✓" : "-"} ${fullName(event)}\n`;
  }
  for (const error of result.errors) text += `     ✗ ${error}\n`;
  if (result.output && (verbose || result.failed > 0))
    text += `${indent(result.output.trimEnd(), "     | ")}\n`;
  return text;
}
