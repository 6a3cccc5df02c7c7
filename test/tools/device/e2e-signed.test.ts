// Signed packages end to end over a real pty pair: packages made by `sota-pack`, served by `sota-module`, installed
// by `sota-device run --trust-key`; a package signed with another key is refused with the old image kept.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { patternImage } from "../../../tools/device/flash-setup.js";
import { runDevice, startModule, type ModuleRun } from "./pty-harness.js";

const PACK_BIN = fileURLToPath(new URL("../../../tools/bin/sota-pack.mjs", import.meta.url));

function sotaPack(dir: string, ...args: string[]): void {
  const run = spawnSync(process.execPath, [PACK_BIN, ...args], { cwd: dir, encoding: "utf8" });
  assert.equal(run.status, 0, run.stderr);
}

function plan(target: string): Record<string, unknown> {
  return {
    product: "pSig",
    productSecret: "sigSecret",
    components: [
      {
        id: "mcu",
        type: "full",
        targetVersion: target,
        package: "image.bin",
        minBattery: 20,
        minSignal: -110,
      },
    ],
    settings: {
      productKey: "pSig",
      productSecret: "sigSecret",
      bootDelayMs: 10,
      connectStepMs: 10,
      planDelayMs: 20,
      downloadInfoDelayMs: 20,
      downloadBytesPerSecond: 10_000_000,
      freeSpace: 8192,
    },
  };
}

describe("sota-device end to end with signed packages (sota-pack, --trust-key)", function () {
  this.timeout(60_000);
  let dir: string;
  let module: ModuleRun | undefined;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sota-signed-"));
    fs.writeFileSync(path.join(dir, "app.bin"), patternImage("mcu", "1.1.0", 12_000));
    sotaPack(dir, "keygen", "--type", "ecdsa-p256", "-o", "key.pem");
    sotaPack(dir, "getpub", "--key", "key.pem", "-o", "pub.pem");
    sotaPack(dir, "keygen", "--type", "ecdsa-p256", "-o", "other.pem");
  });

  afterEach(async () => {
    await module?.stop();
    module = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function serveAndRun(key: string): Promise<Awaited<ReturnType<typeof runDevice>>> {
    const args = [
      "sign",
      "--key",
      key,
      "--version",
      "1.1.0",
      "--security-counter",
      "2",
      "--header-size",
      "0x200",
    ];
    sotaPack(dir, ...args, "--pad-header", "--align", "4", "app.bin", "signed.bin");
    module = await startModule(dir, plan("1.1.0"), fs.readFileSync(path.join(dir, "signed.bin")));
    const flash = path.join(dir, "flash.bin");
    return runDevice([
      "--port",
      module.devicePath,
      "--flash",
      flash,
      "--component",
      "mcu",
      "--version",
      "1.0.0",
      "--slot-size",
      "65536",
      "--trust-key",
      path.join(dir, "pub.pem"),
    ]);
  }

  it("installs a package signed with the trusted key: exit 0, 1.1.0 running", async () => {
    const run = await serveAndRun("key.pem");
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.equal(run.result.status, "updated");
    assert.equal(run.result.runningVersion, "1.1.0");
    await module!.waitForMonitor((events) => events.includes("success"));
  });

  it("refuses a package signed with another key: exit 12, unknown-key, 1.0.0 kept, the module ends the OTA", async () => {
    const run = await serveAndRun("other.pem");
    assert.equal(run.code, 12, run.stdout + run.stderr);
    assert.equal(run.result.runningVersion, "1.0.0");
    assert.match(String(run.result.reason), /^package refused: unknown-key \(/);
    await module!.waitForMonitor((events) => events.includes("failure"));
  });
});
