// sota-device's data and mod components: the --component form, the --components file, the areas file.

import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { openAreas, parseDeviceComponent, readComponentsFile } from "../../../tools/device/components.js";

describe("sota-device components", () => {
  it("reads id=kind[:version=V,size=N] with defaults, and refuses the rest with the reason", () => {
    assert.deepEqual(parseDeviceComponent("cfg=data:version=1.0,size=8192"), {
      id: "cfg",
      kind: "data",
      version: "1.0",
      size: 8192,
    });
    assert.deepEqual(parseDeviceComponent("logic=mod"), {
      id: "logic",
      kind: "mod",
      version: "0",
      size: 65536,
    });
    assert.throws(() => parseDeviceComponent("logic=image"), /expected id=data or id=mod/);
    assert.throws(() => parseDeviceComponent("cfg=data:size=100"), /whole number of 4096-byte blocks/);
    assert.throws(() => parseDeviceComponent("cfg=data:area=x"), /"area=x" is not version=V or size=N/);
  });

  it("reads a components file and lays out each area with its backup in one file", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sota-components-"));
    try {
      const file = path.join(dir, "components.json");
      fs.writeFileSync(
        file,
        JSON.stringify([
          { id: "logic", kind: "mod", version: "1", size: 8192 },
          { id: "cfg", kind: "data" },
        ]),
      );
      const components = readComponentsFile(file);
      const opened = openAreas(path.join(dir, "dev.flash.areas"), components);
      assert.equal(fs.statSync(path.join(dir, "dev.flash.areas")).size, 2 * 8192 + 2 * 65536);
      assert.deepEqual(Object.keys(opened.areas), ["logic", "logic.bak", "cfg", "cfg.bak"]);
      assert.equal(opened.areas["cfg.bak"]!.status().size, 65536);
      assert.deepEqual(opened.configs[0], {
        id: "logic",
        kind: "mod",
        area: "logic",
        backup: "logic.bak",
        version: "1",
      });
      opened.flash.close();
      fs.writeFileSync(file, JSON.stringify({ id: "cfg" }));
      assert.throws(() => readComponentsFile(file), /expected a JSON array/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
