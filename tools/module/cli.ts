// `sota-module`: the virtual QuecThing module + Developer Center on a pty (socat) or a real serial port, with a live
// exchange log, faults from the command line, a JSON-lines monitoring log, and the monitoring table on Ctrl-C.
// Exit codes as sota-device: 0 stopped normally, 1 usage or I/O error (a pty path another live module holds too).

import fs from "node:fs";
import path from "node:path";
import { spawn, type ChildProcess } from "node:child_process";
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { HostSerialPort } from "../../hal/host/host-serial.js";
import { RealClock } from "../../hal/host/real-clock.js";
import { NodeDigestFactory } from "../../hal/host/node-digest.js";
import type { Clock } from "../../hal/clock.js";
import { VirtualModule, type ModuleFlash, type TraceEntry } from "./virtual-module.js";
import { parsePlan, parseSettings, PlanError, type Plan } from "./plan.js";
import { parseFaultSpec, FaultSpecError, type Fault } from "./faults.js";
import { MonitorLog } from "./monitor.js";
import { ScaledClock } from "./scaled-clock.js";
import type { ModuleSettings } from "./settings.js";
import { startModuleObservers } from "../web/module-observers.js";
import { lockExclusive, type FileLock } from "../device/file-lock.js";

export const USAGE = `usage: sota-module --plan plan.json (--pty PATH | --port DEVICE) [options]
  --plan FILE        Developer Center plan (JSON); package paths are relative to it
  --pty PATH         make a linked pty pair with socat; the device opens PATH (the module uses PATH.module)
  --port DEVICE      use a real serial device (e.g. /dev/ttyUSB0)
  --baud N           UART rate (default 115200); on a pty the module paces its output to it
  --latency-ms MS    per-command processing latency in milliseconds (--latency MS: the old name, deprecated)
  --fault SPEC       inject a fault, e.g. fail:piece=1,byte=4000 or error:cmd=QIOTOTARD,nth=3 (repeatable)
  --set KEY=VALUE    override a module setting, e.g. --set freeSpace=8192 --set signalDbm=-95 (repeatable)
  --device-id ID     the device id used for white/black lists and the monitoring log
  --log FILE.jsonl   append the upgrade monitoring log as JSON lines
  --state FILE       keep the module flash (MCU versions, OTA state, productinfo...) in a JSON file across runs
  --speed N          run the module's clock N times faster (timers: 30 s, 60 s, 20 min, 10 min...)
  --quiet            no live exchange log
  --web PORT         live monitoring page on http://127.0.0.1:PORT/ (--web-host ADDRESS to bind elsewhere)
  --timeline FILE    write an SVG timeline of the run when the module stops
Ctrl-C prints the upgrade monitoring table and exits. Exit codes: 0 stopped, 1 usage or I/O error.`;

export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

const defaultIo: CliIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

class UsageError extends Error {}

function settingValue(raw: string): unknown {
  if (raw === "true") return true;
  if (raw === "false") return false;
  if (raw === "null") return null;
  if (/^-?\d+$/.test(raw)) return Number(raw);
  return raw;
}

function formatTrace(entry: TraceEntry, origin: number): string | undefined {
  if (entry.kind === "rx" && /^AT\+QIOTOTARD=\d/i.test(entry.text)) return undefined; // the "read" line summarises it
  const time = ((entry.time - origin) / 1000).toFixed(3).padStart(9);
  const arrow = {
    rx: "dev → mod",
    tx: "mod → dev",
    urc: "mod → dev",
    read: "read     ",
    note: "note     ",
    fault: "FAULT    ",
  }[entry.kind];
  return `[${time}] ${arrow}  ${entry.text}\n`;
}

/** Starts `socat` with a linked pty pair and waits until both links exist. */
async function startSocat(link: string, io: CliIo): Promise<ChildProcess> {
  for (const p of [link, `${link}.module`]) {
    try {
      if (fs.lstatSync(p).isSymbolicLink()) fs.unlinkSync(p);
    } catch {
      // absent: fine
    }
  }
  const child = spawn(
    "socat",
    ["-d", "-d", `pty,raw,echo=0,link=${link}`, `pty,raw,echo=0,link=${link}.module`],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  // mocha --exit or process.exit() skip our clean-up: never leave socat (and its links) behind.
  const killOnExit = () => child.kill();
  process.once("exit", killOnExit);
  child.once("exit", () => process.off("exit", killOnExit));
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<never>((_, reject) => {
    child.on("error", (error) =>
      reject(new Error(`cannot start socat (install it: apt-get install socat): ${error.message}`)),
    );
    child.on("exit", (code) => reject(new Error(`socat exited (${code}): ${stderr.trim()}`)));
  });
  exited.catch(() => undefined);
  const deadline = Date.now() + 5000;
  while (!(fs.existsSync(link) && fs.existsSync(`${link}.module`))) {
    if (Date.now() > deadline) {
      child.kill();
      throw new Error(`socat did not create ${link} within 5 s: ${stderr.trim()}`);
    }
    await Promise.race([new Promise((resolve) => setTimeout(resolve, 20)), exited]);
  }
  io.out(`pty ready: point the device at ${link}\n`);
  return child;
}

function loadPackages(plan: Plan, planFile: string): Map<string, Uint8Array> {
  const dir = path.dirname(path.resolve(planFile));
  const packages = new Map<string, Uint8Array>();
  plan.components.forEach((component, i) => {
    const file = path.resolve(dir, component.package);
    if (!fs.existsSync(file)) {
      throw new PlanError(
        `components[${i}].package`,
        `file ${file} not found (make an example one: npx tsx tools/module/make-package.ts ${path.relative(process.cwd(), file)})`,
      );
    }
    packages.set(component.package, new Uint8Array(fs.readFileSync(file)));
  });
  return packages;
}

/** Runs the CLI; resolves with the exit code when the module stops (signal, or the port closed). */
export async function main(
  argv: string[],
  io: CliIo = defaultIo,
  signals: NodeJS.EventEmitter = process,
): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: {
        plan: { type: "string" },
        pty: { type: "string" },
        port: { type: "string" },
        baud: { type: "string" },
        latency: { type: "string" },
        "latency-ms": { type: "string" },
        fault: { type: "string", multiple: true },
        set: { type: "string", multiple: true },
        "device-id": { type: "string" },
        log: { type: "string" },
        state: { type: "string" },
        speed: { type: "string" },
        quiet: { type: "boolean" },
        web: { type: "string" },
        "web-host": { type: "string" },
        timeline: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }).values;
  } catch (error) {
    io.err(`sota-module: ${(error as Error).message}\n${USAGE}\n`);
    return 1;
  }
  if (args.help) {
    io.out(`${USAGE}\n`);
    return 0;
  }
  let plan: Plan;
  let packages: Map<string, Uint8Array>;
  const overrides: Record<string, unknown> = {};
  const faults: Fault[] = [];
  let speed = 1;
  let baud = 115200;
  try {
    if (!args.plan) throw new UsageError("--plan is required");
    if (!args.pty === !args.port) throw new UsageError("give exactly one of --pty PATH or --port DEVICE");
    const number = (flag: string, value: string | undefined, min: number): number | undefined => {
      if (value === undefined) return undefined;
      const n = Number(value);
      if (!Number.isFinite(n) || n < min)
        throw new UsageError(`--${flag}: expected a number >= ${min}, got "${value}"`);
      return n;
    };
    baud = number("baud", args.baud, 1) ?? baud;
    speed = number("speed", args.speed, 0.001) ?? 1;
    if (args.latency !== undefined && args["latency-ms"] !== undefined)
      throw new UsageError("--latency-ms replaces --latency: give one of them");
    if (args.latency !== undefined)
      io.err("sota-module: --latency is deprecated: use --latency-ms (the unit is in the name)\n");
    const latency = number("latency-ms", args["latency-ms"], 0) ?? number("latency", args.latency, 0);
    if (latency !== undefined) overrides["latencyMs"] = latency;
    if (args["device-id"]) overrides["deviceId"] = args["device-id"];
    for (const item of args.set ?? []) {
      const eq = item.indexOf("=");
      if (eq <= 0) throw new UsageError(`--set ${item}: expected KEY=VALUE`);
      overrides[item.slice(0, eq)] = settingValue(item.slice(eq + 1));
    }
    for (const spec of args.fault ?? []) faults.push(parseFaultSpec(spec));
    plan = parsePlan(fs.readFileSync(args.plan, "utf8"));
    packages = loadPackages(plan, args.plan);
  } catch (error) {
    if (error instanceof UsageError || error instanceof PlanError || error instanceof FaultSpecError) {
      io.err(`sota-module: ${error.message}\n`);
      return 1;
    }
    io.err(`sota-module: ${(error as Error).message}\n`);
    return 1;
  }
  let settings: Partial<ModuleSettings>;
  try {
    settings = parseSettings(overrides, "--set");
  } catch (error) {
    io.err(`sota-module: ${(error as Error).message}\n`);
    return 1;
  }

  // The page and the timeline (tools/web): events come from the module's trace and monitoring log below.
  const observers = await startModuleObservers({
    ...io,
    ...args,
    planFile: args.plan!,
    plan,
    packages,
    faults,
  });
  if (typeof observers === "number") return observers;
  // A pty path is one module's: a second one would take the links over and delete them when it exits.
  let ptyLock: FileLock | undefined;
  if (args.pty) {
    try {
      ptyLock = lockExclusive(args.pty, `sota-module --pty ${args.pty}`);
    } catch (error) {
      io.err(`sota-module: ${(error as Error).message}; stop that module or choose another --pty path\n`);
      await observers.close();
      return 1;
    }
  }

  let socat: ChildProcess | undefined;
  let serial: HostSerialPort;
  let finish: (code: number) => void = () => undefined;
  const done = new Promise<number>((resolve) => (finish = resolve));
  // Listen for Ctrl-C from the start, so a signal during socat start-up still cleans up.
  const stop = () => finish(0);
  signals.on("SIGINT", stop);
  signals.on("SIGTERM", stop);
  const unlisten = () => {
    signals.off("SIGINT", stop);
    signals.off("SIGTERM", stop);
  };
  try {
    if (args.pty) socat = await startSocat(args.pty, io);
    serial = await HostSerialPort.open({
      path: args.pty ? `${args.pty}.module` : args.port!,
      baudRate: baud,
      // A pty ignores the baud rate: pace the module's output to it so the device sees a real line.
      ...(args.pty ? { paceBaud: baud } : {}),
      onError: (error) => io.err(`serial: ${error.message}\n`),
      onClose: () => finish(0),
    });
  } catch (error) {
    unlisten();
    socat?.kill();
    ptyLock?.release();
    await observers.close();
    io.err(`sota-module: ${(error as Error).message}\n`);
    return 1;
  }

  const realClock = new RealClock();
  const clock: Clock = speed === 1 ? realClock : new ScaledClock(realClock, speed);
  const monitor = new MonitorLog();
  if (args.log) {
    const logFile = args.log;
    monitor.subscribe((entry) => fs.appendFileSync(logFile, MonitorLog.toJsonLine(entry) + "\n"));
  }
  let flash: ModuleFlash | undefined;
  if (args.state && fs.existsSync(args.state))
    flash = JSON.parse(fs.readFileSync(args.state, "utf8")) as ModuleFlash;
  const origin = clock.now();
  const quiet = args.quiet === true;
  const module = new VirtualModule({
    serial,
    clock,
    digests: new NodeDigestFactory(),
    plan,
    packages,
    settings,
    faults,
    monitor,
    ...(flash ? { flash } : {}),
    onTrace: (entry) => {
      observers.trace(entry);
      if (quiet) return;
      const line = formatTrace(entry, origin);
      if (line) io.out(line);
    },
  });
  io.out(
    `sota-module: device id ${module.settings.deviceId}, ${plan.components.length} component(s): ${plan.components.map((c) => `${c.id} → ${c.targetVersion}`).join(", ")}; max read ${module.settings.maxReadLength}, free space ${module.settings.freeSpace}, ${baud} baud${speed !== 1 ? `, speed x${speed}` : ""}\n`,
  );
  for (const fault of [...plan.faults, ...faults]) io.out(`fault armed: ${JSON.stringify(fault)}\n`);
  observers.attach(module, clock.now());
  module.powerOn();

  const code = await done;
  unlisten();
  if (args.state) fs.writeFileSync(args.state, JSON.stringify(module.flashContents, null, 2) + "\n");
  module.powerOff();
  socat?.kill();
  ptyLock?.release();
  await observers.close();
  io.out(`\nupgrade monitoring (${module.settings.deviceId}):\n${monitor.table()}`);
  return code;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
