// Node-only tests of the serialport-backed SerialPort over a socat pty pair: exact bytes, pacing, errors.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { HOST_TX_WINDOW, HostSerialPort } from "../../../hal/host/host-serial.js";
import { requireSocat } from "../../lib/socat.js";

/** Every byte value, `rounds` times, in an order that changes per round. */
function allByteValues(rounds: number): Uint8Array {
  const bytes = new Uint8Array(256 * rounds);
  for (let r = 0; r < rounds; r++)
    for (let i = 0; i < 256; i++) bytes[r * 256 + i] = (i * 167 + r * 31) & 0xff;
  return bytes;
}

async function waitFor(predicate: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Collects what a port receives, reading through the port's read(into) with a small reused buffer. */
function collect(port: HostSerialPort): { bytes: () => Uint8Array; arrivals: number[]; totals: number[] } {
  const chunks: Uint8Array[] = [];
  const arrivals: number[] = [];
  const totals: number[] = [];
  let total = 0;
  const scratch = new Uint8Array(100);
  port.onReadable = () => {
    arrivals.push(performance.now());
    for (let n = port.read(scratch); n > 0; n = port.read(scratch)) {
      chunks.push(scratch.slice(0, n));
      total += n;
    }
    totals.push(total);
  };
  return {
    bytes: () => {
      const all = new Uint8Array(chunks.reduce((sum, c) => sum + c.length, 0));
      let at = 0;
      for (const chunk of chunks) {
        all.set(chunk, at);
        at += chunk.length;
      }
      return all;
    },
    arrivals,
    totals,
  };
}

describe("hal/host HostSerialPort over a socat pty pair", function () {
  this.timeout(15_000);
  let dir: string;
  let socat: ChildProcess | undefined;
  let linkA: string;
  let linkB: string;
  const open: HostSerialPort[] = [];
  const errors: Error[] = [];

  before(() => requireSocat());

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "host-serial-"));
    linkA = path.join(dir, "a");
    linkB = path.join(dir, "b");
    socat = spawn("socat", [`pty,raw,echo=0,link=${linkA}`, `pty,raw,echo=0,link=${linkB}`], {
      stdio: "ignore",
    });
    await waitFor(() => fs.existsSync(linkA) && fs.existsSync(linkB), 5000, "socat's pty links");
    errors.length = 0;
  });

  afterEach(async () => {
    for (const port of open.splice(0)) port.close();
    if (socat && socat.exitCode === null) {
      const exited = new Promise((resolve) => socat!.once("exit", resolve));
      socat.kill();
      await exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function openPort(link: string, paceBaud?: number): Promise<HostSerialPort> {
    const port = await HostSerialPort.open({
      path: link,
      baudRate: 115200,
      onError: (error) => errors.push(error),
      ...(paceBaud ? { paceBaud } : {}),
    });
    open.push(port);
    return port;
  }

  it("carries all 256 byte values unchanged in both directions, even when the writer reuses its buffer", async () => {
    const a = await openPort(linkA);
    const b = await openPort(linkB);
    const atB = collect(b);
    const atA = collect(a);
    const pattern = allByteValues(16);
    const reused = new Uint8Array(512);
    for (let at = 0; at < pattern.length; at += reused.length) {
      reused.set(pattern.subarray(at, at + reused.length));
      a.write(reused);
      reused.fill(0x55); // the port must have copied the bytes already
    }
    b.write(pattern.subarray(0, 256));
    await waitFor(
      () => atB.bytes().length >= pattern.length && atA.bytes().length >= 256,
      5000,
      "both directions",
    );
    assert.deepEqual(atB.bytes(), pattern);
    assert.deepEqual(atA.bytes(), pattern.subarray(0, 256));
    assert.deepEqual(errors, []);
  });

  it("calls onWritable once its queue drained, and read() returns 0 when nothing waits", async () => {
    const a = await openPort(linkA);
    const b = await openPort(linkB);
    collect(b);
    const writable: number[] = [];
    a.onWritable = (count) => writable.push(count);
    a.write(allByteValues(4));
    await waitFor(() => writable.length > 0, 2000, "onWritable");
    assert.deepEqual(writable, [HOST_TX_WINDOW]);
    assert.equal(a.queued, 0);
    assert.equal(a.read(new Uint8Array(8)), 0);
  });

  it("paces writes to paceBaud: 480 bytes at 9600 baud take about 500 ms and arrive in pieces", async () => {
    const a = await openPort(linkA, 9600);
    const b = await openPort(linkB);
    const atB = collect(b);
    const pattern = allByteValues(2).subarray(0, 480);
    const start = performance.now();
    a.write(pattern);
    await waitFor(() => atB.bytes().length >= 480, 3000, "paced bytes");
    const elapsed = performance.now() - start;
    assert.deepEqual(atB.bytes(), pattern);
    // 480 bytes x 10 bit times / 9600 baud = 500 ms; the last byte may not arrive before its end time.
    assert.ok(elapsed >= 495, `took ${elapsed.toFixed(1)} ms`);
    assert.ok(elapsed < 1500, `took ${elapsed.toFixed(1)} ms`);
    assert.ok(atB.arrivals.length >= 10, `arrived in ${atB.arrivals.length} pieces`);
    assert.ok(
      atB.arrivals[0]! - start >= 1.0,
      "the first byte arrives no earlier than its 1.04 ms on the line",
    );
  });

  it("without pacing a pty ignores the baud rate (10 kB in well under the 1.04 s of 9600 baud)", async () => {
    const a = await HostSerialPort.open({ path: linkA, baudRate: 9600 });
    open.push(a);
    const b = await openPort(linkB);
    const atB = collect(b);
    const start = performance.now();
    a.write(new Uint8Array(10_000).fill(0x5a));
    await waitFor(() => atB.bytes().length >= 10_000, 3000, "10 kB");
    assert.ok(performance.now() - start < 500);
  });

  it("reports EIO through onError when the peer died, and rejects opening a missing device", async () => {
    const a = await openPort(linkA);
    const exited = new Promise((resolve) => socat!.once("exit", resolve));
    socat!.kill();
    await exited;
    for (let i = 0; i < 20 && errors.length === 0; i++) {
      if (!a.closed) a.write(Uint8Array.of(0x41));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(errors.length > 0, "an error was reported");
    // Which call sees it first varies: the write (EIO), the read poller (a disconnect), or a write racing the close.
    assert.match(
      errors.map((e) => e.message).join("\n"),
      /EIO|Input\/output|disconnect|bad file descriptor/i,
    );
    await waitFor(() => a.closed, 2000, "the port to notice it is closed");
    await assert.rejects(
      HostSerialPort.open({ path: path.join(dir, "missing"), baudRate: 115200 }),
      /ENOENT|No such file/,
    );
  });
});
