// The demo (`npm start -- --fast`): runs the whole flow on the simulated link, prints both sides and the summary.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { DEMO_IMAGE_SIZE, runDemo } from "../../../tools/demo/demo.js";

describe("tools/demo", function () {
  this.timeout(60_000);

  it("runDemo --fast updates 1.0.0 -> 1.1.0 and prints the module's and the device's side and the summary", async () => {
    let out = "";
    const summary = await runDemo({ fast: true, write: (text) => void (out += text) });
    assert.equal(summary.result.status, "updated");
    assert.equal(summary.result.exitCode, 0);
    assert.equal(summary.result.runningVersion, "1.1.0");
    // The package is the 160 KiB image signed in MCUboot's format: a 0x200-byte header and the TLVs around it.
    assert.ok(
      summary.result.bytes > DEMO_IMAGE_SIZE + 0x200 && summary.result.bytes < DEMO_IMAGE_SIZE + 0x300,
    );
    assert.equal(summary.imageMatches, true);
    assert.deepEqual(summary.monitorEvents, [
      "offered",
      "confirmed",
      "downloading",
      "piece",
      "piece",
      "piece",
      "updating",
      "success",
    ]);
    // The line carries at most 11,520 B/s; the whole update (connect, plan, pieces, reboot) gets a good part of it.
    assert.equal(summary.lineBytesPerSecond, 11_520);
    assert.ok(summary.effectiveBytesPerSecond < 11_520, `${summary.effectiveBytesPerSecond}`);
    assert.ok(summary.effectiveBytesPerSecond > 0.5 * 11_520, `${summary.effectiveBytesPerSecond}`);
    assert.ok(summary.virtualSeconds < 40, `${summary.virtualSeconds} s of demo time`);

    const lines = out.split("\n");
    const has = (pattern: RegExp): boolean => lines.some((line) => pattern.test(line));
    assert.ok(has(/^ {2}module \| \[ *\d+\.\d{3}s\] <- AT\+QIOTREG=1$/), out);
    const size = summary.result.bytes;
    assert.ok(
      has(new RegExp(`^ {2}module \\| .*-> \\+QIOTEVT: 7,10700,"app","","1\\.1\\.0",20,-100,${size}$`)),
      out,
    );
    assert.ok(has(new RegExp(`^device \\| .* offered: app \\(full\\) -> 1\\.1\\.0, ${size} bytes$`)), out);
    assert.ok(has(/^package signed \(MCUboot format, ECDSA P-256\) with a demo key made for this run/), out);
    assert.ok(has(/^device \| .* confirmed: update 1\.0\.0 -> 1\.1\.0$/), out);
    assert.ok(has(/^ {2}module \| .*-> 64 reads from 0 to 64512\+1024: 65536 bytes sent$/), out);
    assert.ok(has(/^device \| .* verifying: signature, MD5 and SHA-256$/), out);
    assert.ok(has(/^device \| .* trial boot: running app 1\.1\.0 from slot 1 \(pending-test\)$/), out);
    assert.ok(has(/^ {2}module \| .*-> \+QIOTEVT: 7,10705$/), out);
    assert.ok(has(/^Summary: updated \(exit 0\), running 1\.1\.0; image matches the package$/), out);
    assert.ok(has(/^ {2}effective \d+ B\/s = \d+% of the line rate \(115200 baud = 11520 B\/s/), out);

    // Then a differential update from the signed 1.1.0 to a signed 1.2.0, applied as it streams in.
    const delta = summary.delta!;
    assert.equal(delta.result.status, "updated");
    assert.equal(delta.result.runningVersion, "1.2.0");
    assert.equal(delta.imageMatches, true);
    assert.equal(delta.result.bytes, delta.packageBytes);
    assert.ok(delta.packageBytes < 0.05 * delta.imageBytes, `${delta.packageBytes} of ${delta.imageBytes}`);
    assert.ok(delta.virtualSeconds < delta.fullLineSeconds, `${delta.virtualSeconds} s`);
    assert.deepEqual(delta.monitorEvents, [
      "offered",
      "confirmed",
      "downloading",
      "piece",
      "updating",
      "success",
    ]);
    assert.ok(has(/^device \| .* offered: app 1\.1\.0 -> 1\.2\.0, \d+ bytes$/), out);
    assert.ok(has(/^device \| .* trial boot: running app 1\.2\.0 from slot 0 \(pending-test\)$/), out);
    assert.ok(
      has(/^Summary of the delta: updated \(exit 0\), running 1\.2\.0; image matches the signed 1\.2\.0$/),
      out,
    );
    assert.ok(has(/^ {2}\d+ bytes read instead of \d+: \d+ bytes saved \(9\d\.\d %\)/), out);
  });

  it("`npm start -- --fast` exits 0 and ends with the summary", () => {
    const root = fileURLToPath(new URL("../../..", import.meta.url));
    const run = spawnSync("npm", ["start", "--silent", "--", "--fast"], {
      cwd: root,
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /\nSummary: updated \(exit 0\), running 1\.1\.0; image matches the package\n/);
    assert.match(
      run.stdout,
      /module monitoring log: offered > confirmed > downloading > piece > piece > piece > updating > success\n/,
    );
    assert.match(
      run.stdout,
      /\nSummary of the delta: updated \(exit 0\), running 1\.2\.0; image matches the signed 1\.2\.0\n.*\n {2}module monitoring log: offered > confirmed > downloading > piece > updating > success\n$/,
    );
  });
});
