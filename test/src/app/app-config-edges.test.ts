// Edge cases of the app's config parsers found by mutation testing: each rule's bound and exact message, the
// defaults of each build's keys, number and key-list forms. Portable (Node and XS).

import { deepEqual, equal, ok } from "../../lib/assert.js";
import { AppConfigError, CONFIG_KEYS, parseAppConfig } from "../../../src/app/app-config.js";
import { engineComponents, parseComponentsConfig } from "../../../src/app/components-config.js";

function errorOf(config: Record<string, unknown>): string {
  try {
    parseAppConfig(config);
  } catch (error) {
    ok(error instanceof AppConfigError, `not an AppConfigError: ${String(error)}`);
    equal(error.name, "AppConfigError");
    return error.message;
  }
  throw new Error("expected an AppConfigError, none was thrown");
}

function componentsError(value: unknown): string {
  try {
    parseComponentsConfig(value);
  } catch (error) {
    ok(error instanceof Error);
    return (error as Error).message;
  }
  throw new Error("expected an Error, none was thrown");
}

const ENTRY = { id: "logic", kind: "mod", version: "1", size: 4096 };

describe("src/app/app-config edges", () => {
  it("integers: bounds just inside and just outside, signs, hex, blanks", () => {
    const lin = (extra: Record<string, unknown>): ReturnType<typeof parseAppConfig> =>
      parseAppConfig({ sotaTarget: "lin", ...extra });
    equal(lin({ sotaBaud: 1200 }).baud, 1200);
    equal(lin({ sotaBaud: "4000000" }).baud, 4000000);
    equal(
      errorOf({ sotaTarget: "lin", sotaBaud: 1199 }),
      "config key sotaBaud: 1199 is not in 1200..4000000",
    );
    equal(
      errorOf({ sotaTarget: "lin", sotaBaud: 4000001 }),
      "config key sotaBaud: 4000001 is not in 1200..4000000",
    );
    equal(lin({ sotaBaud: " 0X1C200 " }).baud, 115200);
    equal(lin({ sotaMaxReadLength: "1" }).engine.maxReadLength, 1);
    equal(lin({ sotaMaxReadLength: 4096 }).engine.maxReadLength, 4096);
    equal(
      errorOf({ sotaTarget: "lin", sotaMaxReadLength: "4097" }),
      'config key sotaMaxReadLength: "4097" is not in 1..4096',
    );
    equal(lin({ sotaFlashSize: "32768" }).lin.flashSize, 32768);
    equal(
      errorOf({ sotaTarget: "lin", sotaFlashSize: 32767 }),
      "config key sotaFlashSize: 32767 is not in 32768..268435456",
    );
    equal(lin({ sotaPlanWaitMs: "0x7fffffff" }).engine.planWaitMs, 0x7fffffff);
    equal(
      errorOf({ sotaTarget: "lin", sotaPlanWaitMs: "-1" }),
      'config key sotaPlanWaitMs: "-1" is not in 0..2147483647',
    );
    equal(lin({ sotaMaxFailures: "1000" }).engine.maxFailures, 1000);
    equal(
      errorOf({ sotaTarget: "lin", sotaMaxFailures: 1001 }),
      "config key sotaMaxFailures: 1001 is not in 1..1000",
    );
    const esp = parseAppConfig({
      sotaTarget: "esp32",
      sotaUartRts: "-1",
      sotaUartCts: " 48 ",
      sotaUartPort: "0",
      sotaUartTransmit: " -0x1 ",
      sotaWatchdogMs: "1000",
    }).esp32;
    deepEqual(
      [esp.uartRts, esp.uartCts, esp.uartPort, esp.uartTransmit, esp.watchdogMs],
      [-1, 48, 0, -1, 1000],
    );
    equal(
      errorOf({ sotaTarget: "esp32", sotaUartRts: "-2" }),
      'config key sotaUartRts: "-2" is not in -1..48',
    );
    equal(errorOf({ sotaTarget: "esp32", sotaUartCts: 49 }), "config key sotaUartCts: 49 is not in -1..48");
    equal(errorOf({ sotaTarget: "esp32", sotaUartPort: "3" }), 'config key sotaUartPort: "3" is not in 0..2');
    equal(
      errorOf({ sotaTarget: "esp32", sotaWatchdogMs: 999 }),
      "config key sotaWatchdogMs: 999 is not in 1000..2147483647",
    );
    for (const text of ["1 2", "x12", "12x", "1e3", "--1", "0x", "", "+1"])
      equal(
        errorOf({ sotaTarget: "lin", sotaBaud: text }),
        `config key sotaBaud: "${text}" is not an integer`,
      );
    equal(errorOf({ sotaTarget: "lin", sotaBaud: true }), "config key sotaBaud: true is not an integer");
    equal(errorOf({ sotaTarget: "lin", sotaBaud: null }), "config key sotaBaud: null is not an integer");
  });

  it("booleans: every accepted form, and near misses", () => {
    const bool = (value: unknown): unknown =>
      parseAppConfig({ sotaTarget: "lin", sotaNbIot: value }).engine.nbIot;
    deepEqual([true, "true", "1", 1].map(bool), [true, true, true, true]);
    deepEqual([false, "false", "0", 0].map(bool), [false, false, false, false]);
    for (const value of ["TRUE", "2", 2, "", "no"])
      equal(
        errorOf({ sotaTarget: "lin", sotaNbIot: value }),
        `config key sotaNbIot: ${typeof value === "string" ? `"${value}"` : String(value)} is not true or false`,
      );
    const all = parseAppConfig({
      sotaTarget: "esp32",
      sotaAllowDowngrade: "1",
      sotaAcceptDifferential: 0,
      sotaAcceptNoRollback: "true",
    });
    deepEqual(all.engine, { allowDowngrade: true, acceptDifferential: false });
    equal(all.esp32.acceptNoRollback, true);
  });

  it("strings and enums: empty allowed only for the product settings, numbers for the alignment", () => {
    equal(
      errorOf({ sotaTarget: "lin", sotaDevice: "" }),
      'config key sotaDevice: "" is not a non-empty string',
    );
    equal(errorOf({ sotaTarget: "lin", sotaProductKey: 7 }), "config key sotaProductKey: 7 is not a string");
    deepEqual(parseAppConfig({ sotaTarget: "lin", sotaProductKey: "pk", sotaProductSecret: "" }).engine, {
      productKey: "pk",
    });
    const zephyr = parseAppConfig({ sotaTarget: "zephyr", sotaMaxAlign: 32, sotaSwapMode: "scratch" }).zephyr;
    deepEqual([zephyr.maxAlign, zephyr.swapMode], [32, "scratch"]);
    equal(
      errorOf({ sotaTarget: "zephyr", sotaMaxAlign: 4 }),
      "config key sotaMaxAlign: 4 is not one of 8, 16, 32",
    );
    equal(
      errorOf({ sotaTarget: "zephyr", sotaMaxAlign: true }),
      "config key sotaMaxAlign: true is not one of 8, 16, 32",
    );
    equal(
      errorOf({ sotaTarget: "zephyr", sotaMaxAlign: ["8"] }),
      'config key sotaMaxAlign: ["8"] is not one of 8, 16, 32',
    );
    equal(errorOf({ sotaTarget: 1 }), "config key sotaTarget: 1 is not one of esp32, lin, zephyr");
    deepEqual(
      parseAppConfig({
        sotaTarget: "zephyr",
        sotaSerial: "usart1",
        sotaSlot0: "a",
        sotaSlot1: "b",
        sotaStorage: "c",
        sotaDeviceId: "d",
        sotaPrefsDomain: "e",
        sotaComponent: "f",
      }).zephyr,
      { serial: "usart1", slot0: "a", slot1: "b", storage: "c", swapMode: "offset", maxAlign: 16 },
    );
  });

  it("key lists: blanks, PEM blocks among other text, JSON that is no list", () => {
    const keys = (value: unknown): string[] =>
      parseAppConfig({ sotaTarget: "lin", sotaRevokedKeys: value }).revokedKeys;
    deepEqual(keys("   "), []);
    deepEqual(keys(" [] "), []);
    deepEqual(keys("ab"), ["ab"]);
    deepEqual(keys(["a", "b"]), ["a", "b"]);
    const pem = "-----BEGIN PUBLIC KEY-----\nQQ\n-----END PUBLIC KEY-----";
    deepEqual(keys(`junk ${pem} more`), [pem]);
    equal(
      errorOf({ sotaTarget: "lin", sotaRevokedKeys: "-----BEGIN nothing" }),
      'config key sotaRevokedKeys: "-----BEGIN nothing" is not a list of PEM keys or key hashes',
    );
    equal(
      errorOf({ sotaTarget: "lin", sotaRevokedKeys: "a,,b" }),
      'config key sotaRevokedKeys: "a,,b" is not a list of PEM keys or key hashes',
    );
    equal(
      errorOf({ sotaTarget: "lin", sotaRevokedKeys: '["a",""]' }),
      'config key sotaRevokedKeys: "[\\"a\\",\\"\\"]" is not a list of PEM keys or key hashes'.replace(
        /\\"/g,
        '"',
      ),
    );
    equal(
      errorOf({ sotaTarget: "lin", sotaRevokedKeys: "[1" }),
      "config key sotaRevokedKeys: not a JSON array of strings",
    );
    equal(
      errorOf({ sotaTarget: "lin", sotaRevokedKeys: 5 }),
      "config key sotaRevokedKeys: 5 is not a list of PEM keys or key hashes",
    );
    equal(
      errorOf({ sotaTarget: "lin", sotaRevokedKeys: { a: "b" } }),
      'config key sotaRevokedKeys: {"a":"b"} is not a list of PEM keys or key hashes',
    );
  });

  it("key names: suggestions from dashes, underscores and case; SOTA keys of any case are checked", () => {
    equal(
      errorOf({ sotaTarget: "lin", "sota-flash_file": "x" }),
      "unknown config key sota-flash_file; did you mean sotaFlashFile?",
    );
    equal(
      errorOf({ sotaTarget: "lin", "sota..version": "x" }),
      "unknown config key sota..version; did you mean sotaVersion?",
    );
    equal(
      errorOf({ sotaTarget: "lin", SOTAVERSION: "x" }),
      "unknown config key SOTAVERSION; did you mean sotaVersion?",
    );
    equal(
      errorOf({ sotaTarget: "lin", xsotaVersion: "x", sotaBaud: "x" }),
      'config key sotaBaud: "x" is not an integer',
    );
    equal(
      errorOf({ sotaTarget: "lin", sota: "x" }),
      "config.sota (a nested object) is no longer read: use top-level keys (sota.version -> sotaVersion, " +
        "sota.uart.port -> sotaUartPort; the list is in src/app/README.md)",
    );
    equal(
      errorOf({ sotaTarget: "lin", sotaSerial: "x" }),
      "config key sotaSerial applies to zephyr builds only, not lin",
    );
    equal(CONFIG_KEYS[0], "sotaTarget");
    ok(CONFIG_KEYS.includes("sotaFlowControl"));
    ok(CONFIG_KEYS.includes("sotaConnectTimeoutMs"));
  });
});

describe("src/app/components-config edges", () => {
  it("each field's bound and exact message", () => {
    equal(componentsError("{"), "sotaComponents: not JSON (give an array of { id, kind, version, size })");
    equal(componentsError({}), "sotaComponents: expected an array");
    equal(componentsError('"x"'), "sotaComponents: expected an array");
    equal(componentsError([ENTRY, null]), "sotaComponents[1]: expected an object");
    equal(componentsError([7]), "sotaComponents[0]: expected an object");
    equal(componentsError([{ ...ENTRY, id: 7 }]), "sotaComponents[0].id: 1-32 of A-Z a-z 0-9 . _ -");
    equal(componentsError([{ ...ENTRY, id: "" }]), "sotaComponents[0].id: 1-32 of A-Z a-z 0-9 . _ -");
    equal(
      componentsError([{ ...ENTRY, id: "a".repeat(33) }]),
      "sotaComponents[0].id: 1-32 of A-Z a-z 0-9 . _ -",
    );
    equal(componentsError([{ ...ENTRY, id: "a b" }]), "sotaComponents[0].id: 1-32 of A-Z a-z 0-9 . _ -");
    equal(componentsError([{ ...ENTRY, kind: "image" }]), 'sotaComponents[0].kind: "data" or "mod"');
    equal(
      componentsError([{ ...ENTRY, version: 1 }]),
      "sotaComponents[0].version: 1-64 of A-Z a-z 0-9 . _ -",
    );
    equal(
      componentsError([{ ...ENTRY, version: "" }]),
      "sotaComponents[0].version: 1-64 of A-Z a-z 0-9 . _ -",
    );
    equal(
      componentsError([{ ...ENTRY, version: "1".repeat(65) }]),
      "sotaComponents[0].version: 1-64 of A-Z a-z 0-9 . _ -",
    );
    equal(
      componentsError([{ ...ENTRY, version: "1/2" }]),
      "sotaComponents[0].version: 1-64 of A-Z a-z 0-9 . _ -",
    );
    for (const size of ["4096", 4096.5, 0, 4095, 8191, -4096])
      equal(
        componentsError([{ ...ENTRY, size }]),
        "sotaComponents[0].size: a whole number of 4096-byte blocks",
      );
  });

  it("the widest accepted entries, and the engine's view of them", () => {
    const id = "Az09._-" + "x".repeat(25);
    const version = "Az09._-" + "1".repeat(57);
    const list = [
      { id, kind: "data", version, size: 8192, extra: true },
      { id: "b", kind: "mod", version: "2", size: 4096 },
    ];
    deepEqual(parseComponentsConfig(list), [
      { id, kind: "data", version, size: 8192 },
      { id: "b", kind: "mod", version: "2", size: 4096 },
    ]);
    deepEqual(engineComponents(parseComponentsConfig(list)), [
      { id, kind: "data", area: id, backup: `${id}.bak`, version },
      { id: "b", kind: "mod", area: "b", backup: "b.bak", version: "2" },
    ]);
  });
});
