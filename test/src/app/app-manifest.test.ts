// manifest.json's config as mcconfig builds it for each platform (top-level keys, then the platform's) parses to the
// app's documented defaults, and a key given on the command line (always a string) replaces the manifest's value.

import { readFileSync } from "node:fs";
import { deepEqual, equal } from "../../lib/assert.js";
import { parseAppConfig } from "../../../src/app/app-config.js";

interface Manifest {
  config: Record<string, unknown>;
  platforms: Record<string, { config?: Record<string, unknown> }>;
}

const manifest = JSON.parse(readFileSync("manifest.json", "utf8")) as Manifest;

/** mcconfig's order: the manifest's config, the platform block's, then key=value arguments. */
function built(platform: string, commandLine: Record<string, string> = {}): Record<string, unknown> {
  return { ...manifest.config, ...manifest.platforms[platform]!.config, ...commandLine };
}

describe("manifest.json config", () => {
  for (const [platform, target] of [
    ["esp32", "esp32"],
    ["lin", "lin"],
    ["zephyr/stm32u5a9j_dk", "zephyr"],
  ] as const) {
    it(`${platform}: its keys parse, and equal the app's defaults`, () => {
      const settings = parseAppConfig(built(platform));
      const defaults = parseAppConfig({ sotaTarget: target });
      equal(settings.target, target);
      deepEqual({ ...settings, engine: {} }, { ...defaults, engine: {} });
    });
  }

  it("no nested config.sota is left anywhere", () => {
    equal("sota" in manifest.config, false);
    for (const [name, block] of Object.entries(manifest.platforms))
      equal("sota" in (block.config ?? {}), false, name);
  });

  it("the simulator run of the README: one command line sets component, version, device and files", () => {
    const settings = parseAppConfig(
      built("lin", {
        sotaComponent: "STM32",
        sotaVersion: "3.1.0",
        sotaDevice: "/tmp/b.pty",
        sotaFlashFile: "/tmp/b.flash",
        sotaPrefsFile: "/tmp/b.prefs.json",
      }),
    );
    deepEqual([settings.component, settings.version], ["STM32", "3.1.0"]);
    deepEqual(settings.lin, {
      device: "/tmp/b.pty",
      flashFile: "/tmp/b.flash",
      flashSize: 1114112,
      prefsFile: "/tmp/b.prefs.json",
    });
  });
});
