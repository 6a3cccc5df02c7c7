// sota-device's command line (Node-only, in-process main): usage errors, I/O errors in one line, flash creation, status.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn, spawnSync } from "node:child_process";
import { USAGE } from "../../../tools/device/cli.js";
import { lockExclusive } from "../../../tools/device/file-lock.js";
import { factoryImage, partitionSizeFor } from "../../../tools/device/flash-setup.js";

import { cli, makeFactoryFlash } from "./cli-harness.js";

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

  it("an unopenable port: exit 1 with one line, no stack; no flash file is made (the port is opened first)", async () => {
    const flash = path.join(dir, "dev.flash");
    const tty = path.join(dir, "no-such-tty");
    const run = await cli(
      "run",
      "--port",
      tty,
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
    assert.equal(run.err, `sota-device: error: cannot open ${tty}: No such file or directory\n`);
    assert.equal(run.out, "");
    assert.deepEqual(fs.readdirSync(dir), []);
  });

  it("status --json: the running slot's component, version and the SHA-256 of its bytes", async () => {
    const flash = path.join(dir, "dev.flash");
    makeFactoryFlash(flash);
    const status = await cli("status", "--flash", flash, "--json");
    assert.equal(status.code, 0, status.err);
    const json = JSON.parse(status.out) as {
      running: { slot: number; component: string; version: string; sha256: string };
      trial: boolean;
    };
    assert.deepEqual(json.running, {
      slot: 0,
      component: "mcu",
      version: "1.0.0",
      sha256: createHash("sha256").update(factoryImage("mcu", "1.0.0")).digest("hex"),
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
    const other = await withPty(dir, (tty) =>
      cli("run", "--port", tty, "--flash", file, "--component", "app"),
    );
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

/** Runs `body` with a pty (one end of a socat pair) that opens like a serial port; nobody answers on it. */
async function withPty<T>(dir: string, body: (tty: string) => Promise<T>): Promise<T> {
  const tty = path.join(dir, "tty");
  const socat = spawn("socat", [`pty,raw,echo=0,link=${tty}`, `pty,raw,echo=0,link=${tty}.other`], {
    stdio: "ignore",
  });
  try {
    const deadline = Date.now() + 5000;
    while (!fs.existsSync(tty) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    return await body(tty);
  } finally {
    const exited = new Promise((resolve) => socat.once("exit", resolve));
    socat.kill();
    await exited;
  }
}

/** A pid that is certainly not running: a child that already exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], {
    encoding: "utf8",
  });
  return Number(child.stdout);
}

describe("tools/device cli: the first hour (issue cases)", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sota-cli-"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const runArgs = (flash: string, ...extra: string[]): string[] => [
    "run",
    "--port",
    path.join(dir, "no-such-tty"),
    "--flash",
    flash,
    "--component",
    "mcu",
    ...extra,
  ];

  it("case 1: a flash file another live `run` holds is refused, naming the process; run and status alike", async () => {
    const flash = path.join(dir, "dev.flash");
    makeFactoryFlash(flash);
    // This process stands for the first device: it holds the lock and is alive.
    const first = lockExclusive(flash, "sota-device run --port /dev/ttyUSB0");
    const since = (JSON.parse(fs.readFileSync(first.file, "utf8")) as { since: string }).since;
    const before = fs.readFileSync(flash);
    try {
      const held = `${flash} is in use by sota-device run --port /dev/ttyUSB0 (pid ${process.pid}, since ${since})`;
      const run = await cli(...runArgs(flash));
      assert.equal(run.code, 1);
      assert.equal(run.err, `sota-device: error: ${held}\n`);
      const json = await cli(...runArgs(flash, "--json"));
      assert.equal(json.code, 1);
      assert.deepEqual(JSON.parse(json.out.trim().split("\n").pop()!), {
        event: "result",
        status: "error",
        exitCode: 1,
        reason: held,
        runningVersion: "",
        targetVersion: "",
        bytes: 0,
        seconds: 0,
        restarts: 0,
      });
      const status = await cli("status", "--flash", flash);
      assert.equal(status.code, 1);
      assert.equal(status.err, `sota-device: error: ${held}\n`);
      assert.deepEqual(fs.readFileSync(flash), before);
    } finally {
      first.release();
    }
    // Released: status reads, and leaves no reader lock behind.
    assert.equal((await cli("status", "--flash", flash)).code, 0);
    assert.deepEqual(
      fs.readdirSync(dir).filter((name) => name.includes(".lock")),
      [],
    );
  });

  it("case 1: a lock left by a dead process is stale and taken over; the lock is gone after the run", async () => {
    const flash = path.join(dir, "dev.flash");
    makeFactoryFlash(flash);
    const pid = deadPid();
    fs.writeFileSync(`${flash}.lock`, JSON.stringify({ pid, command: "sota-device run", since: "then" }));
    const run = await cli(...runArgs(flash));
    assert.equal(run.code, 1);
    assert.match(run.err, /^sota-device: error: cannot open .*no-such-tty/);
    assert.equal(fs.existsSync(`${flash}.lock`), false);
  });

  it("case 2: a --slot-size too small for a new file is a usage error and touches nothing on disk", async () => {
    const flash = path.join(dir, "dev.flash");
    const run = await cli(...runArgs(flash, "--slot-size", "4096"));
    assert.equal(run.code, 1);
    assert.equal(
      run.err.split("\n")[0],
      "sota-device: --slot-size 4096 is smaller than the factory image (8192 bytes) a new flash file starts with",
    );
    assert.deepEqual(fs.readdirSync(dir), []);
    const nofolder = await cli(...runArgs(path.join(dir, "absent", "dev.flash")));
    assert.equal(nofolder.code, 1);
    assert.match(
      nofolder.err,
      /^sota-device: --flash .*absent\/dev\.flash: the folder .*absent does not exist\n/,
    );
    assert.deepEqual(fs.readdirSync(dir), []);
  });

  it("case 4: --json ends with a result line also for a bad port and for a usage error", async () => {
    const flash = path.join(dir, "dev.flash");
    for (const args of [runArgs(flash, "--json"), runArgs(flash, "--json", "--battery", "x")]) {
      const run = await cli(...args);
      assert.equal(run.code, 1);
      const lines = run.out.trim().split("\n");
      const last = JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
      assert.equal(last["event"], "result");
      assert.equal(last["status"], "error");
      assert.equal(last["exitCode"], 1);
      assert.equal(last["reason"], run.err.split("\n")[0]!.replace(/^sota-device: (error: )?/, ""));
    }
  });

  it("case 7: `status` opens the flash file read-only", async () => {
    const flash = path.join(dir, "dev.flash");
    makeFactoryFlash(flash);
    const flags: string[] = [];
    const open = fs.openSync;
    fs.openSync = ((file: fs.PathLike, flag?: fs.OpenMode, mode?: fs.Mode) => {
      if (path.resolve(String(file)) === path.resolve(flash)) flags.push(String(flag ?? "r"));
      return open(file, flag ?? "r", mode);
    }) as typeof fs.openSync;
    try {
      const status = await cli("status", "--flash", flash);
      assert.equal(status.code, 0, status.err);
    } finally {
      fs.openSync = open;
    }
    assert.deepEqual(
      flags.filter((flag) => flag !== "r"),
      [],
    );
  });

  it("case 7: --help on every subcommand, exit 0", async () => {
    for (const args of [["--help"], ["run", "--help"], ["status", "--help"], ["run", "-h"]]) {
      const run = await cli(...args);
      assert.equal(run.code, 0, args.join(" "));
      assert.equal(run.out, `${USAGE}\n`);
      assert.equal(run.err, "");
    }
  });

  it("case 7: every time option in seconds; --plan-wait <ms> still works with a deprecation note", async () => {
    const flash = path.join(dir, "dev.flash");
    const bad = await cli(...runArgs(flash, "--offer-wait", "15000ms"));
    assert.equal(bad.code, 1);
    assert.equal(bad.err.split("\n")[0], 'sota-device: --offer-wait expects seconds, got "15000ms"');
    const both = await cli(...runArgs(flash, "--offer-wait", "1", "--plan-wait", "1000"));
    assert.equal(both.err.split("\n")[0], "sota-device: --offer-wait replaces --plan-wait: give one of them");
    const old = await cli(...runArgs(flash, "--plan-wait", "1500", "--json"));
    assert.equal(old.code, 1);
    const note = JSON.parse(old.out.split("\n")[0]!) as Record<string, unknown>;
    assert.equal(
      note["message"],
      "--plan-wait <ms> is deprecated: use --offer-wait 1.5 (every time option is in seconds)",
    );
    const decimals = await cli(...runArgs(flash, "--offer-wait", "0.5", "--timeout", "2.5"));
    assert.match(decimals.err, /^sota-device: error: cannot open/);
  });
});
