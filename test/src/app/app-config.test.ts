// The app's top-level config keys: values from the command line arrive as strings and are parsed; every bad,
// unknown, misplaced or old-style key stops the app with a message naming it. Portable (Node and XS).

import { deepEqual, equal, ok } from "../../lib/assert.js";
import { AppConfigError, CONFIG_KEYS, parseAppConfig, resolvePath } from "../../../src/app/app-config.js";

const PEM_A = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----";
const PEM_B = "-----BEGIN PUBLIC KEY-----\nBBBB\n-----END PUBLIC KEY-----";

function errorOf(config: Record<string, unknown>): string {
  try {
    parseAppConfig(config);
  } catch (error) {
    ok(error instanceof AppConfigError, `not an AppConfigError: ${String(error)}`);
    return error.message;
  }
  throw new Error("expected an AppConfigError, none was thrown");
}

describe("src/app/app-config", () => {
  it("defaults: every key but sotaTarget may be left out", () => {
    deepEqual(parseAppConfig({ sotaTarget: "lin" }), {
      target: "lin",
      component: "MCU",
      version: "1.0.0",
      deviceId: "sota-dev-01",
      baud: 115200,
      prefsDomain: "sota",
      trustKeys: [],
      revokedKeys: [],
      engine: {},
      esp32: {
        uartPort: 1,
        uartTransmit: 25,
        uartReceive: 26,
        uartRts: -1,
        uartCts: -1,
        acceptNoRollback: false,
        watchdogMs: 30000,
      },
      lin: {
        device: "/tmp/sota-module",
        flashFile: "sota-flash.bin",
        flashSize: 1114112,
        prefsFile: "sota-prefs.json",
      },
      zephyr: {
        serial: "usart3",
        slot0: "image-0",
        slot1: "image-1",
        storage: "sota-records",
        swapMode: "offset",
        maxAlign: 16,
      },
    });
  });

  it("command-line strings: numbers (decimal or hex), booleans, names", () => {
    const settings = parseAppConfig({
      sotaTarget: "lin",
      sotaComponent: "STM32",
      sotaVersion: "3.1.0",
      sotaBaud: "921600",
      sotaFlashSize: "0x110000",
      sotaDevice: "/tmp/b.pty",
      sotaFlashFile: "/tmp/b.flash",
      sotaPrefsFile: "b.json",
      sotaFlowControl: "true",
      sotaNbIot: "0",
      sotaMaxReadLength: "512",
      sotaPlanIntervalMs: 60000,
    });
    equal(settings.component, "STM32");
    equal(settings.version, "3.1.0");
    equal(settings.baud, 921600);
    deepEqual(settings.lin, {
      device: "/tmp/b.pty",
      flashFile: "/tmp/b.flash",
      flashSize: 0x110000,
      prefsFile: "b.json",
    });
    deepEqual(settings.engine, {
      planIntervalMs: 60000,
      maxReadLength: 512,
      nbIot: false,
      flowControl: true,
    });
  });

  it("engine settings: only those given; an empty product key leaves the module's alone", () => {
    deepEqual(parseAppConfig({ sotaTarget: "esp32", sotaProductKey: "", sotaProductSecret: "s" }).engine, {
      productSecret: "s",
    });
  });

  it("zephyr: swap mode and maximum alignment", () => {
    const settings = parseAppConfig({ sotaTarget: "zephyr", sotaSwapMode: "move", sotaMaxAlign: "8" });
    equal(settings.zephyr.swapMode, "move");
    equal(settings.zephyr.maxAlign, 8);
  });

  it("key lists: an array, PEM blocks in one string, comma-separated hashes, a JSON array, or empty", () => {
    const parse = (value: unknown): string[] =>
      parseAppConfig({ sotaTarget: "lin", sotaTrustKeys: value }).trustKeys;
    deepEqual(parse([PEM_A]), [PEM_A]);
    deepEqual(parse(`${PEM_A}\n${PEM_B}\n`), [PEM_A, PEM_B]);
    deepEqual(parse("ab12, cd34"), ["ab12", "cd34"]);
    deepEqual(parse(JSON.stringify([PEM_B])), [PEM_B]);
    deepEqual(parse(""), []);
  });

  it("malformed values: the message names the key and the value", () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ sotaBaud: "fast" }, 'config key sotaBaud: "fast" is not an integer'],
      [{ sotaBaud: "9600.5" }, 'config key sotaBaud: "9600.5" is not an integer'],
      [{ sotaBaud: 9600.5 }, "config key sotaBaud: 9600.5 is not an integer"],
      [{ sotaBaud: "100" }, 'config key sotaBaud: "100" is not in 1200..4000000'],
      [{ sotaFlowControl: "yes" }, 'config key sotaFlowControl: "yes" is not true or false'],
      [{ sotaVersion: "" }, 'config key sotaVersion: "" is not a non-empty string'],
      [{ sotaVersion: 2 }, "config key sotaVersion: 2 is not a string"],
      [{ sotaMaxReadLength: "0" }, 'config key sotaMaxReadLength: "0" is not in 1..4096'],
      [{ sotaTrustKeys: "[1," }, "config key sotaTrustKeys: not a JSON array of strings"],
      [{ sotaTrustKeys: [1] }, "config key sotaTrustKeys: [1] is not a list of PEM keys or key hashes"],
    ];
    for (const [config, message] of cases) equal(errorOf({ sotaTarget: "lin", ...config }), message);
  });

  it("unknown keys, old dotted or nested keys, and keys of another build stop the app", () => {
    equal(
      errorOf({ sotaTarget: "lin", "sota.version": "2.0.0" }),
      "unknown config key sota.version; did you mean sotaVersion?",
    );
    equal(
      errorOf({ sotaTarget: "esp32", "sota.uart.port": "2" }),
      "unknown config key sota.uart.port; did you mean sotaUartPort?",
    );
    equal(
      errorOf({ sotaTarget: "lin", sotaversion: "2" }),
      "unknown config key sotaversion; did you mean sotaVersion?",
    );
    equal(errorOf({ sotaTarget: "lin", sotaColour: "red" }), "unknown config key sotaColour");
    ok(
      errorOf({ sotaTarget: "lin", sota: { version: "2.0.0" } }).startsWith(
        "config.sota (a nested object) is no longer read",
      ),
    );
    equal(
      errorOf({ sotaTarget: "esp32", sotaDevice: "/dev/ttyS1" }),
      "config key sotaDevice applies to lin builds only, not esp32",
    );
    equal(
      errorOf({ sotaTarget: "lin", sotaUartPort: 2 }),
      "config key sotaUartPort applies to esp32 builds only, not lin",
    );
    equal(
      errorOf({ sotaTarget: "lin", sotaSwapMode: "move" }),
      "config key sotaSwapMode applies to zephyr builds only, not lin",
    );
    equal(
      errorOf({ sotaVersion: "1" }),
      "config key sotaTarget is missing (manifest.json sets it per platform)",
    );
    equal(errorOf({ sotaTarget: "pico" }), 'config key sotaTarget: "pico" is not one of esp32, lin, zephyr');
    equal(
      errorOf({ sotaTarget: "zephyr", sotaSwapMode: "xip" }),
      'config key sotaSwapMode: "xip" is not one of scratch, move, offset',
    );
  });

  it("other keys pass: the SDK's own, and sotaComponents (parsed by its own module)", () => {
    equal(
      parseAppConfig({
        sotaTarget: "lin",
        file: { root: "/tmp/" },
        sntp: "pool.ntp.org",
        sotaComponents: "x",
      }).target,
      "lin",
    );
  });

  it("every engine setting has a key, named sota + its name", () => {
    for (const name of [
      "sotaAllowDowngrade",
      "sotaPlanWaitMs",
      "sotaDownloadStallMs",
      "sotaHealthCheckTimeoutMs",
    ])
      ok(CONFIG_KEYS.includes(name), name);
    equal(CONFIG_KEYS.length, 40);
  });

  it("file names: absolute as given, else under the file root", () => {
    equal(resolvePath("/tmp/", "a.flash"), "/tmp/a.flash");
    equal(resolvePath("/tmp/", "/var/b.flash"), "/var/b.flash");
  });
});
