// End to end over a real pty pair: `sota-device run --once --json` as a child process against the virtual module,
// checking the exit code, the final JSON status and the SHA-256 of the running image from `sota-device status --json`.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { factoryImage, patternImage } from "../../../tools/device/flash-setup.js";
import { main } from "../../../tools/device/cli.js";
import { E2E_BAUD, runDevice, startModule, waitFor, type ModuleRun } from "./pty-harness.js";
import { requireSocat } from "../../lib/socat.js";

const COMPONENT = "mcu";
const IMAGE_SIZE = 20_000;

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** A plan for one component with every module timer short, so a whole update takes about a second. */
function planFor(
  target: string,
  extra: { minBattery?: number; faults?: unknown[] } = {},
): Record<string, unknown> {
  return {
    product: "pE2E",
    productSecret: "e2eSecret",
    components: [
      {
        id: COMPONENT,
        type: "full",
        targetVersion: target,
        package: "image.bin",
        minBattery: extra.minBattery ?? 20,
        minSignal: -110,
      },
    ],
    settings: {
      productKey: "pE2E",
      productSecret: "e2eSecret",
      bootDelayMs: 10,
      connectStepMs: 10,
      planDelayMs: 20,
      downloadInfoDelayMs: 20,
      downloadBytesPerSecond: 10_000_000,
      freeSpace: 8192,
      maxReadLength: 1024,
    },
    faults: extra.faults ?? [],
  };
}

interface StatusJson {
  running: { slot: number; version: string; sha256: string };
  trial: boolean;
  slots: Array<{ slot: number; state: string; version: string; flashSha256: string; intact: boolean }>;
}

/** `sota-device status --flash <file> --json`, run in-process (the CLI's main) to save a process start. */
async function status(flash: string): Promise<StatusJson> {
  let out = "";
  let err = "";
  const code = await main(["status", "--flash", flash, "--json"], {
    stdout: { write: (t) => void (out += t) },
    stderr: { write: (t) => void (err += t) },
  });
  assert.equal(code, 0, `status failed: ${err}`);
  return JSON.parse(out) as StatusJson;
}

/** The arguments every run shares: the module's pty, the flash file, and the factory version. */
function deviceArgs(port: string, flash: string): string[] {
  return ["--port", port, "--flash", flash, "--component", COMPONENT, "--version", "1.0.0"];
}

describe("sota-device end to end over a pty pair (virtual module)", function () {
  this.timeout(60_000);
  let dir: string;
  let module: ModuleRun | undefined;

  before(() => requireSocat());

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sota-e2e-"));
  });

  afterEach(async () => {
    await module?.stop();
    module = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("updates 1.0.0 -> 1.1.0: exit 0, status updated, the running image is the package", async () => {
    const image = patternImage(COMPONENT, "1.1.0", IMAGE_SIZE);
    module = await startModule(dir, planFor("1.1.0"), image);
    const flash = path.join(dir, "flash.bin");
    const run = await runDevice([...deviceArgs(module.devicePath, flash), "--slot-size", "65536"]);

    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.result.status, "updated");
    assert.equal(run.result.exitCode, 0);
    assert.equal(run.result.runningVersion, "1.1.0");
    assert.equal(run.result.bytes, IMAGE_SIZE);
    // The progress lines are JSON too, and reading progress is throttled but reaches the end.
    assert.ok(run.progress.some((p) => p.state === "reading" && p.bytes === IMAGE_SIZE));
    assert.deepEqual(
      run.progress
        .filter((p) =>
          ["offered", "confirmed", "verifying", "activating", "trial", "updated"].includes(p.state as string),
        )
        .map((p) => p.state),
      ["offered", "confirmed", "verifying", "activating", "trial", "updated"],
    );
    const after = await status(flash);
    assert.equal(after.running.version, "1.1.0");
    assert.equal(after.trial, false);
    assert.equal(after.running.sha256, sha256(image));
    assert.equal(after.slots.find((s) => s.slot === after.running.slot)?.state, "confirmed");
    // The module saw the version report and ended its OTA with 10705.
    await module.waitForMonitor((events) => events.includes("success"));
    assert.deepEqual(module.events(), [
      "offered",
      "confirmed",
      "downloading",
      "piece",
      "piece",
      "piece",
      "updating",
      "success",
    ]);
  });

  it("refuses a plan when the battery is below the plan's minimum: exit 11, the factory image keeps running", async () => {
    module = await startModule(
      dir,
      planFor("1.1.0", { minBattery: 50 }),
      patternImage(COMPONENT, "1.1.0", IMAGE_SIZE),
    );
    const flash = path.join(dir, "flash.bin");
    const run = await runDevice([...deviceArgs(module.devicePath, flash), "--battery", "10"]);

    assert.equal(run.code, 11, run.stderr);
    assert.equal(run.result.status, "refused");
    assert.equal(run.result.reason, "battery 10% below the plan's minimum 50%");
    assert.equal(run.result.runningVersion, "1.0.0");
    const after = await status(flash);
    assert.equal(after.running.version, "1.0.0");
    assert.equal(after.running.sha256, sha256(factoryImage(COMPONENT, "1.0.0")));
    await module.waitForMonitor((events) => events.includes("refused"));
  });

  it("refuses a downgrade: exit 11", async () => {
    module = await startModule(dir, planFor("0.9.0"), patternImage(COMPONENT, "0.9.0", IMAGE_SIZE));
    const flash = path.join(dir, "flash.bin");
    const run = await runDevice([...deviceArgs(module.devicePath, flash)]);
    assert.equal(run.code, 11, run.stderr);
    assert.equal(run.result.status, "refused");
    assert.match(String(run.result.reason), /downgrade to 0\.9\.0 from 1\.0\.0/);
    assert.equal((await status(flash)).running.sha256, sha256(factoryImage(COMPONENT, "1.0.0")));
  });

  it("rejects an image whose bytes do not match the announced digests: exit 12, the old image keeps running", async () => {
    // The payload of the 3rd read is corrupted on the module side: the package digests then describe other data.
    const image = patternImage(COMPONENT, "1.1.0", IMAGE_SIZE);
    module = await startModule(dir, planFor("1.1.0", { faults: ["corrupt:read=3,at=100,len=4"] }), image);
    const flash = path.join(dir, "flash.bin");
    const run = await runDevice([...deviceArgs(module.devicePath, flash), "--slot-size", "65536"]);

    assert.equal(run.code, 12, run.stderr);
    assert.equal(run.result.status, "failed");
    assert.match(String(run.result.reason), /image rejected: md5 mismatch; keeping 1\.0\.0/);
    assert.equal(run.result.runningVersion, "1.0.0");
    const after = await status(flash);
    assert.equal(after.running.version, "1.0.0");
    assert.equal(after.running.sha256, sha256(factoryImage(COMPONENT, "1.0.0")));
    assert.notEqual(after.running.sha256, sha256(image));
    // The device reported the old version, so the module ends the OTA as failed (10706).
    await module.waitForMonitor((events) => events.includes("failure"));
  });

  it("case 5: a second run on the updated flash is already current: exit 0 (the platform offers nothing at the target)", async () => {
    const image = patternImage(COMPONENT, "1.1.0", IMAGE_SIZE);
    module = await startModule(dir, planFor("1.1.0"), image);
    const flash = path.join(dir, "flash.bin");
    const first = await runDevice([
      "--port",
      module.devicePath,
      "--flash",
      flash,
      "--component",
      COMPONENT,
      "--slot-size",
      "65536",
    ]);
    assert.equal(first.code, 0, first.stderr);
    await module.waitForMonitor((events) => events.includes("success"));
    const second = await runDevice([
      "--port",
      module.devicePath,
      "--flash",
      flash,
      "--component",
      COMPONENT,
      "--offer-wait",
      "0.5",
    ]);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.result.status, "current");
    assert.equal(
      second.result.reason,
      "no plan offered within 0.5 s; 1.1.0 is the target of the last plan installed here, and the platform offers nothing to a device at its plan's target",
    );
    assert.equal(second.result.runningVersion, "1.1.0");
    assert.equal((await status(flash)).running.sha256, sha256(image));
  });
});

describe("sota-device end to end: the first hour's mistakes (issue cases 1 and 3)", function () {
  this.timeout(60_000);
  let dir: string;
  let module: ModuleRun | undefined;

  before(() => requireSocat());
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sota-e2e-"));
  });
  afterEach(async () => {
    await module?.stop();
    module = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("case 1: a second device on the same flash file is refused (exit 1, naming the first); the first updates", async () => {
    const image = patternImage(COMPONENT, "1.1.0", IMAGE_SIZE);
    module = await startModule(dir, planFor("1.1.0"), image);
    const flash = path.join(dir, "flash.bin");
    const first = runDevice([...deviceArgs(module.devicePath, flash), "--slot-size", "65536"]);
    await waitFor(() => fs.existsSync(`${flash}.lock`), 15_000, "the first device's lock");
    const owner = JSON.parse(fs.readFileSync(`${flash}.lock`, "utf8")) as { pid: number };
    // The second device runs in this process (its own pid), at once: a process start under load could take longer
    // than the first device's whole update, which then no longer holds the file.
    let out = "";
    let err = "";
    const code = await main(
      ["run", "--baud", String(E2E_BAUD), ...deviceArgs(module.devicePath, flash), "--once", "--json"],
      { stdout: { write: (t) => void (out += t) }, stderr: { write: (t) => void (err += t) } },
    );
    assert.equal(code, 1, err);
    const lines = out.split("\n").filter((line) => line.trim() !== "");
    const second = { result: JSON.parse(lines[lines.length - 1]!) as Record<string, unknown> };
    assert.equal(second.result["event"], "result");
    assert.equal(second.result["status"], "error");
    assert.match(
      String(second.result["reason"]),
      new RegExp(
        `^${flash.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} is in use by sota-device run --port \\S+ \\(pid ${owner.pid}, since `,
      ),
    );
    const run = await first;
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.result.runningVersion, "1.1.0");
    assert.equal((await status(flash)).running.sha256, sha256(image));
    assert.equal(fs.existsSync(`${flash}.lock`), false);
  });

  it("case 3: a component id the plan does not have: exit 10 saying what was reported and what to check; the module says why", async () => {
    module = await startModule(dir, planFor("1.1.0"), patternImage(COMPONENT, "1.1.0", IMAGE_SIZE));
    const flash = path.join(dir, "flash.bin");
    const run = await runDevice([
      "--port",
      module.devicePath,
      "--flash",
      flash,
      "--component",
      "MCU",
      "--offer-wait",
      "0.5",
    ]);
    assert.equal(run.code, 10, run.stderr);
    assert.equal(run.result.status, "no-plan");
    assert.match(
      String(run.result.reason),
      /^no plan offered within 0\.5 s: the device reported component "MCU" version "1\.0\.0" \(AT\+QIOTMCUVER="MCU","1\.0\.0"\) and asked for a plan \(AT\+QIOTOTAREQ=1\)\. Check in the plan: its component id is exactly "MCU" \(case counts\)/,
    );
    await module.waitForMonitor((events) => events.includes("not-offered"));
    assert.match(
      module.output(),
      /no plan offered \(request\) for mcu → 1\.1\.0: component unknown: the plan's component is "mcu", the device reported "MCU" 1\.0\.0/,
    );
  });
});
