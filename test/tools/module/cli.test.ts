// sota-module CLI (Node only): argument and plan errors, and a real exchange over a socat pty pair.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { EventEmitter } from "node:events";
import { spawnSync } from "node:child_process";
import { equal, ok } from "../../lib/assert.js";
import { main, type CliIo } from "../../../tools/module/cli.js";
import { HostSerialPort } from "../../../hal/host/host-serial.js";
import { examplePackage } from "../../../tools/module/make-package.js";
import { lockExclusive } from "../../../tools/device/file-lock.js";

function captureIo(): CliIo & { stdout: () => string; stderr: () => string } {
  let out = "";
  let err = "";
  return { out: (t) => (out += t), err: (t) => (err += t), stdout: () => out, stderr: () => err };
}

/** Every folder tempPlan() made; removed after each test (a test run leaves nothing in the temp folder). */
const tempDirs: string[] = [];
const everyTempDir: string[] = [];

function tempPlan(plan: unknown): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sota-module-"));
  tempDirs.push(dir);
  everyTempDir.push(dir);
  fs.writeFileSync(path.join(dir, "app.bin"), examplePackage(3000));
  const file = path.join(dir, "plan.json");
  fs.writeFileSync(file, typeof plan === "string" ? plan : JSON.stringify(plan));
  return file;
}

const goodPlan = {
  product: "pk1",
  components: [{ id: "MCU", targetVersion: "2.0.0", package: "app.bin" }],
  settings: {
    productKey: "pk1",
    productSecret: "ps1",
    connectStepMs: 20,
    planDelayMs: 20,
    downloadInfoDelayMs: 50,
  },
};

describe("tools/module CLI", () => {
  afterEach(() => {
    for (const dir of tempDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });
  after(() => {
    const left = everyTempDir.filter((dir) => fs.existsSync(dir));
    equal(left.length, 0, `temp folders left behind: ${left.join(", ")}`);
  });

  it("usage errors exit 1 (as sota-device and sota-pack) and say what is wrong", async () => {
    const io = captureIo();
    equal(await main([], io), 1);
    ok(io.stderr().includes("--plan is required"), io.stderr());
    const io2 = captureIo();
    equal(await main(["--plan", tempPlan(goodPlan)], io2), 1);
    ok(io2.stderr().includes("exactly one of --pty PATH or --port DEVICE"));
    const io3 = captureIo();
    equal(await main(["--plan", tempPlan(goodPlan), "--port", "/dev/null", "--fault", "drop"], io3), 1);
    ok(io3.stderr().includes("at: required"), io3.stderr());
    const io4 = captureIo();
    equal(await main(["--plan", tempPlan(goodPlan), "--port", "/dev/null", "--set", "freeSpace=0"], io4), 1);
    ok(io4.stderr().includes("--set.freeSpace: 0 is outside"), io4.stderr());
    const io5 = captureIo();
    equal(await main(["--plan", tempPlan(goodPlan), "--bogus"], io5), 1);
    ok(io5.stderr().startsWith("sota-module: Unknown option '--bogus'"), io5.stderr());
    const io6 = captureIo();
    equal(await main(["--plan", "p", "--port", "/dev/null", "--latency", "5", "--latency-ms", "5"], io6), 1);
    equal(io6.stderr(), "sota-module: --latency-ms replaces --latency: give one of them\n");
  });

  it("refuses a pty path another live module holds: exit 1 naming it, the path left alone", async () => {
    const planFile = tempPlan(goodPlan);
    const link = path.join(path.dirname(planFile), "tty");
    fs.writeFileSync(`${link}.target`, "");
    fs.symlinkSync(`${link}.target`, link);
    // This process stands for the first module: it holds the path's lock and is alive.
    const first = lockExclusive(link, `sota-module --pty ${link}`);
    try {
      const io = captureIo();
      equal(await main(["--plan", planFile, "--pty", link], io), 1);
      equal(
        io.stderr(),
        `sota-module: ${link} is in use by sota-module --pty ${link} (pid ${process.pid}, since ${JSON.parse(fs.readFileSync(first.file, "utf8")).since}); stop that module or choose another --pty path\n`,
      );
      equal(fs.readlinkSync(link), `${link}.target`, "the first module's link is untouched");
      equal(fs.existsSync(`${link}.module`), false);
    } finally {
      first.release();
    }
  });

  it("plan errors name the field; a missing package names the file and how to make one", async () => {
    const io = captureIo();
    equal(
      await main(
        [
          "--plan",
          tempPlan({ components: [{ id: "MCU", targetVersion: "2,0", package: "app.bin" }] }),
          "--port",
          "/dev/null",
        ],
        io,
      ),
      1,
    );
    equal(
      io.stderr(),
      'sota-module: plan: components[0].targetVersion: must not contain " : ; or , (got "2,0")\n',
    );
    const io2 = captureIo();
    equal(
      await main(
        [
          "--plan",
          tempPlan({ components: [{ id: "MCU", targetVersion: "2", package: "nope.bin" }] }),
          "--port",
          "/dev/null",
        ],
        io2,
      ),
      1,
    );
    ok(
      /components\[0\]\.package: file .*nope\.bin not found \(make an example one: npx tsx tools\/module\/make-package\.ts/.test(
        io2.stderr(),
      ),
      io2.stderr(),
    );
  });

  it("serves a device over a socat pty pair and prints the monitoring table on SIGINT", async function () {
    if (spawnSync("socat", ["-V"]).status !== 0) this.skip();
    this.timeout(20000);
    const planFile = tempPlan(goodPlan);
    const link = path.join(path.dirname(planFile), "tty");
    const io = captureIo();
    const signals = new EventEmitter();
    const running = main(
      [
        "--plan",
        planFile,
        "--pty",
        link,
        "--baud",
        "921600",
        "--log",
        path.join(path.dirname(planFile), "m.jsonl"),
      ],
      io,
      signals,
    );
    const deadline = Date.now() + 5000;
    while (!io.stdout().includes("RDY") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    ok(io.stdout().includes(`pty ready: point the device at ${link}`), io.stdout());
    let device: HostSerialPort | undefined;
    try {
      device = await HostSerialPort.open({ path: link, baudRate: 921600 });
      await converse(device);
    } finally {
      // Whatever failed, stop the module and socat so the test process can exit.
      device?.close();
      signals.emit("SIGINT");
    }
    equal(await running, 0);
    ok(io.stdout().includes("read 2048+1024 → 952 bytes"), io.stdout());
    ok(
      /upgrade monitoring \(virtual-device-1\):\ndevice .*\n.*\nvirtual-device-1 \| MCU +\| 2\.0\.0 +\| 1 +\| 1 +\| 0 +\| piece/.test(
        io.stdout(),
      ),
      io.stdout(),
    );
    const lines = fs
      .readFileSync(path.join(path.dirname(planFile), "m.jsonl"), "utf8")
      .trim()
      .split("\n");
    equal(JSON.parse(lines[0]!).event, "offered");
  });
});

async function converse(device: HostSerialPort): Promise<void> {
  let received = "";
  const scratch = new Uint8Array(4096);
  device.onReadable = () => {
    for (let n = device.read(scratch); n > 0; n = device.read(scratch))
      received += String.fromCharCode(...scratch.subarray(0, n));
  };
  const waitFor = async (until: string) => {
    const end = Date.now() + 5000;
    while (!received.includes(until) && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
  };
  // RDY may have gone out before the device side was open (then it is lost, as on a real line): let the line settle.
  await new Promise((r) => setTimeout(r, 200));
  const exchange = async (command: string, until: string) => {
    received = "";
    device.write(Uint8Array.from(command, (c) => c.charCodeAt(0)));
    await waitFor(until);
    return received;
  };
  equal(await exchange("AT\r", "OK\r\n"), "AT\r\n\r\nOK\r\n");
  equal(await exchange("ATE0\r", "OK\r\n"), "ATE0\r\n\r\nOK\r\n");
  equal(
    await exchange("AT+QIOTREG=1\r", "3,10200\r\n"),
    "\r\nOK\r\n\r\n+QIOTEVT: 1,10200\r\n\r\n+QIOTEVT: 2,10200\r\n\r\n+QIOTEVT: 3,10200\r\n",
  );
  await exchange('AT+QIOTMCUVER="MCU","1.0.0"\r', "OK\r\n");
  equal(
    await exchange("AT+QIOTOTAREQ=0\r", "3000\r\n"),
    '\r\nOK\r\n\r\n+QIOTEVT: 7,10700,"MCU","","2.0.0",0,0,3000\r\n',
  );
  ok((await exchange("AT+QIOTUPDATE=1\r", '10703,"MCU",3000,0,3000\r\n')).includes("10701"));
  const pkg = examplePackage(3000);
  equal(
    await exchange("AT+QIOTOTARD=2048,1024\r", "\r\nOK\r\n"),
    "\r\n+QIOTOTARD: 2048,952\r\n" + String.fromCharCode(...pkg.subarray(2048)) + "\r\n\r\nOK\r\n",
  );
}
