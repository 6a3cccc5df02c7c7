// Several components over a real pty pair: `sota-device run --component <image> --component cfg=data:...` against
// `sota-module` serving a two-component plan; exit code, the cycles on the wire, the data area and its version.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { patternImage } from "../../../tools/device/flash-setup.js";
import { runDevice, startModule, type ModuleRun } from "./pty-harness.js";
import { requireSocat } from "../../lib/socat.js";

const SIZE = 20_000;

function plan(): Record<string, unknown> {
  const component = (id: string, targetVersion: string) => ({
    id,
    type: "full",
    targetVersion,
    package: "image.bin",
    minBattery: 20,
    minSignal: -110,
  });
  return {
    product: "pE2E",
    productSecret: "e2eSecret",
    components: [component("mcu", "1.1.0"), component("cfg", "2.0")],
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
    faults: [],
  };
}

describe("sota-device: two components in one task over a pty pair", function () {
  this.timeout(60_000);
  let dir: string;
  let module: ModuleRun | undefined;

  before(() => requireSocat());
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "sota-multi-"))));
  afterEach(async () => {
    await module?.stop();
    module = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("image + data: exit 0, two cycles closed with 10705, the data area and its stored version are new", async () => {
    // The module serves one package file: the data component gets the same bytes (its area holds 24 KiB).
    const image = patternImage("mcu", "1.1.0", SIZE);
    module = await startModule(dir, plan(), image);
    const flash = path.join(dir, "flash.bin");
    const run = await runDevice([
      "--port",
      module.devicePath,
      "--flash",
      flash,
      "--component",
      "mcu",
      "--version",
      "1.0.0",
      "--component",
      "cfg=data:version=1.0,size=24576",
      "--slot-size",
      "65536",
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.result.status, "updated");
    await module.waitForMonitor((events) => events.filter((e) => e === "success").length === 2);
    const wire = module
      .output()
      .split("\n")
      .filter((l) => /dev → mod {2}AT\+QIOT(UPDATE|MCUVER)=/.test(l))
      .map((l) => l.replace(/^.*dev → mod {2}/, ""));
    assert.deepEqual(wire, [
      'AT+QIOTMCUVER="mcu","1.0.0"',
      'AT+QIOTMCUVER="cfg","1.0"',
      "AT+QIOTUPDATE=1",
      "AT+QIOTUPDATE=2",
      "AT+QIOTUPDATE=2",
      "AT+QIOTUPDATE=3",
      'AT+QIOTMCUVER="mcu","1.1.0"',
      "AT+QIOTUPDATE=2",
      "AT+QIOTUPDATE=2",
      "AT+QIOTUPDATE=3",
      'AT+QIOTMCUVER="mcu","1.1.0"',
      'AT+QIOTMCUVER="cfg","2.0"',
    ]);
    const areas = fs.readFileSync(`${flash}.areas`);
    assert.equal(areas.length, 2 * 24576);
    assert.deepEqual(new Uint8Array(areas.subarray(0, SIZE)), image);
    const state = JSON.parse(fs.readFileSync(`${flash}.state.json`, "utf8")) as Record<string, string>;
    assert.deepEqual(JSON.parse(state["sota.comp"]!), { versions: { cfg: "2.0" } });
  });
});
