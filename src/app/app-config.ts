// The app's settings: manifest.json's top-level `sota*` config keys, which `mcconfig ... sotaVersion=2.0.0` sets
// (as strings), parsed and checked here with errors that name the key. Portable: tested on Node and in XS.

import type { SotaEngineConfig } from "../sota/config.js";

export type Target = "esp32" | "lin" | "zephyr";
const TARGETS: readonly Target[] = ["esp32", "lin", "zephyr"];

/** Engine settings the board, the build or the code gives, never the manifest. */
type FromElsewhere = "component" | "slotSize" | "healthCheck" | "components";
/** The engine settings a build may set (absent ones take the engine's defaults). */
export type EngineSettings = Omit<SotaEngineConfig, FromElsewhere>;

type Kind =
  | { type: "string"; empty?: boolean }
  | { type: "int"; min: number; max: number }
  | { type: "bool" }
  | { type: "enum"; values: readonly string[] }
  | { type: "keys" };

const STRING: Kind = { type: "string" };
const OPTIONAL_STRING: Kind = { type: "string", empty: true };
const BOOL: Kind = { type: "bool" };
const KEYS: Kind = { type: "keys" };
const int = (min: number, max: number): Kind => ({ type: "int", min, max });
const MS = int(0, 0x7fffffff);
const PIN = int(-1, 48);

// Derived from the engine's config type: a new SotaEngineConfig key is a type error here until the app handles it.
// Config key = "sota" + the setting's name with a capital (planIntervalMs -> sotaPlanIntervalMs).
const ENGINE_KINDS = {
  allowDowngrade: BOOL,
  planIntervalMs: MS,
  maxReadLength: int(1, 4096),
  planWaitMs: MS,
  downloadStallMs: MS,
  downloadInfoWaitMs: MS,
  connectTimeoutMs: MS,
  // Empty means "leave the module's product settings alone".
  productKey: OPTIONAL_STRING,
  productSecret: OPTIONAL_STRING,
  acceptDifferential: BOOL,
  maxFailures: int(1, 1000),
  trialTimeoutMs: MS,
  nbIot: BOOL,
  healthCheckTimeoutMs: MS,
  flowControl: BOOL,
} as const satisfies Record<keyof EngineSettings, Kind>;

interface KeySpec {
  kind: Kind;
  /** The builds that read it; absent = every build. */
  targets?: readonly Target[];
  default?: unknown;
}

/** Every app key but the engine's, with its default (manifest.json lists the same values). */
const APP_KEYS = {
  sotaTarget: { kind: { type: "enum", values: TARGETS } },
  sotaComponent: { kind: STRING, default: "MCU" },
  sotaVersion: { kind: STRING, default: "1.0.0" },
  sotaDeviceId: { kind: STRING, default: "sota-dev-01" },
  sotaBaud: { kind: int(1200, 4_000_000), default: 115200 },
  sotaPrefsDomain: { kind: STRING, default: "sota" },
  sotaTrustKeys: { kind: KEYS, default: [] },
  sotaRevokedKeys: { kind: KEYS, default: [] },
  // ESP32: UART number and GPIOs, RTS/CTS for flowControl, the bootloader and the task watchdog.
  sotaUartPort: { kind: int(0, 2), targets: ["esp32"], default: 1 },
  sotaUartTransmit: { kind: PIN, targets: ["esp32"], default: 25 },
  sotaUartReceive: { kind: PIN, targets: ["esp32"], default: 26 },
  sotaUartRts: { kind: PIN, targets: ["esp32"], default: -1 },
  sotaUartCts: { kind: PIN, targets: ["esp32"], default: -1 },
  sotaAcceptNoRollback: { kind: BOOL, targets: ["esp32"], default: false },
  sotaWatchdogMs: { kind: int(1000, 0x7fffffff), targets: ["esp32"], default: 30000 },
  // Linux simulator: the module's tty/pty and this run's own files (relative names are under the file root, /tmp/).
  sotaDevice: { kind: STRING, targets: ["lin"], default: "/tmp/sota-module" },
  sotaFlashFile: { kind: STRING, targets: ["lin"], default: "sota-flash.bin" },
  sotaFlashSize: { kind: int(4096 * 8, 0x10000000), targets: ["lin"], default: 1114112 },
  sotaPrefsFile: { kind: STRING, targets: ["lin"], default: "sota-prefs.json" },
  // Zephyr (STM32): devicetree names of the module's UART and the flash partitions, MCUboot's swap mode; the
  // defaults are zephyr/stm32u5a9j_dk's with hal/moddable/zephyr/stm32u5a9j_dk.overlay (docs/stm32-zephyr.md).
  sotaSerial: { kind: STRING, targets: ["zephyr"], default: "usart3" },
  sotaSlot0: { kind: STRING, targets: ["zephyr"], default: "image-0" },
  sotaSlot1: { kind: STRING, targets: ["zephyr"], default: "image-1" },
  sotaStorage: { kind: STRING, targets: ["zephyr"], default: "sota-records" },
  sotaSwapMode: {
    kind: { type: "enum", values: ["scratch", "move", "offset"] },
    targets: ["zephyr"],
    default: "offset",
  },
  sotaMaxAlign: { kind: { type: "enum", values: ["8", "16", "32"] }, targets: ["zephyr"], default: 16 },
} as const satisfies Record<string, KeySpec>;

/**
 * Top-level keys other modules of the app parse (listed so the unknown-key check lets them through):
 * `sotaComponents`, the several-components setting (src/app/components-config.ts).
 */
export const KEYS_READ_ELSEWHERE: readonly string[] = ["sotaComponents"];

export interface AppSettings {
  target: Target;
  component: string;
  version: string;
  deviceId: string;
  baud: number;
  prefsDomain: string;
  trustKeys: string[];
  revokedKeys: string[];
  /** Only the engine settings the config has (an explicit undefined would replace the engine's default). */
  engine: Partial<EngineSettings>;
  esp32: {
    uartPort: number;
    uartTransmit: number;
    uartReceive: number;
    uartRts: number;
    uartCts: number;
    acceptNoRollback: boolean;
    watchdogMs: number;
  };
  lin: { device: string; flashFile: string; flashSize: number; prefsFile: string };
  zephyr: {
    serial: string;
    slot0: string;
    slot1: string;
    storage: string;
    swapMode: "scratch" | "move" | "offset";
    maxAlign: 8 | 16 | 32;
  };
}

export class AppConfigError extends Error {
  override name = "AppConfigError";
}

const capital = (name: string): string => name[0]!.toUpperCase() + name.slice(1);
const ENGINE_NAMES = Object.keys(ENGINE_KINDS) as (keyof EngineSettings)[];
const ALL_SPECS: Record<string, KeySpec> = { ...APP_KEYS };
for (const name of ENGINE_NAMES) ALL_SPECS["sota" + capital(name)] = { kind: ENGINE_KINDS[name] };

/** Every top-level key this module reads, e.g. for a README table or a check of manifest.json. */
export const CONFIG_KEYS: readonly string[] = Object.keys(ALL_SPECS);

/** The key a mistyped or old-style name probably meant ("sota.version" or "sota.uart.port" -> sotaVersion, sotaUartPort). */
function suggestion(key: string): string {
  const parts = key
    .split(/[._-]/)
    .filter((part) => part !== "")
    .map((part, index) => (index === 0 ? part : capital(part)));
  const guess = parts.join("");
  const lower = guess.toLowerCase();
  const found = CONFIG_KEYS.find((name) => name.toLowerCase() === lower);
  return found ? `; did you mean ${found}?` : "";
}

function where(value: unknown): string {
  return typeof value === "string" ? `"${value}"` : JSON.stringify(value);
}

function parseValue(key: string, kind: Kind, value: unknown): unknown {
  const bad = (what: string): AppConfigError =>
    new AppConfigError(`config key ${key}: ${where(value)} is not ${what}`);
  switch (kind.type) {
    case "string":
      if (typeof value !== "string") throw bad("a string");
      if (value === "" && !kind.empty) throw bad("a non-empty string");
      return value;
    case "int": {
      let number: number;
      if (typeof value === "number") number = value;
      else if (typeof value === "string" && /^-?(\d+|0x[0-9a-f]+)$/i.test(value.trim()))
        number = value.trim().startsWith("-") ? -Number(value.trim().slice(1)) : Number(value.trim());
      else throw bad("an integer");
      if (!Number.isInteger(number)) throw bad("an integer");
      if (number < kind.min || number > kind.max) throw bad(`in ${kind.min}..${kind.max}`);
      return number;
    }
    case "bool":
      if (value === true || value === "true" || value === "1" || value === 1) return true;
      if (value === false || value === "false" || value === "0" || value === 0) return false;
      throw bad("true or false");
    case "enum": {
      const text = typeof value === "number" ? String(value) : value;
      if (typeof text !== "string" || !kind.values.includes(text))
        throw bad(`one of ${kind.values.join(", ")}`);
      return text;
    }
    case "keys":
      return parseKeys(key, value);
  }
}

/**
 * A key list: an array of strings, or one string (the command line): a JSON array, PEM blocks one after the
 * other, or comma-separated key hashes; "" is none.
 */
function parseKeys(key: string, value: unknown): string[] {
  let list: unknown = value;
  if (typeof value === "string") {
    const text = value.trim();
    if (text === "") list = [];
    else if (text.startsWith("[")) {
      try {
        list = JSON.parse(text);
      } catch {
        throw new AppConfigError(`config key ${key}: not a JSON array of strings`);
      }
    } else if (text.includes("-----BEGIN "))
      // A broken PEM is an error, not an empty list: a revocation must not vanish silently.
      list = text.match(/-----BEGIN [^-]+-----[^]*?-----END [^-]+-----/g);
    else list = text.split(",").map((item) => item.trim());
  }
  if (!Array.isArray(list) || list.some((item) => typeof item !== "string" || item === ""))
    throw new AppConfigError(`config key ${key}: ${where(value)} is not a list of PEM keys or key hashes`);
  return list as string[];
}

/**
 * Parses the build's `mc/config`. Throws AppConfigError naming the key for a malformed value, an unknown
 * `sota*` key (a silently unused key is worse), a key of another target's build, or the old nested `sota` object.
 */
export function parseAppConfig(config: Readonly<Record<string, unknown>>): AppSettings {
  if ("sota" in config)
    throw new AppConfigError(
      "config.sota (a nested object) is no longer read: use top-level keys (sota.version -> sotaVersion, " +
        "sota.uart.port -> sotaUartPort; the list is in src/app/README.md)",
    );
  if (!("sotaTarget" in config))
    throw new AppConfigError("config key sotaTarget is missing (manifest.json sets it per platform)");
  const target = parseValue("sotaTarget", APP_KEYS.sotaTarget.kind, config.sotaTarget) as Target;
  const values: Record<string, unknown> = {};
  for (const key of Object.keys(config)) {
    if (!/^sota/i.test(key) || KEYS_READ_ELSEWHERE.includes(key)) continue;
    const spec = ALL_SPECS[key];
    if (!spec) throw new AppConfigError(`unknown config key ${key}${suggestion(key)}`);
    if (spec.targets && !spec.targets.includes(target))
      throw new AppConfigError(
        `config key ${key} applies to ${spec.targets.join(", ")} builds only, not ${target}`,
      );
    values[key] = parseValue(key, spec.kind, config[key]);
  }
  const get = <T>(key: keyof typeof APP_KEYS): T =>
    (key in values ? values[key] : (APP_KEYS[key] as KeySpec).default) as T;
  const engine: Record<string, unknown> = {};
  for (const name of ENGINE_NAMES) {
    const value = values["sota" + capital(name)];
    if (value !== undefined && value !== "") engine[name] = value;
  }
  return {
    target,
    component: get("sotaComponent"),
    version: get("sotaVersion"),
    deviceId: get("sotaDeviceId"),
    baud: get("sotaBaud"),
    prefsDomain: get("sotaPrefsDomain"),
    trustKeys: get("sotaTrustKeys"),
    revokedKeys: get("sotaRevokedKeys"),
    engine: engine as Partial<EngineSettings>,
    esp32: {
      uartPort: get("sotaUartPort"),
      uartTransmit: get("sotaUartTransmit"),
      uartReceive: get("sotaUartReceive"),
      uartRts: get("sotaUartRts"),
      uartCts: get("sotaUartCts"),
      acceptNoRollback: get("sotaAcceptNoRollback"),
      watchdogMs: get("sotaWatchdogMs"),
    },
    lin: {
      device: get("sotaDevice"),
      flashFile: get("sotaFlashFile"),
      flashSize: get("sotaFlashSize"),
      prefsFile: get("sotaPrefsFile"),
    },
    zephyr: {
      serial: get("sotaSerial"),
      slot0: get("sotaSlot0"),
      slot1: get("sotaSlot1"),
      storage: get("sotaStorage"),
      swapMode: get("sotaSwapMode"),
      maxAlign: Number(get("sotaMaxAlign")) as 8 | 16 | 32,
    },
  };
}

/** A file name of the config: absolute as given, else under the platform's file root (lin: /tmp/). */
export function resolvePath(root: string, name: string): string {
  return name.startsWith("/") ? name : root + name;
}
