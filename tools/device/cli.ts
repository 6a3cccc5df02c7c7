// `sota-device`: the host-mode device CLI. `run` serves SOTA plans from a module on a serial port (or pty) with the
// flash kept in a file; `status` shows the flash's slots. Exit codes: 0 updated/current, 10 no plan, 11 refused,
// 12 failed (old image kept), 1 usage or I/O error. `run` locks the flash file; `status` reads it under a shared lock.

import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { FileFlash, createFlashFile, creatingName } from "../../hal/host/file-flash.js";
import { HostSerialPort } from "../../hal/host/host-serial.js";
import { JsonFileKeyValueStore } from "../../hal/host/json-kv.js";
import { NodeDigestFactory } from "../../hal/host/node-digest.js";
import { RealClock } from "../../hal/host/real-clock.js";
import { planLayout } from "../../src/flash-format/layout.js";
import type { FlashPartition } from "../../hal/flash.js";
import { SimNorFlash } from "../../hal/sim/nor-flash.js";
import { LockedError, lockExclusive, lockShared } from "./file-lock.js";
import {
  DEFAULT_SLOT_SIZE,
  FACTORY_IMAGE_SIZE,
  HOST_FLASH_GEOMETRY,
  factoryFlashBytes,
  factoryImage,
  inspectFlash,
  layoutOf,
  partitionSizeFor,
  unbootableReason,
} from "./flash-setup.js";
import type { FlashStatusReport } from "./flash-setup.js";
import { JsonReporter, TextReporter } from "./report.js";
import type { Reporter, ReportSink } from "./report.js";
import { EXIT_CODES, HostDevice } from "./session.js";
import { NodeSignatureVerifier } from "../../hal/host/node-signature.js";
import type { FlashLayout } from "../../src/flash-format/layout.js";
import {
  componentsStatus,
  formatComponentsStatus,
  openAreas,
  parseDeviceComponent,
  readComponentsFile,
} from "./components.js";
import { createHash } from "node:crypto";
import type { DeviceComponent, OpenedAreas } from "./components.js";
import { TrustList } from "../../src/package/trust.js";
import { PackageVerifier } from "../../src/package/verifier.js";
import { signedImageInfo } from "../pack/info.js";
import { TimelineRecorder, observeFlash, writeTimeline } from "../timeline/index.js";
import type { DeviceResult } from "./session.js";

export const USAGE = `usage:
  sota-device run --port <path> --flash <file> --component <id> [--baud 115200] [--version <v>]
                  [--component <id>=data|mod[:version=V,size=N]]... [--components <file.json>]
                  [--battery <pct>] [--slot-size <bytes>] [--factory-image <file>] [--reformat]
                  [--once] [--json] [--verbose]
                  [--allow-downgrade] [--plan-interval <s>] [--offer-wait <s>] [--timeout <s>]
                  [--product-key <pk> --product-secret <ps>] [--nb-iot] [--timeline <file.svg>]
                  [--trust-key <pub.pem>]... [--revoked-key <pub.pem | key-hash hex>]... [--require-signed]
  sota-device status --flash <file> [--json]
                     [--component <id>=data|mod[:version=V,size=N]]... [--components <file.json>]
  sota-device <command> --help
times are in seconds (decimals allowed); --plan-wait <ms> still works but is deprecated (use --offer-wait <s>)
exit codes: 0 updated or already current, 10 no plan offered, 11 plan refused,
            12 update failed (old image kept), 1 usage or I/O error (a locked flash file too),
            130 interrupted (--once)`;

export const DEFAULT_FACTORY_VERSION = "1.0.0";
/** --once stopped by Ctrl-C before the plan ended (the shell's code for SIGINT). */
export const EXIT_INTERRUPTED = 130;

export interface CliIo {
  stdout: ReportSink;
  stderr: ReportSink;
  /** Registers a Ctrl-C handler; returns its removal. */
  onInterrupt?: (handler: () => void) => () => void;
}

class UsageError extends Error {}

function integerOption(
  value: string | undefined,
  name: string,
  min: number,
  max: number,
): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name} expects a whole number, got "${value}"`);
  const n = Number(value);
  if (n < min || n > max) throw new UsageError(`--${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

/** A time option in seconds (one unit for every time option); decimals allowed. */
function secondsOption(
  value: string | undefined,
  name: string,
  min: number,
  max: number,
): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+(\.\d+)?$/.test(value)) throw new UsageError(`--${name} expects seconds, got "${value}"`);
  const n = Number(value);
  if (n < min || n > max) throw new UsageError(`--${name} must be between ${min} and ${max} s, got ${n}`);
  return n;
}

function required(value: string | undefined, name: string): string {
  if (value === undefined || value === "") throw new UsageError(`--${name} is required`);
  return value;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Runs the CLI with `args` (without node and the script); resolves with the exit code. */
export async function main(args: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = args;
  const verbose = rest.includes("--verbose");
  try {
    if ((command === "run" || command === "status") && (rest.includes("--help") || rest.includes("-h"))) {
      io.stdout.write(`${USAGE}\n`);
      return 0;
    }
    if (command === "run") return await runCommand(rest, io);
    if (command === "status") return statusCommand(rest, io);
    if (command === "--help" || command === "-h" || command === "help") {
      io.stdout.write(`${USAGE}\n`);
      return 0;
    }
    throw new UsageError(
      command === undefined ? "a command is required (run or status)" : `unknown command "${command}"`,
    );
  } catch (error) {
    if (
      error instanceof UsageError ||
      (error instanceof TypeError && "code" in error && String(error.code).startsWith("ERR_PARSE_ARGS"))
    ) {
      io.stderr.write(`sota-device: ${message(error)}\n${USAGE}\n`);
      errorResultLine(command, rest, io, message(error));
      return EXIT_CODES.error;
    }
    io.stderr.write(`sota-device: error: ${message(error)}\n`);
    if (verbose && error instanceof Error && error.stack && !(error instanceof LockedError))
      io.stderr.write(`${error.stack}\n`);
    errorResultLine(command, rest, io, message(error));
    return EXIT_CODES.error;
  }
}

/** `run --json` promises a final result line whatever happens: a usage or I/O error before the run has one too. */
function errorResultLine(command: string | undefined, rest: string[], io: CliIo, reason: string): void {
  if (command !== "run" || !rest.includes("--json")) return;
  const result: DeviceResult = {
    status: "error",
    exitCode: EXIT_CODES.error,
    reason,
    runningVersion: "",
    targetVersion: "",
    bytes: 0,
    seconds: 0,
    restarts: 0,
  };
  new JsonReporter(io.stdout, { elapsedMs: () => 0 }).result(result);
}

interface FlashSetup {
  flash: FileFlash;
  layout: ReturnType<typeof planLayout>;
  created: boolean;
}

/** The factory image a new flash file gets: `--factory-image` bytes, else the pattern of (component, version). */
interface FactorySpec {
  component: string;
  version: string;
  /** The `--factory-image` file, if given. */
  imageFile: string | undefined;
}

function factoryBytes(spec: FactorySpec): Uint8Array {
  if (spec.imageFile === undefined) return factoryImage(spec.component, spec.version);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(fs.readFileSync(spec.imageFile));
  } catch (error) {
    throw new Error(`--factory-image ${spec.imageFile}: ${message(error)}`);
  }
  if (bytes.length === 0) throw new Error(`--factory-image ${spec.imageFile} is empty`);
  return bytes;
}

/** The way out named whenever a flash file cannot run. */
const RECREATE_HINT =
  "re-create it with `sota-device run ... --reformat` (erases it; the factory image comes from --version or --factory-image)";

/** Opens an existing flash file read/write; one that holds no bootable image is refused with a way out. */
function openExisting(
  file: string,
  slotSize: number | undefined,
  digests: NodeDigestFactory,
): { flash: FileFlash; layout: ReturnType<typeof planLayout> } {
  const size = fs.statSync(file).size;
  if (size === 0 || size % HOST_FLASH_GEOMETRY.blockLength !== 0)
    throw new Error(
      `${file} holds no bootable image (${size} bytes is no flash partition): ${RECREATE_HINT}`,
    );
  const flash = new FileFlash({ file, size, ...HOST_FLASH_GEOMETRY });
  try {
    let layout: ReturnType<typeof planLayout>;
    try {
      layout = layoutOf(flash.status(), slotSize);
    } catch (error) {
      throw new Error(`${file}: ${message(error)}`);
    }
    const why = unbootableReason(inspectFlash(flash, layout, digests));
    if (why) throw new Error(`${file} holds no bootable image (${why}): ${RECREATE_HINT}`);
    return { flash, layout };
  } catch (error) {
    flash.close();
    throw error;
  }
}

/**
 * Opens the flash file, or creates it (also with `reformat`) with the factory image. Creation is atomic
 * (createFlashFile: temporary file, fsync, rename), so a kill leaves either no file or a whole, bootable one.
 */
function openFlash(
  file: string,
  factory: FactorySpec,
  slotSize: number | undefined,
  reformat: boolean,
  digests: NodeDigestFactory,
): FlashSetup {
  if (fs.existsSync(file) && !reformat) {
    // A temporary left by a killed --reformat: the file it would have replaced is still whole.
    fs.rmSync(creatingName(file), { force: true });
    return { ...openExisting(file, slotSize, digests), created: false };
  }
  const slot = slotSize ?? DEFAULT_SLOT_SIZE;
  const image = { component: factory.component, version: factory.version, bytes: factoryBytes(factory) };
  createFlashFile(file, factoryFlashBytes(slot, image, digests));
  const flash = new FileFlash({ file, size: partitionSizeFor(slot), ...HOST_FLASH_GEOMETRY });
  return { flash, layout: planLayout(flash.status(), { slotLength: slot }), created: true };
}

async function runCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      port: { type: "string" },
      baud: { type: "string" },
      flash: { type: "string" },
      component: { type: "string", multiple: true },
      components: { type: "string" },
      version: { type: "string" },
      battery: { type: "string" },
      "slot-size": { type: "string" },
      "factory-image": { type: "string" },
      reformat: { type: "boolean" },
      once: { type: "boolean" },
      json: { type: "boolean" },
      verbose: { type: "boolean" },
      "allow-downgrade": { type: "boolean" },
      "plan-interval": { type: "string" },
      timeout: { type: "string" },
      "offer-wait": { type: "string" },
      "plan-wait": { type: "string" },
      "product-key": { type: "string" },
      "product-secret": { type: "string" },
      "nb-iot": { type: "boolean" },
      "trust-key": { type: "string", multiple: true },
      "revoked-key": { type: "string", multiple: true },
      "require-signed": { type: "boolean" },
      timeline: { type: "string" },
    },
  });
  const port = required(values.port, "port");
  const trustKeys = values["trust-key"] ?? [];
  if (values["require-signed"] && trustKeys.length === 0)
    throw new UsageError(
      "--require-signed needs at least one --trust-key (the keys whose packages are accepted)",
    );
  if ((values["revoked-key"] ?? []).length > 0 && trustKeys.length === 0)
    throw new UsageError("--revoked-key goes with --trust-key");
  if ((values["product-key"] === undefined) !== (values["product-secret"] === undefined)) {
    throw new UsageError("--product-key and --product-secret go together");
  }
  const flashFile = required(values.flash, "flash");
  // One plain id is the image; `id=data...` / `id=mod...` and --components add the set's other components.
  const componentArgs = values.component ?? [];
  const plainIds = componentArgs.filter((c) => !c.includes("="));
  if (plainIds.length > 1)
    throw new UsageError(
      `--component: one image id (${plainIds.join(", ")} given); others are id=data or id=mod`,
    );
  const component = required(plainIds[0], "component");
  let extraComponents: DeviceComponent[];
  try {
    extraComponents = [
      ...componentArgs.filter((c) => c.includes("=")).map(parseDeviceComponent),
      ...(values.components !== undefined ? readComponentsFile(values.components) : []),
    ];
  } catch (error) {
    throw new UsageError(message(error));
  }
  if (new Set([component, ...extraComponents.map((c) => c.id)]).size !== extraComponents.length + 1)
    throw new UsageError("--component: every component id must be different");
  const baud = integerOption(values.baud, "baud", 300, 4_000_000) ?? 115200;
  const battery = integerOption(values.battery, "battery", 0, 100) ?? 100;
  const slotSize = integerOption(values["slot-size"], "slot-size", 4096, 64 * 1024 * 1024);
  const planInterval = secondsOption(values["plan-interval"], "plan-interval", 1, 86_400);
  const timeout = secondsOption(values.timeout, "timeout", 0.001, 86_400);
  if (values["offer-wait"] !== undefined && values["plan-wait"] !== undefined)
    throw new UsageError("--offer-wait replaces --plan-wait: give one of them");
  const offerWait = secondsOption(values["offer-wait"], "offer-wait", 0.001, 600);
  // Deprecated: milliseconds, the only time option that was not in seconds.
  const planWaitMs = integerOption(values["plan-wait"], "plan-wait", 1, 600_000);
  const planWait = offerWait !== undefined ? Math.round(offerWait * 1000) : planWaitMs;
  const once = values.once ?? false;
  const verbose = values.verbose ?? false;
  // Everything that can be checked is checked before the disk is touched (no lock file, no half-made flash file).
  const flashExists = fs.existsSync(flashFile);
  const factoryFile = values["factory-image"];
  if (factoryFile !== undefined && !fs.existsSync(factoryFile))
    throw new UsageError(`--factory-image ${factoryFile}: no such file`);
  const factorySize = factoryFile !== undefined ? fs.statSync(factoryFile).size : FACTORY_IMAGE_SIZE;
  if ((!flashExists || values.reformat) && (slotSize ?? DEFAULT_SLOT_SIZE) < factorySize)
    throw new UsageError(
      `--slot-size ${slotSize ?? DEFAULT_SLOT_SIZE} is smaller than the factory image (${factorySize} bytes) a new flash file starts with`,
    );
  if (!fs.existsSync(path.dirname(path.resolve(flashFile))))
    throw new UsageError(`--flash ${flashFile}: the folder ${path.dirname(flashFile)} does not exist`);
  if (values.timeline !== undefined && !fs.existsSync(path.dirname(path.resolve(values.timeline))))
    throw new UsageError(
      `--timeline ${values.timeline}: the folder ${path.dirname(values.timeline)} does not exist`,
    );

  // Unref'd timers: once the port is closed, nothing the engine left pending keeps the process alive.
  const clock = new RealClock({ unref: true });
  const startedAt = clock.now();
  const elapsedMs = (): number => clock.now() - startedAt;
  const reporter: Reporter = values.json
    ? new JsonReporter(io.stdout, { elapsedMs, verbose }, io.stderr)
    : new TextReporter(io.stdout, { elapsedMs, verbose });

  if (values["plan-wait"] !== undefined)
    reporter.note(
      `--plan-wait <ms> is deprecated: use --offer-wait ${planWaitMs! / 1000} (every time option is in seconds)`,
    );
  const digests = new NodeDigestFactory();
  // Checked before the flash file is touched: a bad key file is a usage error, not a half-made device.
  const trust =
    trustKeys.length > 0 ? trustListFrom(digests, trustKeys, values["revoked-key"] ?? []) : undefined;
  const factory: FactorySpec = {
    component,
    version: values.version ?? DEFAULT_FACTORY_VERSION,
    imageFile: values["factory-image"],
  };
  // One flash file is one device: a second `run` on it would write the same slot (the lock says who holds it).
  const lock = lockExclusive(flashFile, `sota-device run --port ${port}`);
  let serial: HostSerialPort | undefined;
  let device: HostDevice | undefined;
  let ioFailure = "";
  let opened: FlashSetup | undefined;
  try {
    // An existing file is checked first (a file with no bootable image is refused before anything else);
    // a new one is made only after the port opened, so a mistyped port leaves no flash file behind.
    if (fs.existsSync(flashFile) && !values.reformat)
      opened = openFlash(flashFile, factory, slotSize, false, digests);
    serial = await HostSerialPort.open({
      path: port,
      baudRate: baud,
      onError: (error) => {
        ioFailure = `serial port ${port}: ${error.message}`;
        device?.stop();
      },
    }).catch((error: unknown) => {
      // serialport says "Error: <reason>, cannot open <path>": keep the reason only.
      const reason = message(error)
        .replace(/^Error: /, "")
        .replace(`, cannot open ${port}`, "");
      throw new Error(`cannot open ${port}: ${reason}`);
    });
    opened ??= openFlash(flashFile, factory, slotSize, values.reformat ?? false, digests);
  } catch (error) {
    opened?.flash.close();
    serial?.close();
    lock.release();
    throw error;
  }
  const { flash, layout, created } = opened;
  const timers: Array<ReturnType<typeof setTimeout>> = [];
  let removeInterrupt: (() => void) | undefined;
  let areas: OpenedAreas | undefined;
  try {
    // Data and mod components live in `<flash>.areas` (each area and its backup), created erased when missing.
    if (extraComponents.length > 0) {
      areas = openAreas(`${flashFile}.areas`, extraComponents);
      reporter.log(
        `components: ${component} (image), ${extraComponents.map((c) => `${c.id} (${c.kind}, ${c.size} bytes)`).join(", ")} in ${flashFile}.areas`,
      );
    }
    if (created)
      reporter.note(
        `created ${flashFile}: ${layout.slots[0].length}-byte slots, factory image ${component} ${factory.version}${factory.imageFile !== undefined ? ` from ${factory.imageFile}` : ""}`,
      );
    else {
      const running = inspectFlash(flash, layout, digests).running;
      // One flash file is one device with one component: another id is a mix-up, not an update.
      if (running.component !== "" && running.component !== component) {
        throw new Error(`${flashFile} runs component ${running.component}, not ${component}`);
      }
      if (values.version !== undefined && values.version !== running.version) {
        reporter.note(`--version ${values.version} ignored: ${flashFile} exists and runs ${running.version}`);
      }
      if (values["factory-image"] !== undefined)
        reporter.note(
          `--factory-image ignored: ${flashFile} exists (--reformat re-creates it with that image)`,
        );
    }

    if (trust) reporter.note(`signed packages only: ${trust.entries.length} key(s) in the trust list`);
    // --timeline: the engine's phases, reads, erases and boots, drawn when the run ends (tools/timeline).
    const timeline = values.timeline !== undefined ? new TimelineRecorder(() => clock.now()) : undefined;
    device = new HostDevice({
      serial,
      packages: trust
        ? new PackageVerifier({
            digests,
            signatures: new NodeSignatureVerifier(),
            trust,
            maxImageSize: layout.slots[0].length,
          })
        : undefined,
      clock,
      flash: timeline ? observeFlash(flash, () => clock.now(), timeline) : flash,
      layout,
      digests,
      kv: new JsonFileKeyValueStore(`${flashFile}.state.json`),
      component,
      areas: areas?.areas,
      baud,
      batteryPercent: battery,
      deviceId: `host:${flashFile}`,
      once,
      engine: {
        allowDowngrade: values["allow-downgrade"] ?? false,
        // Differential plans for the running version are applied as they stream in (docs/delta-packages.md).
        acceptDifferential: true,
        productKey: values["product-key"],
        productSecret: values["product-secret"],
        nbIot: values["nb-iot"] ?? false,
        ...(areas ? { components: areas.configs } : {}),
        ...(planInterval !== undefined ? { planIntervalMs: planInterval * 1000 } : {}),
        ...(planWait !== undefined ? { planWaitMs: planWait } : {}),
      },
      onProgress: (p) => {
        timeline?.progress(p);
        reporter.progress(p);
      },
      // While serving, each plan's outcome is shown as it happens; in --once mode the final result says it.
      onOutcome: (result) => {
        if (!once) reporter.result(result);
      },
      onBoot: (report, restart) => {
        timeline?.boot(report, restart);
        const r = report.running;
        const text = `boot: slot ${r.slot} ${r.component} ${r.version} (${report.trial ? "trial" : r.state})${report.rollbackReason ? `, rolled back: ${report.rollbackReason}` : ""}`;
        // A restart or a rollback is news; the first boot only interests --verbose.
        if (restart > 0 || report.rollbackReason) reporter.note(text);
        else reporter.log(text);
      },
      onLog: (line) => {
        timeline?.log(line);
        reporter.log(line);
      },
    });
    const running = device;
    let timedOut = false;
    if (timeout !== undefined) {
      timers.push(
        setTimeout(() => {
          timedOut = true;
          running.stop();
        }, timeout * 1000),
      );
    }
    removeInterrupt = io.onInterrupt?.(() => running.stop());

    let result: DeviceResult = await device.run();
    if (ioFailure) result = { ...result, status: "error", exitCode: EXIT_CODES.error, reason: ioFailure };
    else if (timedOut && once && result.status === "stopped")
      result = {
        ...result,
        status: "error",
        exitCode: EXIT_CODES.error,
        reason: `no outcome within ${timeout} s`,
      };
    else if (once && result.status === "stopped")
      result = { ...result, exitCode: EXIT_INTERRUPTED, reason: "interrupted before the plan ended" };
    // Before the result: with --json the result stays the last line.
    if (timeline && values.timeline) {
      timeline.result(result.status, result.reason);
      writeTimeline(values.timeline, timeline.events);
      reporter.note(`timeline: ${values.timeline}`);
    }
    if (once || result.status === "error") reporter.result(result);
    return result.exitCode;
  } finally {
    for (const timer of timers) clearTimeout(timer);
    removeInterrupt?.();
    serial?.close();
    flash.close();
    areas?.flash.close();
    lock.release();
  }
}

/** The trust list from --trust-key files and --revoked-key files or key hashes (64 hex digits). */
function trustListFrom(digests: NodeDigestFactory, trusted: string[], revoked: string[]): TrustList {
  const read = (file: string): string => {
    try {
      return fs.readFileSync(file, "utf8");
    } catch (error) {
      throw new UsageError(`cannot read key file ${file}: ${message(error)}`);
    }
  };
  try {
    return TrustList.fromConfig(
      digests,
      trusted.map(read),
      revoked.map((item) => (/^[0-9a-fA-F]{64}$/.test(item) ? item : read(item))),
    );
  } catch (error) {
    throw new UsageError(`trust list: ${message(error)}`);
  }
}

function statusCommand(args: string[], io: CliIo): number {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      flash: { type: "string" },
      json: { type: "boolean" },
      verbose: { type: "boolean" },
      component: { type: "string", multiple: true },
      components: { type: "string" },
    },
  });
  const file = required(values.flash, "flash");
  // The same component options as `run` (a plain id, the image, is allowed and ignored): the areas they lay out.
  let extras: DeviceComponent[];
  try {
    extras = [
      ...(values.component ?? []).filter((c) => c.includes("=")).map(parseDeviceComponent),
      ...(values.components !== undefined ? readComponentsFile(values.components) : []),
    ];
  } catch (error) {
    throw new UsageError(message(error));
  }
  if (!fs.existsSync(file)) throw new Error(`${file}: no such flash file (sota-device run creates it)`);
  // Shared: any number of readers, none while a `run` writes. Read-only: a RAM copy of the file, never opened for writing.
  const lock = lockShared(file, "sota-device status");
  let flash: SimNorFlash;
  try {
    const size = fs.statSync(file).size;
    if (size === 0 || size % HOST_FLASH_GEOMETRY.blockLength !== 0)
      throw new Error(
        `${file} holds no bootable image (${size} bytes is no flash partition): ${RECREATE_HINT}`,
      );
    const bytes = new Uint8Array(fs.readFileSync(file));
    flash = new SimNorFlash({ ...HOST_FLASH_GEOMETRY, size: bytes.length, initial: bytes });
  } catch (error) {
    lock.release();
    throw error instanceof Error && error.message.startsWith(file)
      ? error
      : new Error(`${file}: ${message(error)}`);
  }
  let layout: FlashLayout;
  try {
    const size = flash.status().size;
    if (size === 0 || size % HOST_FLASH_GEOMETRY.blockLength !== 0)
      throw new Error(
        `${file} holds no bootable image (${size} bytes is no flash partition): ${RECREATE_HINT}`,
      );
    layout = layoutOf(flash.status());
    const why = unbootableReason(inspectFlash(flash, layout, new NodeDigestFactory()));
    if (why) throw new Error(`${file} holds no bootable image (${why}): ${RECREATE_HINT}`);
  } catch (error) {
    lock.release();
    throw error;
  }
  try {
    const report = inspectFlash(flash, layout, new NodeDigestFactory());
    const signed = signedStatus(flash, layout, report, `${file}.state.json`);
    const components = extras.length > 0 ? readComponentsStatus(file, extras) : undefined;
    io.stdout.write(
      values.json
        ? `${JSON.stringify({ flash: file, ...report, signed, ...(components ? { components } : {}) })}\n`
        : formatStatus(file, report) +
            formatSigned(signed) +
            (components ? formatComponentsStatus(components, `${file}.areas`) : ""),
    );
    return 0;
  } finally {
    lock.release();
  }
}

/** The components' versions, areas, backups and the set record, read from the state and areas files (no write). */
function readComponentsStatus(file: string, extras: DeviceComponent[]): ReturnType<typeof componentsStatus> {
  let state: Record<string, string> = {};
  try {
    state = JSON.parse(fs.readFileSync(`${file}.state.json`, "utf8")) as Record<string, string>;
  } catch {
    // No state file yet: nothing stored, the configured versions.
  }
  const areas = `${file}.areas`;
  const bytes = fs.existsSync(areas) ? new Uint8Array(fs.readFileSync(areas)) : undefined;
  return componentsStatus(extras, state, bytes, (b) => createHash("sha256").update(b).digest("hex"));
}

interface SignedStatus {
  /** The stored security counter: packages below it are refused. */
  securityCounter: number;
  /** The running image's MCUboot header version, version string and key hash, when it is a signed package. */
  running: { version: string; versionString: string; keyHash: string } | undefined;
}

function signedStatus(
  flash: FlashPartition,
  layout: FlashLayout,
  report: FlashStatusReport,
  stateFile: string,
): SignedStatus {
  let securityCounter = 0;
  try {
    const state = JSON.parse(fs.readFileSync(stateFile, "utf8")) as Record<string, string>;
    securityCounter = Number(state["sota.seccnt"] ?? 0) || 0;
  } catch {
    // No state file yet: nothing stored, counter 0.
  }
  const size = report.slots.find((slot) => slot.slot === report.running.slot)?.size ?? 0;
  if (size < 32) return { securityCounter, running: undefined };
  const bytes = new Uint8Array(size);
  flash.read(bytes, layout.slots[report.running.slot]!.offset);
  return { securityCounter, running: signedImageInfo(bytes) };
}

function formatSigned(signed: SignedStatus): string {
  const image = signed.running
    ? `signed image ${signed.running.version}${signed.running.versionString ? ` ("${signed.running.versionString}")` : ""}, key hash ${signed.running.keyHash || "none"}`
    : "running image is not a signed package";
  return `${image}; stored security counter ${signed.securityCounter}\n`;
}

export function formatStatus(file: string, report: FlashStatusReport): string {
  const g = report.geometry;
  const lines = [
    `${file}: ${g.size} bytes, ${g.blockLength}-byte blocks, write unit ${g.writeAlign}`,
    `running: slot ${report.running.slot}, ${report.running.component || "?"} ${report.running.version || "?"}${report.trial ? " (trial: not confirmed yet)" : ""}`,
  ];
  if (report.rollbackReason) lines.push(`rollback: ${report.rollbackReason}`);
  for (const s of report.slots) {
    lines.push(
      `${s.running ? "*" : " "} slot ${s.slot}  ${s.state.padEnd(12)} ${`${s.component} ${s.version}`.padEnd(24)} ${String(s.size).padStart(8)} bytes` +
        (s.flashSha256
          ? `  sha256 ${s.flashSha256}${s.intact ? "" : "  (DIFFERS from the record " + s.sha256 + ")"}`
          : ""),
    );
  }
  return `${lines.join("\n")}\n`;
}

/** The process entry (tools/bin/sota-device.mjs). */
export async function cliMain(): Promise<void> {
  // A reader that goes away (`| head`) must not kill a device in the middle of a flash write: output stops, the run goes on.
  for (const stream of [process.stdout, process.stderr])
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code !== "EPIPE" && error.code !== "ERR_STREAM_DESTROYED") throw error;
    });
  const io: CliIo = {
    stdout: process.stdout,
    stderr: process.stderr,
    onInterrupt: (handler) => {
      let count = 0;
      const listener = (): void => {
        // A second Ctrl-C while the device winds down ends the process at once.
        if (++count > 1) process.exit(130);
        handler();
      };
      process.on("SIGINT", listener);
      process.on("SIGTERM", listener);
      return () => {
        process.off("SIGINT", listener);
        process.off("SIGTERM", listener);
      };
    },
  };
  const code = await main(process.argv.slice(2), io);
  process.exitCode = code;
}
