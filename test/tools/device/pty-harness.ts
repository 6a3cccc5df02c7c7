// Helpers of the pty end-to-end tests: `sota-module --pty` (socat pair) and `sota-device run` as child processes.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const DEVICE_BIN = fileURLToPath(new URL("../../../tools/bin/sota-device.mjs", import.meta.url));

export async function waitFor(predicate: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export const MODULE_BIN = fileURLToPath(new URL("../../../tools/bin/sota-module.mjs", import.meta.url));
/** Both ends pace to this rate: a pty ignores baud, and a high rate keeps the tests short. */
export const E2E_BAUD = 1_000_000;

export interface ModuleRun {
  /** The pty end the device opens. */
  devicePath: string;
  /** What sota-module printed (its live exchange log). */
  output(): string;
  /** The module's monitoring log events (from its --log JSON lines), in order. */
  events(): string[];
  waitForMonitor(done: (events: string[]) => boolean, ms?: number): Promise<void>;
  stop(): Promise<void>;
}

/** `sota-module --pty` as a child process serving `plan` (written to `dir` with `image` as its package). */
export async function startModule(
  dir: string,
  plan: Record<string, unknown>,
  image: Uint8Array,
  extraArgs: string[] = [],
): Promise<ModuleRun> {
  const planFile = path.join(dir, "plan.json");
  fs.writeFileSync(planFile, JSON.stringify(plan, null, 2));
  for (const c of plan["components"] as Array<{ package: string }>)
    fs.writeFileSync(path.join(dir, c.package), image);
  const devicePath = path.join(dir, "tty");
  const logFile = path.join(dir, "monitor.jsonl");
  const child: ChildProcess = spawn(
    process.execPath,
    [
      MODULE_BIN,
      "--plan",
      planFile,
      "--pty",
      devicePath,
      "--baud",
      String(E2E_BAUD),
      "--log",
      logFile,
      ...extraArgs,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout!.setEncoding("utf8").on("data", (text: string) => (output += text));
  child.stderr!.setEncoding("utf8").on("data", (text: string) => (output += text));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    await waitFor(() => output.includes("pty ready") || child.exitCode !== null, 15_000, "sota-module's pty");
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  if (child.exitCode !== null) throw new Error(`sota-module exited (${child.exitCode}):\n${output}`);
  const events = (): string[] => {
    if (!fs.existsSync(logFile)) return [];
    return fs
      .readFileSync(logFile, "utf8")
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => String((JSON.parse(line) as { event: string }).event));
  };
  return {
    devicePath,
    output: () => output,
    events,
    waitForMonitor: (done, ms = 5000) =>
      waitFor(() => done(events()), ms, `module monitor events (have ${events().join(",")})`),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        await exited;
      }
    },
  };
}

export interface DeviceRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The final `{"event":"result",...}` line. */
  result: Record<string, unknown>;
  progress: Array<Record<string, unknown>>;
}

/** `sota-device run <args> --once --json` as a child process (asynchronous: the module keeps serving meanwhile). */
export function runDevice(args: string[], timeoutMs = 30_000): Promise<DeviceRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [DEVICE_BIN, "run", "--baud", String(E2E_BAUD), ...args, "--once", "--json"],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text));
    child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      const lines = stdout.split("\n").filter((line) => line.trim() !== "");
      let objects: Array<Record<string, unknown>>;
      try {
        objects = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
      } catch (error) {
        reject(
          new Error(`stdout is not JSON lines (${(error as Error).message}):\n${stdout}\nstderr:\n${stderr}`),
        );
        return;
      }
      const results = objects.filter((o) => o["event"] === "result");
      if (results.length !== 1) {
        reject(
          new Error(
            `expected exactly one result line, got ${results.length} (exit ${code}):\n${stdout}\nstderr:\n${stderr}`,
          ),
        );
        return;
      }
      resolve({
        code,
        stdout,
        stderr,
        result: results[0]!,
        progress: objects.filter((o) => o["event"] === "progress"),
      });
    });
  });
}

export interface PtyPair {
  /** The end a device opens; nothing answers on the other end. */
  device: string;
  close(): void;
}

/** A linked pty pair from socat in `dir` (socat is required: .ci/run installs it). */
export async function openPtyPair(dir: string): Promise<PtyPair> {
  const device = path.join(dir, "tty-device");
  const peer = path.join(dir, "tty-peer");
  const child = spawn("socat", [`pty,raw,echo=0,link=${device}`, `pty,raw,echo=0,link=${peer}`], {
    stdio: "ignore",
  });
  await waitFor(() => fs.existsSync(device) && fs.existsSync(peer), 10_000, "socat's pty pair");
  return { device, close: () => void child.kill("SIGKILL") };
}
