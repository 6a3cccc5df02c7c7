// Proves the folder arrows of eslint.config.js bite: one forbidden import per rule, linted as if it sat at a real
// path of the repository, must be an error; the imports each layer is allowed must pass.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ESLint } from "eslint";
import { deepEqual, equal } from "../lib/assert.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** [file it is placed at, import specifier]: each one crosses an arrow the wrong way. */
const FORBIDDEN: Array<[string, string]> = [
  // image never imports boot (boot imports image).
  ["src/image/x.ts", "../boot/layout.js"],
  // the engine reaches the module through the client only.
  ["src/sota/x.ts", "../at/transport.js"],
  ["src/sota/x.ts", "../../hal/serial.js"],
  // each layer imports only the layers below it.
  ["src/at/x.ts", "../quecthing/commands.js"],
  ["src/quecthing/x.ts", "../sota/engine.js"],
  ["src/flash-format/x.ts", "../image/types.js"],
  ["src/image/x.ts", "../sota/policy.js"],
  ["src/boot/x.ts", "../sota/engine.js"],
  ["src/boot/esp32/x.ts", "../../quecthing/commands.js"],
  ["src/package/x.ts", "../sota/engine.js"],
  ["src/delta/x.ts", "../boot/types.js"],
  ["src/at/x.ts", "../package/verifier.js"],
  // nothing in src/ but the app imports the app.
  ["src/sota/x.ts", "../app/main.js"],
  // the core imports ports, never their implementations, tools, tests or benchmarks.
  ["src/boot/x.ts", "../../hal/moddable/kv.js"],
  ["src/image/x.ts", "../../hal/sim/nor-flash.js"],
  ["src/at/x.ts", "../../hal/host/host-serial.js"],
  ["src/boot/x.ts", "../../tools/sim/device.js"],
  ["src/quecthing/x.ts", "../../test/lib/assert.js"],
  ["src/sota/x.ts", "../../bench/transport-workload.js"],
  // the portable core imports no Node or Moddable module.
  ["src/at/x.ts", "node:fs"],
  ["src/image/x.ts", "embedded:io/serial"],
  ["src/boot/x.ts", "preference"],
  ["hal/sim/x.ts", "node:crypto"],
  ["hal/x.ts", "mc/config"],
  // the app is a Moddable program: no Node, no simulator, no tools.
  ["src/app/x.ts", "../../hal/sim/memory-kv.js"],
  ["src/app/x.ts", "../../hal/host/json-kv.js"],
  ["src/app/x.ts", "../../tools/sim/device.js"],
  ["src/app/x.ts", "node:fs"],
  // ports hold interfaces and shared rules: they import only each other.
  ["hal/x.ts", "../src/boot/types.js"],
  ["hal/x.ts", "./sim/memory-kv.js"],
  // port implementations import only the ports and their own folder.
  ["hal/host/x.ts", "../../src/boot/types.js"],
  ["hal/moddable/x.ts", "../../src/boot/esp32/esp32-boot.js"],
  ["hal/moddable/x.ts", "../sim/nor-flash.js"],
  ["hal/sim/x.ts", "../../tools/sim/device.js"],
  ["hal/moddable/x.ts", "node:fs"],
  ["hal/host/x.ts", "embedded:io/serial"],
  // benchmarks share helpers through tools/, never test/.
  ["bench/x.ts", "../test/xs/harness.js"],
];

/** Imports each place may make. */
const ALLOWED: Array<[string, string]> = [
  ["src/at/x.ts", "../../hal/serial.js"],
  ["src/quecthing/x.ts", "../at/transport.js"],
  ["src/flash-format/x.ts", "../../hal/flash.js"],
  ["src/image/x.ts", "../flash-format/layout.js"],
  ["src/boot/x.ts", "../image/receiver.js"],
  ["src/boot/x.ts", "../flash-format/crc32.js"],
  ["src/boot/esp32/x.ts", "../../../hal/ota.js"],
  ["src/sota/x.ts", "../quecthing/commands.js"],
  ["src/sota/x.ts", "../boot/types.js"],
  ["src/sota/x.ts", "../image/types.js"],
  ["src/app/x.ts", "../sota/engine.js"],
  ["src/app/x.ts", "../boot/esp32/esp32-boot.js"],
  ["src/app/x.ts", "../../hal/moddable/clock.js"],
  ["src/app/x.ts", "mc/config"],
  ["hal/x.ts", "./flash.js"],
  ["hal/sim/x.ts", "../clock.js"],
  ["hal/sim/x.ts", "./nor-flash.js"],
  ["hal/host/x.ts", "node:fs"],
  ["hal/moddable/x.ts", "embedded:io/serial"],
  ["hal/moddable/x.ts", "./serial-queue.js"],
  ["tools/sim/x.ts", "../../src/boot/generic-boot.js"],
  ["test/src/x.ts", "../../hal/sim/nor-flash.js"],
  ["bench/x.ts", "../tools/xs/xsnap-worker.js"],
];

describe("eslint: the folder arrows", function () {
  this.timeout(60_000);
  let eslint: ESLint;
  before(() => {
    eslint = new ESLint({ cwd: root });
  });

  async function restrictedImports(file: string, specifier: string): Promise<string[]> {
    const [result] = await eslint.lintText(`import "${specifier}";\n`, { filePath: path.join(root, file) });
    equal(result!.fatalErrorCount, 0, `${file}: ${result!.messages.map((m) => m.message).join("; ")}`);
    return result!.messages.map((m) => `${m.ruleId} ${m.severity}`);
  }

  for (const [file, specifier] of FORBIDDEN) {
    it(`${file} importing ${specifier} is an error`, async () => {
      deepEqual(await restrictedImports(file, specifier), ["no-restricted-imports 2"]);
    });
  }

  it("every import a layer may make passes", async () => {
    const failures: string[] = [];
    for (const [file, specifier] of ALLOWED) {
      const messages = await restrictedImports(file, specifier);
      if (messages.length > 0) failures.push(`${file} -> ${specifier}: ${messages.join(", ")}`);
    }
    deepEqual(failures, []);
  });
});
