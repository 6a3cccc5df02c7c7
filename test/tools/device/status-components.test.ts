// `sota-device status --component id=kind:... / --components file.json` (Node-only, in-process main): each
// component's stored version, its area and backup in the areas file, the backup's state, and the set record.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

import { cli, makeFactoryFlash } from "./cli-harness.js";

const sha = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

describe("sota-device status with components", () => {
  let dir: string;
  let flash: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sota-status-"));
    flash = path.join(dir, "dev.flash");
    makeFactoryFlash(flash);
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("no state yet: the configured versions, no set, the areas file not created", async () => {
    const run = await cli(
      "status",
      "--flash",
      flash,
      "--component",
      "mcu",
      "--component",
      "cfg=data:version=1.0,size=8192",
    );
    assert.equal(run.code, 0, run.err);
    assert.equal(
      run.out.split("\n").slice(-3).join("\n"),
      "set: none in progress\n" +
        `component cfg (data) 1.0; area 0+8192, backup 8192+8192 in ${flash}.areas: backup released; areas file not created yet\n`,
    );
  });

  it("a staging set after a reset in the data's download: member states, the backup, the journal, the area's SHA-256", async () => {
    const areas = new Uint8Array(2 * (8192 + 4096)).fill(0xff);
    areas.fill(0x11, 0, 8192);
    fs.writeFileSync(`${flash}.areas`, areas);
    const set = {
      versions: { logic: "3" },
      set: {
        phase: "staging",
        task: ["mcu", "cfg"],
        members: [
          { id: "mcu", kind: "image", target: "1.1.0", from: "1.0.0", status: "staged" },
          { id: "cfg", kind: "data", target: "2.0", from: "1.0", status: "backed-up" },
        ],
      },
    };
    fs.writeFileSync(
      `${flash}.state.json`,
      JSON.stringify({ "sota.comp": JSON.stringify(set), "sota.comp.j.cfg": "1a2b3c4d:1:deadbeef" }),
    );
    const list = path.join(dir, "components.json");
    fs.writeFileSync(
      list,
      JSON.stringify([
        { id: "cfg", kind: "data", version: "1.0", size: 8192 },
        { id: "logic", kind: "mod", version: "1", size: 4096 },
      ]),
    );
    const run = await cli("status", "--flash", flash, "--components", list);
    assert.equal(run.code, 0, run.err);
    assert.equal(
      run.out.split("\n").slice(-4).join("\n"),
      "set: staging, task mcu, cfg\n" +
        `component cfg (data) 1.0, backed-up for 2.0; area 0+8192, backup 8192+8192 in ${flash}.areas: backup holds the old contents, 1 sectors journaled; area sha256 ${sha(areas.subarray(0, 8192))}\n` +
        `component logic (mod) 3; area 16384+4096, backup 20480+4096 in ${flash}.areas: backup released; area sha256 ${sha(areas.subarray(16384, 20480))}\n`,
    );
    const json = await cli("status", "--flash", flash, "--components", list, "--json");
    const parsed = JSON.parse(json.out) as {
      components: { set: unknown; components: { id: string; backupState: string; member?: unknown }[] };
    };
    assert.deepEqual(parsed.components.set, { phase: "staging", task: ["mcu", "cfg"] });
    assert.deepEqual(
      parsed.components.components.map((c) => [c.id, c.backupState, c.member]),
      [
        ["cfg", "old-contents", { status: "backed-up", target: "2.0" }],
        ["logic", "released", undefined],
      ],
    );
  });

  it("a bad --component spec for status: exit 1 with the reason", async () => {
    const run = await cli("status", "--flash", flash, "--component", "cfg=blob");
    assert.equal(run.code, 1);
    assert.match(run.err, /expected id=data or id=mod/);
  });
});
