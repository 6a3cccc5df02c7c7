// Helpers of the pty end-to-end tests: a socat pty pair with the virtual module on one end, and `sota-device` runs.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { HostSerialPort } from "../../../hal/host/host-serial.js";
import { NodeDigestFactory } from "../../../hal/host/node-digest.js";
import { RealClock } from "../../../hal/host/real-clock.js";
import { parsePlan } from "../../../tools/module/plan.js";
import { VirtualModule, type TraceEntry } from "../../../tools/module/virtual-module.js";

export const socatMissing = spawnSync("socat", ["-V"]).error !== undefined;
export const DEVICE_BIN = fileURLToPath(new URL("../../../tools/bin/sota-device.mjs", import.meta.url));

export async function waitFor(predicate: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export interface ModuleRun {
  /** The pty end the device opens. */
  devicePath: string;
  trace: TraceEntry[];
  /** The module's monitoring log events, in order. */
  events(): string[];
  waitForMonitor(done: (events: string[]) => boolean, ms?: number): Promise<void>;
  stop(): Promise<void>;
}

/** A socat pty pair in `dir`; the virtual module (real clock) serves `plan` on one end. */
export async function startModule(dir: string, plan: unknown, image: Uint8Array): Promise<ModuleRun> {
  const devicePath = path.join(dir, "tty-device");
  const modulePath = path.join(dir, "tty-module");
  const socat: ChildProcess = spawn(
    "socat",
    [`pty,raw,echo=0,link=${devicePath}`, `pty,raw,echo=0,link=${modulePath}`],
    { stdio: "ignore" },
  );
  await waitFor(() => fs.existsSync(devicePath) && fs.existsSync(modulePath), 5000, "socat's pty links");
  const serial = await HostSerialPort.open({ path: modulePath, baudRate: 115200 });
  const parsed = parsePlan(plan);
  const trace: TraceEntry[] = [];
  const module = new VirtualModule({
    serial,
    clock: new RealClock(),
    digests: new NodeDigestFactory(),
    plan: parsed,
    packages: new Map(parsed.components.map((c) => [c.package, image] as [string, Uint8Array])),
    onTrace: (entry) => trace.push(entry),
  });
  module.powerOn();
  const events = (): string[] => module.monitor.entries.map((e) => e.event);
  return {
    devicePath,
    trace,
    events,
    waitForMonitor: (done, ms = 5000) =>
      waitFor(() => done(events()), ms, `module monitor events (have ${events().join(",")})`),
    stop: async () => {
      module.powerOff();
      const exited = new Promise((resolve) => socat.once("exit", resolve));
      socat.kill("SIGTERM");
      if (socat.exitCode === null && socat.signalCode === null) await exited;
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
    const child = spawn(process.execPath, [DEVICE_BIN, "run", ...args, "--once", "--json"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
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
