// The command lines end to end over a pty pair: `sota-module --web 0 --timeline` and `sota-device run --timeline` as
// child processes; the page's state shows the finished OTA, and both timelines are written and well-formed.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { patternImage } from "../../../tools/device/flash-setup.js";
import { runDevice, startModule } from "../device/pty-harness.js";
import { requireSocat } from "../../lib/socat.js";
import type { ModuleRun } from "../device/pty-harness.js";
import type { Snapshot } from "../../../tools/web/hub.js";
import { findAll, hasClass, parseXml } from "../timeline/xml.js";

const PLAN = {
  product: "pWeb",
  productSecret: "webSecret",
  components: [
    {
      id: "mcu",
      type: "full",
      targetVersion: "2.0.0",
      package: "image.bin",
      minBattery: 20,
      minSignal: -110,
    },
  ],
  settings: {
    productKey: "pWeb",
    productSecret: "webSecret",
    bootDelayMs: 10,
    connectStepMs: 10,
    planDelayMs: 20,
    downloadInfoDelayMs: 20,
    downloadBytesPerSecond: 10_000_000,
    freeSpace: 8192,
    maxReadLength: 1024,
  },
};

function markerKinds(svgFile: string): string[] {
  const svg = parseXml(fs.readFileSync(svgFile, "utf8"));
  return findAll(svg, (e) => e.name === "g" && hasClass(e, "marker")).map(
    (m) => `${m.attrs["data-kind"]}${m.attrs["data-ok"] ? ":" + m.attrs["data-ok"] : ""}`,
  );
}

describe("sota-module --web/--timeline and sota-device --timeline over a pty pair", function () {
  this.timeout(60_000);
  let dir: string;
  let module: ModuleRun | undefined;

  before(function () {
    requireSocat();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "web-cli-"));
  });
  after(async () => {
    await module?.stop();
  });

  it("serves the page while a device updates, then writes both timelines", async () => {
    const moduleSvg = path.join(dir, "module.svg");
    const deviceSvg = path.join(dir, "device.svg");
    module = await startModule(dir, PLAN, patternImage("mcu", "2.0.0", 20_000), [
      "--web",
      "0",
      "--timeline",
      moduleSvg,
    ]);
    const url = /monitoring page: (http:\/\/127\.0\.0\.1:\d+\/)\n/.exec(module.output())?.[1];
    assert.ok(url, module.output());
    const page = await fetch(url);
    assert.equal(page.status, 200);

    const flash = path.join(dir, "device.flash");
    const device = await runDevice([
      "--port",
      module.devicePath,
      "--flash",
      flash,
      "--component",
      "mcu",
      "--version",
      "1.0.0",
      "--timeline",
      deviceSvg,
    ]);
    assert.equal(device.code, 0, device.stderr);
    assert.equal(device.result["status"], "updated");
    assert.ok(
      device.stdout.includes(`{"event":"note","t":`) && device.stdout.includes(`timeline: ${deviceSvg}`),
    );
    await module.waitForMonitor((events) => events.includes("success"));

    const state = (await (await fetch(`${url}state.json`)).json()) as Snapshot;
    assert.deepEqual(
      state.otas.map((o) => [o.component, o.targetVersion, o.status]),
      [["mcu", "2.0.0", "update complete"]],
    );
    assert.equal(state.final?.ok, true);
    assert.equal(state.progress?.bytes, 20_000);

    await module.stop();
    assert.match(module.output(), new RegExp(`timeline: ${moduleSvg.replace(/[.]/g, "\\.")}\\n`));
    assert.deepEqual(markerKinds(moduleSvg), ["final:true"]);
    // The device's own view: its trial restart and its outcome.
    assert.deepEqual(markerKinds(deviceSvg), ["reset", "final:true"]);
    const lanes = findAll(
      parseXml(fs.readFileSync(deviceSvg, "utf8")),
      (e) => e.name === "g" && hasClass(e, "lane"),
    );
    assert.ok(Number(lanes.find((l) => l.attrs["data-lane"] === "erases")!.attrs["data-count"]) >= 5);
  });
});
