// sota-device's command line (Node-only, in-process main): usage errors, I/O errors in one line, flash creation, status.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { NodeDigestFactory } from "../../../hal/host/node-digest.js";
import { FileFlash } from "../../../hal/host/file-flash.js";
import { formatFactory } from "../../../src/boot/generic-boot.js";
import { USAGE, main } from "../../../tools/device/cli.js";
import {
  HOST_FLASH_GEOMETRY,
  factoryImage,
  layoutOf,
  partitionSizeFor,
} from "../../../tools/device/flash-setup.js";

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(args, {
    stdout: { write: (t) => void (out += t) },
    stderr: { write: (t) => void (err += t) },
  });
  return { code, out, err };
}

/** A 16 KiB-slot flash file holding the factory image of component "mcu" 1.0.0. */
function makeFactoryFlash(file: string): void {
  const flash = new FileFlash({ file, size: partitionSizeFor(16384), ...HOST_FLASH_GEOMETRY, fsync: false });
  formatFactory(flash, layoutOf(flash.status()), new NodeDigestFactory(), {
    component: "mcu",
    version: "1.0.0",
    bytes: factoryImage("mcu", "1.0.0"),
  });
  flash.close();
}

describe("tools/device cli", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sota-cli-"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("usage errors: exit 1, one line saying what is wrong, then the usage", async () => {
    const cases: Array<[string[], string]> = [
      [[], "sota-device: a command is required (run or status)"],
      [["flash"], 'sota-device: unknown command "flash"'],
      [["run", "--flash", "f", "--component", "c"], "sota-device: --port is required"],
      [["run", "--port", "p", "--component", "c"], "sota-device: --flash is required"],
      [["run", "--port", "p", "--flash", "f"], "sota-device: --component is required"],
      [
        ["run", "--port", "p", "--flash", "f", "--component", "c", "--battery", "120"],
        "sota-device: --battery must be between 0 and 100, got 120",
      ],
      [
        ["run", "--port", "p", "--flash", "f", "--component", "c", "--baud", "fast"],
        'sota-device: --baud expects a whole number, got "fast"',
      ],
      [
        ["run", "--port", "p", "--flash", "f", "--component", "c", "--product-key", "pk"],
        "sota-device: --product-key and --product-secret go together",
      ],
      [["status"], "sota-device: --flash is required"],
    ];
    for (const [args, first] of cases) {
      const run = await cli(...args);
      assert.equal(run.code, 1, args.join(" "));
      assert.equal(run.out, "");
      assert.equal(run.err, `${first}\n${USAGE}\n`, args.join(" "));
    }
    const unknown = await cli("run", "--port", "p", "--flash", "f", "--component", "c", "--bogus");
    assert.equal(unknown.code, 1);
    assert.match(unknown.err.split("\n")[0]!, /^sota-device: Unknown option '--bogus'/);
  });

  it("an unopenable port: exit 1 with one line, no stack; the new flash file holds the factory image", async () => {
    const flash = path.join(dir, "dev.flash");
    const run = await cli(
      "run",
      "--port",
      path.join(dir, "no-such-tty"),
      "--flash",
      flash,
      "--component",
      "mcu",
      "--version",
      "3.2.1",
      "--slot-size",
      "65536",
    );
    assert.equal(run.code, 1);
    assert.match(run.err, /^sota-device: error: cannot open .*no-such-tty: .+\n$/);
    assert.doesNotMatch(run.err, /\n\s+at /);
    assert.match(run.out, /^created .*dev\.flash: 65536-byte slots, factory image mcu 3\.2\.1\n/);
    assert.equal(fs.statSync(flash).size, partitionSizeFor(65536));

    const status = await cli("status", "--flash", flash, "--json");
    assert.equal(status.code, 0, status.err);
    const json = JSON.parse(status.out) as {
      running: { slot: number; component: string; version: string; sha256: string };
      trial: boolean;
    };
    assert.deepEqual(json.running, {
      slot: 0,
      component: "mcu",
      version: "3.2.1",
      sha256: createHash("sha256").update(factoryImage("mcu", "3.2.1")).digest("hex"),
    });
    assert.equal(json.trial, false);
  });

  it("status (text): the slots with state, version, size and the SHA-256 of their bytes, the running one starred", async () => {
    const file = path.join(dir, "dev.flash");
    makeFactoryFlash(file);
    const sha = createHash("sha256").update(factoryImage("mcu", "1.0.0")).digest("hex");
    const run = await cli("status", "--flash", file);
    assert.equal(run.code, 0, run.err);
    assert.equal(
      run.out,
      `${file}: ${partitionSizeFor(16384)} bytes, 4096-byte blocks, write unit 4\n` +
        "running: slot 0, mcu 1.0.0\n" +
        `* slot 0  confirmed    mcu 1.0.0                    8192 bytes  sha256 ${sha}\n` +
        "  slot 1  empty                                        0 bytes\n" +
        "running image is not a signed package; stored security counter 0\n",
    );
  });

  it("refuses a flash file of another component, and a missing file for status: exit 1, one line", async () => {
    const file = path.join(dir, "dev.flash");
    makeFactoryFlash(file);
    const other = await cli("run", "--port", path.join(dir, "tty"), "--flash", file, "--component", "app");
    assert.equal(other.code, 1);
    assert.equal(other.err, `sota-device: error: ${file} runs component mcu, not app\n`);
    const missing = await cli("status", "--flash", path.join(dir, "absent.flash"));
    assert.equal(missing.code, 1);
    assert.equal(
      missing.err,
      `sota-device: error: ${path.join(dir, "absent.flash")}: no such flash file (sota-device run creates it)\n`,
    );
  });
});
