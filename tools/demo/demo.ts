// `npm start`: the virtual module and the host-mode device (the same HostDevice as `sota-device run`) on a simulated
// 115200-baud link, on virtual time kept in step with real time (or at full speed with --fast), showing the whole
// SOTA flow live and ending with a summary.

import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createSerialLink, lineTimeMs } from "../../hal/sim/serial-link.js";
import type { BootReport } from "../../src/boot/types.js";
import { parsePlan } from "../module/plan.js";
import type { Plan } from "../module/plan.js";
import { VirtualModule } from "../module/virtual-module.js";
import type { TraceEntry } from "../module/virtual-module.js";
import { factoryImage, patternImage } from "../device/flash-setup.js";
import { TextReporter, formatBytes } from "../device/report.js";
import type { ReportSink } from "../device/report.js";
import { HostDevice } from "../device/session.js";
import type { DeviceResult, HostDeviceOptions } from "../device/session.js";
import { createSimDevice } from "../sim/device.js";
import { NodeDigestFactory } from "../../hal/host/node-digest.js";
import { NodeSignatureVerifier } from "../../hal/host/node-signature.js";
import { parseImageVersion } from "../../src/package/version.js";
import { TrustList } from "../../src/package/trust.js";
import { PackageVerifier } from "../../src/package/verifier.js";
import { generateKeyPem, loadKeyPem, publicPem } from "../pack/keys.js";
import { pack } from "../pack/pack.js";
import { makeDeltaPackage } from "../delta/create.js";
import { TimelineRecorder, observeFlash, writeTimeline } from "../timeline/index.js";

export const DEMO_PLAN_PATH = fileURLToPath(new URL("../../examples/demo/plan.json", import.meta.url));
export const DEMO_BAUD = 115200;
export const DEMO_COMPONENT = "app";
export const DEMO_FACTORY_VERSION = "1.0.0";
export const DEMO_IMAGE_SIZE = 160 * 1024;
const DEMO_SLOT_SIZE = 256 * 1024;
/** Virtual time after which the demo gives up (a stuck flow must not hang `npm start`). */
const DEMO_LIMIT_MS = 5 * 60_000;

export interface DemoOptions {
  /** Run virtual time as fast as the CPU allows instead of in step with real time. */
  fast?: boolean;
  /** Where the demo prints (default: stdout). */
  write?: (text: string) => void;
  /** Show the device's progress as a live bar (default: stdout is a TTY). */
  tty?: boolean;
  /** Show the engine's diagnostics too. */
  verbose?: boolean;
  /** Where the run's timeline SVG goes (default: sota-demo-timeline.svg in the temp folder). */
  timelineFile?: string;
  /** Only the full update (no second, differential one). */
  full?: boolean;
}

export interface DemoSummary {
  result: DeviceResult;
  imageBytes: number;
  /** From the device's first command to its final report, on the demo's clock. */
  virtualSeconds: number;
  realSeconds: number;
  /** Image bytes per second of the whole update, and the line's byte rate (8N1: baud / 10). */
  effectiveBytesPerSecond: number;
  lineBytesPerSecond: number;
  /** The module's monitoring log events for the component, in order. */
  monitorEvents: string[];
  /** The running image after the update equals the package. */
  imageMatches: boolean;
  timelineFile: string;
  /** The second update: a differential package from the version just installed (absent with `full: true`). */
  delta?: DeltaSummary;
}

export interface DeltaSummary {
  result: DeviceResult;
  /** Bytes of the new signed image, and of the delta package the device read instead. */
  imageBytes: number;
  packageBytes: number;
  virtualSeconds: number;
  /** Line time of the full package at the demo's baud rate, for comparison. */
  fullLineSeconds: number;
  imageMatches: boolean;
  monitorEvents: string[];
}

/** Prefixes every line written through it, including lines redrawn in place after "\r\x1b[K". */
class PrefixedSink implements ReportSink {
  #atLineStart = true;
  constructor(
    readonly prefix: string,
    readonly out: (text: string) => void,
    readonly isTTY: boolean,
  ) {}
  get columns(): number {
    return 80 - this.prefix.length;
  }
  write(text: string): void {
    let result = "";
    for (let i = 0; i < text.length; i++) {
      if (text.startsWith("\r\x1b[K", i)) {
        result += "\r\x1b[K" + this.prefix;
        i += 3;
        this.#atLineStart = false;
        continue;
      }
      if (this.#atLineStart && text[i] !== "\n") {
        result += this.prefix;
        this.#atLineStart = false;
      }
      result += text[i];
      if (text[i] === "\n") this.#atLineStart = true;
    }
    this.out(result);
  }
}

/** The module's exchange, readable: commands and events one per line, the reads of a stretch summed up in one. */
class ModuleView {
  #reads = 0;
  #readBytes = 0;
  #firstRead = "";
  #lastRead = "";
  constructor(readonly line: (time: number, text: string) => void) {}
  trace(entry: TraceEntry): void {
    if (entry.kind === "read") {
      const match = /^read (\d+)\+(\d+) → (\d+) bytes/.exec(entry.text);
      if (match) {
        if (this.#reads === 0) this.#firstRead = match[1]!;
        this.#reads++;
        this.#readBytes += Number(match[3]);
        this.#lastRead = `${match[1]}+${match[3]}`;
        return;
      }
    }
    // The device's reads and their OK fill the link; the summary line says what they moved.
    if (entry.kind === "rx" && /^AT\+QIOTOTARD=\d/i.test(entry.text)) return;
    if (entry.kind === "tx" && entry.text === "OK" && this.#reads > 0) return;
    this.flush(entry.time);
    const arrow =
      entry.kind === "rx" ? "<-" : entry.kind === "fault" ? "!!" : entry.kind === "note" ? "  " : "->";
    this.line(entry.time, `${arrow} ${entry.text}`);
  }
  flush(time: number): void {
    if (this.#reads === 0) return;
    this.line(
      time,
      `-> ${this.#reads} reads from ${this.#firstRead} to ${this.#lastRead}: ${this.#readBytes} bytes sent`,
    );
    this.#reads = 0;
    this.#readBytes = 0;
  }
}

function stamp(ms: number): string {
  return `[${(ms / 1000).toFixed(3).padStart(8)}s]`;
}

function describeBoot(report: BootReport, restart: number): string {
  const r = report.running;
  const how = report.trial ? "trial boot" : restart === 0 ? "boot" : "reboot";
  const rollback = report.rollbackReason ? ` (rolled back: ${report.rollbackReason})` : "";
  return `${how}: running ${r.component || "?"} ${r.version} from slot ${r.slot} (${r.state})${rollback}`;
}

function realNow(): number {
  return performance.now();
}

function realSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The demo plan and its packages, each signed (MCUboot format, ECDSA P-256) with a key made for this run: the
 * device trusts only that key, so the demo shows the signature check a real product makes.
 */
export function loadDemoPlan(): {
  plan: Plan;
  packages: Map<string, Uint8Array>;
  trustKeyPem: string;
  /** Signs an image as the plan's packages are signed. */
  sign: (image: Uint8Array, version: string) => Uint8Array;
} {
  const plan = parsePlan(readFileSync(DEMO_PLAN_PATH, "utf8"));
  const key = loadKeyPem(generateKeyPem("ecdsa-p256"), "demo key");
  const digests = new NodeDigestFactory();
  const packages = new Map<string, Uint8Array>();
  for (const c of plan.components) {
    const image = patternImage(c.id, c.targetVersion, DEMO_IMAGE_SIZE);
    const version = parseImageVersion(c.targetVersion)!;
    packages.set(
      c.package,
      pack(
        {
          image,
          version,
          headerSize: 0x200,
          padHeader: true,
          align: 4,
          securityCounter: 1,
          signer: { algorithm: key.algorithm, spki: key.spki, sign: key.sign! },
        },
        digests,
      ),
    );
  }
  const sign = (image: Uint8Array, version: string): Uint8Array =>
    pack(
      {
        image,
        version: parseImageVersion(version)!,
        headerSize: 0x200,
        padHeader: true,
        align: 4,
        securityCounter: 1,
        signer: { algorithm: key.algorithm, spki: key.spki, sign: key.sign! },
      },
      digests,
    );
  return { plan, packages, trustKeyPem: publicPem(key.spki), sign };
}

export async function runDemo(options: DemoOptions = {}): Promise<DemoSummary> {
  const write = options.write ?? ((text: string) => void process.stdout.write(text));
  const tty = options.tty ?? (options.write === undefined && process.stdout.isTTY === true);
  const { plan, packages, trustKeyPem, sign } = loadDemoPlan();
  const component = plan.components[0]!;
  const image = packages.get(component.package)!;
  // The factory state is made "at the factory" (no clock); then the device's flash work costs it time.
  const {
    clock,
    digests,
    link,
    flash: deviceFlash,
    layout,
    kv,
  } = createSimDevice({
    baud: DEMO_BAUD,
    slotSize: DEMO_SLOT_SIZE,
    flashTime: "after-factory",
    factory: {
      component: component.id,
      version: DEMO_FACTORY_VERSION,
      bytes: factoryImage(component.id, DEMO_FACTORY_VERSION),
    },
  });

  const deviceSink = new PrefixedSink("device | ", write, tty);
  const moduleSink = new PrefixedSink("  module | ", write, false);
  const reporter = new TextReporter(deviceSink, {
    elapsedMs: () => clock.now(),
    verbose: options.verbose ?? false,
  });
  // A module line must not land in the middle of the device's live bar.
  const view = new ModuleView((time, text) => {
    reporter.breakLine();
    moduleSink.write(`${stamp(time)} ${text}\n`);
  });
  const timeline = new TimelineRecorder(() => clock.now());
  const module = new VirtualModule({
    serial: link.b,
    clock,
    digests,
    plan,
    packages,
    onTrace: (entry) => {
      timeline.trace(entry);
      view.trace(entry);
    },
  });
  module.monitor.subscribe((entry) => timeline.monitor(entry));
  // The device's flash, with every erase and write drawn on the timeline.
  const flash = observeFlash(deviceFlash, () => clock.now(), timeline);

  write(
    `SOTA demo: virtual QuecThing module + host-mode device over a simulated ${DEMO_BAUD}-baud UART` +
      `${options.fast ? " (virtual time at full speed)" : " (live)"}\n` +
      `plan: ${component.id} ${DEMO_FACTORY_VERSION} -> ${component.targetVersion}, package ${component.package} ${formatBytes(image.length)}, ` +
      `module pieces of ${formatBytes(module.settings.freeSpace)}, reads of up to ${module.settings.maxReadLength} bytes\n` +
      `package signed (MCUboot format, ECDSA P-256) with a demo key made for this run; the device trusts only that key\n\n`,
  );

  const realStart = realNow();
  module.powerOn();
  // The device starts once the module is up; the RDY it printed meanwhile went to nobody.
  await clock.run(module.settings.bootDelayMs + 10);
  const discard = new Uint8Array(64);
  while (link.a.read(discard) > 0);

  const deviceOptions: HostDeviceOptions = {
    serial: link.a,
    packages: new PackageVerifier({
      digests,
      signatures: new NodeSignatureVerifier(),
      trust: TrustList.fromConfig(digests, [trustKeyPem]),
      maxImageSize: layout.slots[0].length,
    }),
    clock,
    flash,
    layout,
    digests,
    kv,
    component: DEMO_COMPONENT,
    baud: DEMO_BAUD,
    batteryPercent: 87,
    deviceId: module.settings.deviceId,
    engine: { acceptDifferential: true },
    once: true,
    onProgress: (p) => {
      timeline.progress(p);
      reporter.progress(p);
    },
    onBoot: (report, restart) => {
      timeline.boot(report, restart);
      reporter.note(`${stamp(clock.now())} ${describeBoot(report, restart)}`);
    },
    onLog: (message: string) => {
      timeline.log(message);
      reporter.log(message);
    },
  };
  const device = new HostDevice(deviceOptions);

  /** Runs virtual time (live or fast) until the device's run ends, within the demo's limit. */
  const drive = async (run: Promise<DeviceResult>, stop: () => void): Promise<DeviceResult> => {
    let done = false;
    const outcome = run.finally(() => {
      done = true;
    });
    const start = clock.now();
    const pacing = realNow();
    while (!done && clock.now() - start < DEMO_LIMIT_MS) {
      if (options.fast) await clock.runUntil(() => done, 10_000);
      else {
        await realSleep(10);
        const due = start + (realNow() - pacing) - clock.now();
        if (due > 0) await clock.runUntil(() => done, due);
      }
    }
    if (!done) {
      stop();
      await clock.runUntil(() => done, 60_000);
    }
    return outcome;
  };

  let finished = false;
  const outcome = device.run().finally(() => {
    finished = true;
  });
  const virtualStart = clock.now();
  const pacingStart = realNow();
  while (!finished && clock.now() - virtualStart < DEMO_LIMIT_MS) {
    if (options.fast) {
      await clock.runUntil(() => finished, 10_000);
    } else {
      // Virtual time follows the wall clock in 10 ms ticks; when the simulation falls behind it simply catches up.
      await realSleep(10);
      const due = virtualStart + (realNow() - pacingStart) - clock.now();
      if (due > 0) await clock.runUntil(() => finished, due);
    }
  }
  if (!finished) {
    device.stop();
    await clock.runUntil(() => finished, 60_000);
  }
  const result = await outcome;
  view.flush(clock.now());
  // Let the module finish its side (10705) before the summary reads its log.
  await clock.runUntil(
    () => module.monitor.eventsOf(component.id).some((e) => e === "success" || e === "failure"),
    2000,
  );
  module.powerOff();
  reporter.result(result);

  const running = device.bootReport!.running;
  const region = layout.slots[running.slot]!;
  const installed = new Uint8Array(running.size);
  flash.read(installed, region.offset);
  const imageMatches = installed.length === image.length && installed.every((b, i) => b === image[i]);

  const virtualSeconds = (clock.now() - virtualStart) / 1000;
  const lineBytesPerSecond = DEMO_BAUD / 10;
  const effective = result.bytes / Math.max(virtualSeconds, 0.001);
  const summary: DemoSummary = {
    result,
    imageBytes: image.length,
    virtualSeconds,
    realSeconds: (realNow() - realStart) / 1000,
    effectiveBytesPerSecond: effective,
    lineBytesPerSecond,
    monitorEvents: module.monitor.eventsOf(component.id),
    imageMatches,
    timelineFile: options.timelineFile ?? join(tmpdir(), "sota-demo-timeline.svg"),
  };
  timeline.result(result.status, result.reason);
  writeTimeline(summary.timelineFile, timeline.events);
  const lineOnly = lineTimeMs(image.length, DEMO_BAUD) / 1000;
  write(
    `\nSummary: ${result.status} (exit ${result.exitCode}), running ${result.runningVersion}; image ${imageMatches ? "matches" : "DOES NOT match"} the package\n` +
      `  ${result.bytes} bytes in ${virtualSeconds.toFixed(1)} s (device clock; ${summary.realSeconds.toFixed(1)} s real)\n` +
      `  effective ${Math.round(effective)} B/s = ${((effective * 100) / lineBytesPerSecond).toFixed(0)}% of the line rate ` +
      `(${DEMO_BAUD} baud = ${lineBytesPerSecond} B/s; the image alone needs ${lineOnly.toFixed(1)} s of line time)\n` +
      `  timeline: ${summary.timelineFile}\n` +
      `  module monitoring log: ${summary.monitorEvents.join(" > ")}\n`,
  );
  if (options.full) return summary;

  // Second update: a differential package from the signed 1.1.0 now running to a signed 1.2.0 that differs a little.
  const deltaVersion = "1.2.0";
  const newImage = patternImage(component.id, component.targetVersion, DEMO_IMAGE_SIZE);
  const edited = new Uint8Array(newImage.length + 1024);
  edited.set(newImage.subarray(0, 90_000));
  edited.set(patternImage(component.id, "patch", 1024), 90_000);
  edited.set(newImage.subarray(90_000), 91_024);
  for (let at = 4096; at < edited.length; at += 16_384) edited[at] ^= 0x5a;
  const target = sign(edited, deltaVersion);
  const deltaPackage = makeDeltaPackage(image, target);
  const deltaName = `app-${component.targetVersion}-${deltaVersion}.delta`;
  const deltaPlan = parsePlan({
    ...(JSON.parse(readFileSync(DEMO_PLAN_PATH, "utf8")) as Record<string, unknown>),
    components: [
      {
        id: component.id,
        type: "diff",
        sourceVersion: component.targetVersion,
        targetVersion: deltaVersion,
        package: deltaName,
        minBattery: component.minBattery,
        minSignal: component.minSignal,
      },
    ],
  });
  const fullLineSeconds = lineTimeMs(target.length, DEMO_BAUD) / 1000;
  write(
    `\nSecond update: ${component.id} ${component.targetVersion} -> ${deltaVersion} as a differential package ${deltaName}: ` +
      `${formatBytes(deltaPackage.length)} instead of the ${formatBytes(target.length)} signed image ` +
      `(${((100 * deltaPackage.length) / target.length).toFixed(1)} %), applied while it streams in\n\n`,
  );
  // The first module powered off with its port: the second session gets a fresh link at the same speed.
  const deltaLink = createSerialLink({ clock, baud: DEMO_BAUD, worldEnd: "b" });
  const deltaModule = new VirtualModule({
    serial: deltaLink.b,
    clock,
    digests,
    plan: deltaPlan,
    packages: new Map([[deltaName, deltaPackage]]),
    onTrace: (entry) => view.trace(entry),
  });
  deltaModule.powerOn();
  await clock.run(deltaModule.settings.bootDelayMs + 10);
  while (deltaLink.a.read(discard) > 0);
  const second = new HostDevice({ ...deviceOptions, serial: deltaLink.a });
  const deltaStart = clock.now();
  const deltaResult = await drive(second.run(), () => second.stop());
  view.flush(clock.now());
  await clock.runUntil(
    () => deltaModule.monitor.eventsOf(component.id).some((e) => e === "success" || e === "failure"),
    2000,
  );
  deltaModule.powerOff();
  reporter.result(deltaResult);
  const now = second.bootReport!.running;
  const built = new Uint8Array(now.size);
  flash.read(built, layout.slots[now.slot]!.offset);
  const delta: DeltaSummary = {
    result: deltaResult,
    imageBytes: target.length,
    packageBytes: deltaPackage.length,
    virtualSeconds: (clock.now() - deltaStart) / 1000,
    fullLineSeconds,
    imageMatches: built.length === target.length && built.every((b, i) => b === target[i]),
    monitorEvents: deltaModule.monitor.eventsOf(component.id),
  };
  summary.delta = delta;
  write(
    `\nSummary of the delta: ${deltaResult.status} (exit ${deltaResult.exitCode}), running ${deltaResult.runningVersion}; ` +
      `image ${delta.imageMatches ? "matches" : "DOES NOT match"} the signed ${deltaVersion}\n` +
      `  ${deltaResult.bytes} bytes read instead of ${target.length}: ${target.length - deltaResult.bytes} bytes saved ` +
      `(${((100 * (target.length - deltaResult.bytes)) / target.length).toFixed(1)} %); ` +
      `${delta.virtualSeconds.toFixed(1)} s (device clock) where the full image alone needs ${fullLineSeconds.toFixed(1)} s of line time\n` +
      `  module monitoring log: ${delta.monitorEvents.join(" > ")}\n`,
  );
  return summary;
}

async function main(argv: string[]): Promise<number> {
  const unknown = argv.filter((a) => a !== "--fast" && a !== "--verbose" && a !== "--full-only");
  if (unknown.length > 0) {
    process.stderr.write(
      `demo: unknown option ${unknown[0]}\nusage: npm start [-- --fast] [--verbose] [--full-only]\n`,
    );
    return 1;
  }
  const summary = await runDemo({
    fast: argv.includes("--fast"),
    verbose: argv.includes("--verbose"),
    full: argv.includes("--full-only"),
  });
  const deltaOk = !summary.delta || (summary.delta.result.exitCode === 0 && summary.delta.imageMatches);
  return summary.result.exitCode === 0 && summary.imageMatches && deltaOk ? 0 : 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`demo: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
