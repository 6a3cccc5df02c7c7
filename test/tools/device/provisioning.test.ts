// Atomic provisioning of the host device's flash file (Node-only): a kill while it is created leaves no file (the
// next run completes it), a file without a bootable image is refused with a way out, and --factory-image.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { FileFlash, creatingName } from "../../../hal/host/file-flash.js";
import { main } from "../../../tools/device/cli.js";
import { HOST_FLASH_GEOMETRY, factoryImage, partitionSizeFor } from "../../../tools/device/flash-setup.js";
import { DEVICE_BIN, openPtyPair, waitFor, type PtyPair } from "./pty-harness.js";

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(args, {
    stdout: { write: (t) => void (out += t) },
    stderr: { write: (t) => void (err += t) },
  });
  return { code, out, err };
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

interface StatusJson {
  running: { slot: number; component: string; version: string; sha256: string };
  slots: Array<{ slot: number; state: string; size: number; flashSha256: string }>;
}

async function status(file: string): Promise<StatusJson> {
  const run = await cli("status", "--flash", file, "--json");
  assert.equal(run.code, 0, run.err);
  return JSON.parse(run.out) as StatusJson;
}

const HINT = "re-create it with `sota-device run ... --reformat`";

describe("sota-device provisioning: the flash file exists whole or not at all", function () {
  this.timeout(30_000);
  let dir: string;
  let flash: string;
  let noPort: string;
  let pty: PtyPair;
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sota-provision-"));
    flash = path.join(dir, "dev.flash");
    noPort = path.join(dir, "no-such-tty");
    pty = await openPtyPair(dir);
  });
  afterEach(() => {
    pty.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** `run` against a port that does not exist: an existing file is checked first, then exit 1 at the port. */
  const runNoPort = (...extra: string[]) =>
    cli("run", "--port", noPort, "--flash", flash, "--component", "mcu", ...extra);
  /** `run` on a pty with no module behind it: provisioning happens (after the port opened), then a quick timeout. */
  const runIdle = (...extra: string[]) =>
    cli(
      "run",
      "--port",
      pty.device,
      "--flash",
      flash,
      "--component",
      "mcu",
      "--once",
      "--timeout",
      "0.2",
      ...extra,
    );

  it("a process killed (SIGKILL) while creating the file leaves no file (or a whole one); the next run creates it whole", async () => {
    // 16 MiB slots: long enough to build that the kill lands while the temporary file is being written.
    const child = spawn(
      process.execPath,
      [
        DEVICE_BIN,
        "run",
        "--port",
        pty.device,
        "--flash",
        flash,
        "--component",
        "mcu",
        "--slot-size",
        "16777216",
      ],
      { stdio: "ignore" },
    );
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    await waitFor(
      () => fs.existsSync(creatingName(flash)) || child.exitCode !== null,
      20_000,
      "the temporary",
    );
    child.kill("SIGKILL");
    await exited;
    assert.equal(child.signalCode, "SIGKILL", "the kill landed before the process ended on its own");
    // Atomic: the kill landed before the rename (no file) or after it (a whole, bootable file); nothing between.
    if (fs.existsSync(flash)) {
      assert.equal((await status(flash)).running.version, "1.0.0");
      fs.rmSync(flash);
    } else assert.equal(fs.existsSync(creatingName(flash)), true);

    const next = await runIdle("--version", "2.0.0", "--slot-size", "65536");
    assert.equal(next.code, 1);
    assert.match(next.out, /^created .*dev\.flash: 65536-byte slots, factory image mcu 2\.0\.0\n/);
    assert.equal(fs.existsSync(creatingName(flash)), false, "the leftover temporary is gone");
    const after = await status(flash);
    assert.deepEqual(after.running, {
      slot: 0,
      component: "mcu",
      version: "2.0.0",
      sha256: sha256(factoryImage("mcu", "2.0.0")),
    });
  });

  it("a leftover temporary (a kill before the rename) is overwritten; one beside a whole file is removed", async () => {
    fs.writeFileSync(creatingName(flash), new Uint8Array(12345).fill(0x5a));
    const first = await runIdle("--slot-size", "16384");
    assert.match(first.out, /^created /);
    assert.equal(fs.statSync(flash).size, partitionSizeFor(16384));
    assert.equal(fs.existsSync(creatingName(flash)), false);
    fs.writeFileSync(creatingName(flash), new Uint8Array(7));
    const second = await runIdle();
    assert.doesNotMatch(second.out, /created/, "nothing created the second time");
    assert.equal(fs.existsSync(creatingName(flash)), false);
    assert.equal((await status(flash)).running.version, "1.0.0");
  });

  it("a file without a bootable image (erased, as a kill after a non-atomic create left it): status and run exit 1 naming --reformat, never run with an empty version", async () => {
    // What a kill between "file created erased" and "factory image written" used to leave.
    new FileFlash({
      file: flash,
      size: partitionSizeFor(16384),
      ...HOST_FLASH_GEOMETRY,
      fsync: false,
    }).close();
    const before = fs.readFileSync(flash);
    const st = await cli("status", "--flash", flash);
    assert.equal(st.code, 1);
    assert.equal(st.out, "");
    assert.equal(
      st.err,
      `sota-device: error: ${flash} holds no bootable image (no valid boot record): ${HINT} (erases it; the factory image comes from --version or --factory-image)\n`,
    );
    const run = await runNoPort("--version", "1.0.0");
    assert.equal(run.code, 1);
    assert.equal(run.out, "", "no note about an ignored --version, nothing run");
    assert.equal(run.err, st.err);
    assert.ok(fs.readFileSync(flash).equals(before), "refusing changed nothing");

    const fixed = await runIdle("--version", "1.2.0", "--reformat", "--slot-size", "16384");
    assert.match(fixed.out, /^created .*factory image mcu 1\.2\.0\n/);
    assert.equal((await status(flash)).running.version, "1.2.0");
  });

  it("a truncated file: status and run exit 1 naming --reformat", async () => {
    fs.writeFileSync(flash, new Uint8Array(10_000).fill(0xff));
    for (const run of [await cli("status", "--flash", flash), await runNoPort()]) {
      assert.equal(run.code, 1);
      assert.equal(
        run.err,
        `sota-device: error: ${flash} holds no bootable image (10000 bytes is no flash partition): ${HINT} (erases it; the factory image comes from --version or --factory-image)\n`,
      );
    }
  });

  it("--factory-image puts the given binary in the factory slot; a second run notes it is ignored; too big is an error", async () => {
    const image = new Uint8Array(20_001);
    for (let i = 0; i < image.length; i++) image[i] = (i * 7 + 3) & 0xff;
    const imageFile = path.join(dir, "factory.bin");
    fs.writeFileSync(imageFile, image);
    const run = await runIdle("--version", "0.9.0", "--factory-image", imageFile, "--slot-size", "32768");
    assert.match(
      run.out,
      new RegExp(
        `^created .*factory image mcu 0\\.9\\.0 from ${imageFile.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\n`,
      ),
    );
    const after = await status(flash);
    assert.deepEqual(after.running, { slot: 0, component: "mcu", version: "0.9.0", sha256: sha256(image) });
    assert.equal(after.slots[0]!.size, image.length);

    const again = await runIdle("--factory-image", imageFile);
    assert.match(
      again.out,
      /--factory-image ignored: .* exists \(--reformat re-creates it with that image\)/,
    );

    const big = path.join(dir, "big.flash");
    const tooBig = await cli(
      "run",
      "--port",
      noPort,
      "--flash",
      big,
      "--component",
      "mcu",
      "--factory-image",
      imageFile,
      "--slot-size",
      "16384",
    );
    assert.equal(tooBig.code, 1);
    assert.match(tooBig.err, /--slot-size 16384 is smaller than the factory image \(20001 bytes\)/);
    assert.equal(fs.existsSync(big), false, "no file when the factory image does not fit");
    const missing = await runNoPort("--reformat", "--factory-image", path.join(dir, "absent.bin"));
    assert.equal(missing.code, 1);
    assert.match(missing.err, /--factory-image .*absent\.bin: no such file/);
    assert.equal(
      (await status(flash)).running.sha256,
      sha256(image),
      "a failed --reformat keeps the old file",
    );
  });
});
