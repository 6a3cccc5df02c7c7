// Mocha-compatible describe/it/hooks for suites bundled into the XS engine; the Node driver steps it one test per crank.
//
// XS has no timers or console, and xsnap drains all promise jobs and setImmediate callbacks before it
// answers a command. So the Node side sends `__xsLane.step()` once per test: the runner runs to the next
// test boundary and parks on a gate; the reply's `result` getter (read by xsnap after the drain) reports
// what happened. A test still running after the drain waits on something that can never settle there.

type Done = (error?: unknown) => void;
type TestFn = (this: Context, done: Done) => unknown;
type SuiteFn = (this: Context) => void;

interface Context {
  timeout(ms?: number): Context | number;
  slow(ms?: number): Context | number;
  retries(n?: number): Context | number;
  skip(): never;
}

interface Test {
  title: string;
  fn: TestFn | undefined;
  parent: Suite;
  only: boolean;
  pending: boolean;
}

interface Hook {
  fn: TestFn;
  title: string | undefined;
}

interface Suite {
  title: string;
  parent: Suite | undefined;
  suites: Suite[];
  tests: Test[];
  beforeAll: Hook[];
  afterAll: Hook[];
  beforeEach: Hook[];
  afterEach: Hook[];
  pending: boolean;
  only: boolean;
}

/** One result, sent to the Node side as JSON. `path` is the describe titles from the outside in. */
export interface LaneEvent {
  kind: "pass" | "fail" | "pending";
  path: string[];
  title: string;
  message?: string;
  stack?: string;
}

export interface StepReport {
  events: LaneEvent[];
  /** waiting: parked between tests; running: a test or hook did not settle; finished: all done. */
  state: "waiting" | "running" | "finished";
  current: string | undefined;
}

class Pending {
  readonly pending = true;
}

class NeverSettled extends Error {}

function newSuite(title: string, parent: Suite | undefined): Suite {
  return {
    title,
    parent,
    suites: [],
    tests: [],
    beforeAll: [],
    afterAll: [],
    beforeEach: [],
    afterEach: [],
    pending: false,
    only: false,
  };
}

const root = newSuite("", undefined);
let current = root;
let hasOnly = false;
let events: LaneEvent[] = [];
let state: StepReport["state"] = "waiting";
let activity: string | undefined;
let started = false;
let openGate: (() => void) | undefined;
let abandonCurrent: ((error: Error) => void) | undefined;

function pathOf(suite: Suite): string[] {
  const titles: string[] = [];
  for (let s: Suite | undefined = suite; s && s.parent; s = s.parent) titles.unshift(s.title);
  return titles;
}

function describeError(error: unknown): { message: string; stack?: string } {
  if (error instanceof Error) {
    const stack = typeof error.stack === "string" ? error.stack : undefined;
    const message = `${error.name}: ${error.message}`;
    return stack === undefined ? { message } : { message, stack };
  }
  return { message: `non-Error thrown: ${String(error)}` };
}

function makeContext(): Context {
  const context: Context = {
    // No wall-clock timeouts inside XS: the Node driver limits each step instead.
    timeout: (ms?: number) => (ms === undefined ? 0 : context),
    slow: (ms?: number) => (ms === undefined ? 0 : context),
    retries: (n?: number) => (n === undefined ? 0 : context),
    skip: () => {
      throw new Pending();
    },
  };
  return context;
}

/** Calls a test or hook, honouring mocha's `done` style, and lets the driver abandon it if it never settles. */
function invoke(fn: TestFn): Promise<void> {
  const abandoned = new Promise<never>((_resolve, reject) => {
    abandonCurrent = reject;
  });
  const run = new Promise<void>((resolve, reject) => {
    const context = makeContext();
    if (fn.length >= 1) {
      let called = false;
      const done: Done = (error?: unknown) => {
        if (called) return;
        called = true;
        if (error !== undefined && error !== null) reject(error);
        else resolve();
      };
      try {
        fn.call(context, done);
      } catch (error) {
        reject(error);
      }
      return;
    }
    try {
      Promise.resolve(fn.call(context, () => undefined)).then(() => resolve(), reject);
    } catch (error) {
      reject(error);
    }
  });
  return Promise.race([run, abandoned]).finally(() => {
    abandonCurrent = undefined;
  });
}

function gate(): Promise<void> {
  state = "waiting";
  activity = undefined;
  return new Promise<void>((resolve) => {
    openGate = resolve;
  });
}

function selected(test: Test): boolean {
  if (!hasOnly) return true;
  if (test.only) return true;
  for (let s: Suite | undefined = test.parent; s; s = s.parent) if (s.only) return true;
  return false;
}

function suiteHasSelected(suite: Suite): boolean {
  return suite.tests.some(selected) || suite.suites.some(suiteHasSelected);
}

function isPending(test: Test): boolean {
  if (test.pending || !test.fn) return true;
  for (let s: Suite | undefined = test.parent; s; s = s.parent) if (s.pending) return true;
  return false;
}

function allTests(suite: Suite): Test[] {
  const tests = suite.tests.filter(selected);
  for (const child of suite.suites) tests.push(...allTests(child));
  return tests;
}

function report(kind: LaneEvent["kind"], suite: Suite, title: string, error?: unknown): void {
  const event: LaneEvent = { kind, path: pathOf(suite), title };
  if (error !== undefined) Object.assign(event, describeError(error));
  events.push(event);
}

/** Runs a list of hooks; returns false after reporting a failure (mocha's "hook" failure title). */
async function runHooks(
  hooks: Hook[],
  suite: Suite,
  label: string,
  forTest: Test | undefined,
): Promise<boolean> {
  for (const hook of hooks) {
    const name = `"${label}" hook${hook.title ? `: ${hook.title}` : ""}${forTest ? ` for "${forTest.title}"` : ` in "${suite.title || "root"}"`}`;
    announce([...pathOf(suite), name].join(" > "));
    try {
      await invoke(hook.fn);
    } catch (error) {
      report("fail", suite, name, error);
      return false;
    }
  }
  return true;
}

/** Reports the tests that a failed hook kept from running, so no test silently disappears. */
function reportNotRun(tests: Test[], reason: string): void {
  for (const test of tests) report("fail", test.parent, test.title, new Error(`not run: ${reason}`));
}

function eachHooks(suite: Suite, kind: "beforeEach" | "afterEach"): { hooks: Hook[]; suite: Suite }[] {
  const chain: { hooks: Hook[]; suite: Suite }[] = [];
  for (let s: Suite | undefined = suite; s; s = s.parent) chain.unshift({ hooks: s[kind], suite: s });
  return kind === "beforeEach" ? chain : chain.reverse();
}

/** Runs a suite the way mocha orders it: before-all, its own tests, its child suites, after-all. */
async function runSuite(suite: Suite): Promise<void> {
  if (!suiteHasSelected(suite)) return;
  const everything = allTests(suite);
  if (everything.every(isPending)) {
    for (const test of everything) {
      await gate();
      report("pending", test.parent, test.title);
    }
    return;
  }
  if (suite.beforeAll.length > 0) await gate();
  if (!(await runHooks(suite.beforeAll, suite, "before all", undefined))) {
    reportNotRun(everything, `a "before all" hook of "${suite.title || "root"}" failed`);
    await runHooks(suite.afterAll, suite, "after all", undefined);
    return;
  }
  const tests = suite.tests.filter(selected);
  for (let index = 0; index < tests.length; index++) {
    const test = tests[index]!;
    await gate();
    if (isPending(test)) {
      report("pending", suite, test.title);
      continue;
    }
    if (!(await runTest(test))) {
      const rest = tests.slice(index + 1);
      for (const child of suite.suites) rest.push(...allTests(child));
      reportNotRun(rest, `an "each" hook failed before or after "${test.title}"`);
      await runHooks(suite.afterAll, suite, "after all", undefined);
      return;
    }
  }
  for (const child of suite.suites) await runSuite(child);
  if (suite.afterAll.length > 0) await gate();
  await runHooks(suite.afterAll, suite, "after all", undefined);
}

/** Runs one test with its each-hooks; returns false when a hook failed (mocha then skips the rest). */
async function runTest(test: Test): Promise<boolean> {
  for (const { hooks, suite } of eachHooks(test.parent, "beforeEach")) {
    if (!(await runHooks(hooks, suite, "before each", test))) return false;
  }
  announce([...pathOf(test.parent), test.title].join(" > "));
  try {
    await invoke(test.fn!);
    report("pass", test.parent, test.title);
  } catch (error) {
    if (error instanceof Pending) report("pending", test.parent, test.title);
    else report("fail", test.parent, test.title, error);
  }
  for (const { hooks, suite } of eachHooks(test.parent, "afterEach")) {
    if (!(await runHooks(hooks, suite, "after each", test))) return false;
  }
  return true;
}

function define(title: string, fn: SuiteFn | undefined, flags: { pending?: boolean; only?: boolean }): Suite {
  const suite = newSuite(title, current);
  suite.pending = flags.pending === true;
  suite.only = flags.only === true;
  if (suite.only) hasOnly = true;
  current.suites.push(suite);
  const outer = current;
  current = suite;
  try {
    fn?.call(makeContext());
  } finally {
    current = outer;
  }
  return suite;
}

function addTest(title: string, fn: TestFn | undefined, flags: { pending?: boolean; only?: boolean }): Test {
  const test: Test = {
    title,
    fn,
    parent: current,
    only: flags.only === true,
    pending: flags.pending === true,
  };
  if (test.only) hasOnly = true;
  current.tests.push(test);
  return test;
}

function hook(kind: "beforeAll" | "afterAll" | "beforeEach" | "afterEach") {
  return (titleOrFn: string | TestFn, maybeFn?: TestFn): void => {
    const fn = typeof titleOrFn === "function" ? titleOrFn : maybeFn;
    if (!fn) throw new Error(`${kind} needs a function`);
    current[kind].push({ fn, title: typeof titleOrFn === "string" ? titleOrFn : undefined });
  };
}

/** Like mocha's --forbid-only: a committed `.only` would silently run a fraction of the lane. */
function forbidOnly(kind: string, title: string): never {
  throw new Error(`${kind}.only("${title}") is forbidden: remove .only (the lane would run only that)`);
}

const describe = Object.assign((title: string, fn: SuiteFn) => define(title, fn, {}), {
  skip: (title: string, fn?: SuiteFn) => define(title, fn, { pending: true }),
  only: (title: string): never => forbidOnly("describe", title),
});
const it = Object.assign((title: string, fn?: TestFn) => addTest(title, fn, {}), {
  skip: (title: string, fn?: TestFn) => addTest(title, fn, { pending: true }),
  only: (title: string): never => forbidOnly("it", title),
});

/** Tells the Node driver what runs now, so a step it has to kill can name the culprit. */
function announce(name: string): void {
  activity = name;
  const issueCommand = (globalThis as { issueCommand?: (bytes: ArrayBuffer) => unknown }).issueCommand;
  if (typeof issueCommand === "function") issueCommand(encode(name));
}

function encode(text: string): ArrayBuffer {
  return new TextEncoder().encode(text).buffer as ArrayBuffer;
}

/** The reply object: xsnap reads `result` only after it drained all jobs, so the report is complete. */
function reply(): { readonly result: ArrayBuffer } {
  return {
    get result() {
      const report: StepReport = { events, state, current: activity };
      events = [];
      return encode(JSON.stringify(report));
    },
  };
}

const lane = {
  /** Runs up to the next test boundary (the drain that follows the command does the work). */
  step() {
    if (state === "finished") return reply();
    state = "running";
    if (!started) {
      started = true;
      void runSuite(root).then(
        () => {
          state = "finished";
          activity = undefined;
        },
        (error: unknown) => {
          report("fail", root, "XS harness internal error", error);
          state = "finished";
        },
      );
    } else {
      const resume = openGate;
      openGate = undefined;
      resume?.();
    }
    return reply();
  },
  /** Fails the test or hook that did not settle, and moves on as mocha does after a timeout. */
  abandon() {
    if (state === "finished") return reply();
    state = "running";
    abandonCurrent?.(
      new NeverSettled(
        "did not settle: it waits on a promise that nothing resolves in XS (no timers here; use a VirtualClock)",
      ),
    );
    return reply();
  },
  /** Records a failure that happened while the suite file was loading. */
  loadFailed(error: unknown) {
    report("fail", root, "loading the suite", error);
    state = "finished";
    started = true;
  },
  count(): number {
    return allTests(root).length;
  },
};

const globals = globalThis as Record<string, unknown>;
// Libraries such as fast-check capture the timer functions when they load; calling them fails loudly,
// because device code must take time from the Clock port.
for (const name of ["setTimeout", "clearTimeout", "setInterval", "clearInterval"]) {
  if (typeof globals[name] !== "function") {
    globals[name] = () => {
      throw new Error(`${name} does not exist on the device (XS): take time from the Clock port`);
    };
  }
}
globals.describe = describe;
globals.context = describe;
globals.it = it;
globals.specify = it;
globals.before = hook("beforeAll");
globals.after = hook("afterAll");
globals.beforeEach = hook("beforeEach");
globals.afterEach = hook("afterEach");
globals.__xsLane = lane;

export { lane };
