// Developer Center upgrade plan: parse and validate the plan JSON (errors name the field) and match it to a device.

import { validateFault, FaultSpecError, type Fault } from "./faults.js";
import { DEFAULT_SETTINGS, type ModuleSettings } from "./settings.js";

export interface PlanComponent {
  /** Component id as the device reports it with AT+QIOTMCUVER (1-32 bytes). */
  id: string;
  /** full: any other running version; diff: only from sourceVersion. */
  type: "full" | "diff";
  /** "" for a full package. */
  sourceVersion: string;
  targetVersion: string;
  /** Package file, relative to the plan file. */
  package: string;
  /** Minimum battery in % (printed in 10700; the device decides). */
  minBattery: number;
  /** Minimum signal in dBm (printed in 10700; the device decides); 0 when the plan has none (docs/protocol.md §9a: missing numbers print 0). */
  minSignal: number;
  /** Device ids allowed (empty = all). */
  whitelist: string[];
  /** Device ids excluded; wins over the whitelist. */
  blacklist: string[];
}

export interface Plan {
  /** Product key the plan belongs to; devices of another product get nothing. "" = any. */
  product: string;
  /** Product secret, used when the plan pre-configures productinfo in the module. */
  productSecret: string;
  components: PlanComponent[];
  settings: Partial<ModuleSettings>;
  faults: Fault[];
}

export class PlanError extends Error {
  constructor(
    readonly field: string,
    detail: string,
  ) {
    super(`plan: ${field}: ${detail}`);
    this.name = "PlanError";
  }
}

const FORBIDDEN = /[":;,]/;

function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c < 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function checkKeys(object: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const key of Object.keys(object)) {
    if (!allowed.includes(key))
      throw new PlanError(where ? `${where}.${key}` : key, `unknown field (allowed: ${allowed.join(", ")})`);
  }
}

function text(value: unknown, field: string, min: number, max: number): string {
  if (typeof value !== "string")
    throw new PlanError(field, `expected a string, got ${JSON.stringify(value)}`);
  const length = utf8Length(value);
  if (length < min || length > max)
    throw new PlanError(field, `length ${length} bytes, allowed ${min}-${max}`);
  // The module prints these fields unescaped and stores them as `id:ver;`: these characters would break both.
  if (FORBIDDEN.test(value))
    throw new PlanError(field, `must not contain " : ; or , (got ${JSON.stringify(value)})`);
  return value;
}

function integer(value: unknown, field: string, min: number, max: number, fallback?: number): number {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value))
    throw new PlanError(field, `expected an integer, got ${JSON.stringify(value)}`);
  if (value < min || value > max) throw new PlanError(field, `${value} is outside ${min}..${max}`);
  return value;
}

function idList(value: unknown, field: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new PlanError(field, "expected an array of device ids");
  return value.map((item, i) => {
    if (typeof item !== "string" || item === "")
      throw new PlanError(`${field}[${i}]`, "expected a non-empty device id string");
    return item;
  });
}

const COMPONENT_KEYS = [
  "id",
  "type",
  "sourceVersion",
  "targetVersion",
  "package",
  "minBattery",
  "minSignal",
  "whitelist",
  "blacklist",
];

function parseComponent(raw: unknown, where: string): PlanComponent {
  if (!isObject(raw)) throw new PlanError(where, "expected an object");
  checkKeys(raw, COMPONENT_KEYS, where);
  const id = text(raw["id"], `${where}.id`, 1, 32);
  const rawType = raw["type"] ?? "full";
  if (rawType !== "full" && rawType !== "diff" && rawType !== "differential")
    throw new PlanError(`${where}.type`, `"full" or "diff", got ${JSON.stringify(rawType)}`);
  const type = rawType === "full" ? "full" : "diff";
  let sourceVersion = "";
  if (type === "diff") sourceVersion = text(raw["sourceVersion"], `${where}.sourceVersion`, 1, 64);
  else if (raw["sourceVersion"] !== undefined && raw["sourceVersion"] !== "")
    throw new PlanError(
      `${where}.sourceVersion`,
      'only a differential package (type "diff") has a source version',
    );
  const targetVersion = text(raw["targetVersion"], `${where}.targetVersion`, 1, 64);
  if (type === "diff" && sourceVersion === targetVersion)
    throw new PlanError(`${where}.targetVersion`, "equals the source version");
  const pkg = raw["package"];
  if (typeof pkg !== "string" || pkg === "")
    throw new PlanError(`${where}.package`, "expected the package file name (relative to the plan file)");
  return {
    id,
    type,
    sourceVersion,
    targetVersion,
    package: pkg,
    minBattery: integer(raw["minBattery"], `${where}.minBattery`, 0, 100, 0),
    // docs/protocol.md §9a: a number missing from the platform's plan prints as 0 (battery 0, signal 0).
    minSignal: integer(raw["minSignal"], `${where}.minSignal`, -150, 0, 0),
    whitelist: idList(raw["whitelist"], `${where}.whitelist`),
    blacklist: idList(raw["blacklist"], `${where}.blacklist`),
  };
}

type SettingKind = "string" | "boolean" | "int" | "dbm" | "choice";
const SETTING_KINDS: Record<keyof ModuleSettings, SettingKind> = {
  deviceId: "string",
  moduleVersion: "string",
  sdkVersion: "string",
  productKey: "string",
  productSecret: "string",
  signalDbm: "dbm",
  echo: "boolean",
  multiComponentResultEvent: "boolean",
  overLengthRead: "choice",
  outOfWindowRead: "choice",
  digestCase: "choice",
  fotaEndUrc: "choice",
  regMode: "int",
  freeSpace: "int",
  maxReadLength: "int",
  latencyMs: "int",
  baud: "int",
  bootDelayMs: "int",
  connectStepMs: "int",
  planDelayMs: "int",
  planRecordDelayMs: "int",
  downloadInfoDelayMs: "int",
  downloadBytesPerSecond: "int",
  progressIntervalMs: "int",
  confirmTimeoutMs: "int",
  readTimeoutMs: "int",
  updateTimeoutMs: "int",
  repushIntervalMs: "int",
  maxDownloadFailures: "int",
  maxPlanComponents: "int",
};
const CHOICES: Record<string, string[]> = {
  overLengthRead: ["error", "clamp"],
  outOfWindowRead: ["error", "zero"],
  digestCase: ["lower", "upper"],
  fotaEndUrc: ["after", "before", "none"],
};
const POSITIVE = new Set([
  "freeSpace",
  "maxReadLength",
  "downloadBytesPerSecond",
  "progressIntervalMs",
  "maxDownloadFailures",
  "repushIntervalMs",
]);

/** Validates module settings (from a plan's "settings" or the CLI); `where` prefixes field names in errors. */
export function parseSettings(raw: unknown, where = "settings"): Partial<ModuleSettings> {
  if (raw === undefined) return {};
  if (!isObject(raw)) throw new PlanError(where, "expected an object");
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(raw)) {
    const field = `${where}.${key}`;
    const kind = SETTING_KINDS[key as keyof ModuleSettings];
    if (!kind)
      throw new PlanError(field, `unknown setting (allowed: ${Object.keys(DEFAULT_SETTINGS).join(", ")})`);
    const value = raw[key];
    switch (kind) {
      case "string":
        if (typeof value !== "string") throw new PlanError(field, "expected a string");
        if (key === "productKey" || key === "productSecret") {
          if (utf8Length(value) > 32) throw new PlanError(field, "at most 32 characters");
        } else if (value === "") throw new PlanError(field, "must not be empty");
        break;
      case "boolean":
        if (typeof value !== "boolean") throw new PlanError(field, "expected true or false");
        break;
      case "dbm":
        if (value !== null) integer(value, field, -150, 0);
        break;
      case "choice": {
        const allowed = CHOICES[key]!;
        if (!allowed.includes(value as string))
          throw new PlanError(field, `one of ${allowed.map((a) => `"${a}"`).join(", ")}`);
        break;
      }
      case "int":
        if (key === "regMode") integer(value, field, 0, 2);
        else integer(value, field, POSITIVE.has(key) ? 1 : 0, Number.MAX_SAFE_INTEGER);
        break;
    }
    out[key] = value;
  }
  return out as Partial<ModuleSettings>;
}

/** Parses and validates a plan (JSON text or an already parsed value). Throws PlanError naming the field. */
export function parsePlan(input: string | unknown): Plan {
  let raw: unknown = input;
  if (typeof input === "string") {
    try {
      raw = JSON.parse(input);
    } catch (error) {
      throw new PlanError("(file)", `not valid JSON: ${(error as Error).message}`);
    }
  }
  if (!isObject(raw)) throw new PlanError("(file)", "expected a JSON object");
  checkKeys(raw, ["product", "productSecret", "components", "settings", "faults", "comment"], "");
  const product = raw["product"] === undefined ? "" : raw["product"];
  if (typeof product !== "string" || utf8Length(product) > 32)
    throw new PlanError("product", "expected the product key (a string of at most 32 characters)");
  const productSecret = raw["productSecret"] === undefined ? "" : raw["productSecret"];
  if (typeof productSecret !== "string" || utf8Length(productSecret) > 32)
    throw new PlanError("productSecret", "expected a string of at most 32 characters");
  const list = raw["components"];
  if (!Array.isArray(list) || list.length === 0)
    throw new PlanError("components", "expected a non-empty array");
  const components = list.map((c, i) => parseComponent(c, `components[${i}]`));
  const seen = new Set<string>();
  components.forEach((c, i) => {
    if (seen.has(c.id))
      throw new PlanError(
        `components[${i}].id`,
        `"${c.id}" appears twice; one plan holds one package per component`,
      );
    seen.add(c.id);
  });
  const settings = parseSettings(raw["settings"]);
  const faultList = raw["faults"] ?? [];
  if (!Array.isArray(faultList)) throw new PlanError("faults", "expected an array of fault specs");
  const faults = faultList.map((f, i) => {
    try {
      return validateFault(f, `faults[${i}]`);
    } catch (error) {
      if (error instanceof FaultSpecError) throw new PlanError(`faults[${i}]`, error.message);
      throw error;
    }
  });
  return { product, productSecret, components, settings, faults };
}

/** Why a component is or is not offered to a device: "" when it is, else the reason (for the monitoring log). */
export function matchComponent(
  component: PlanComponent,
  deviceId: string,
  runningVersion: string | undefined,
): string {
  if (component.blacklist.includes(deviceId)) return "device is blacklisted";
  if (component.whitelist.length > 0 && !component.whitelist.includes(deviceId))
    return "device is not whitelisted";
  if (runningVersion === undefined) return "component not reported by the device (AT+QIOTMCUVER)";
  if (runningVersion === component.targetVersion) return "already at the target version";
  if (component.type === "diff" && runningVersion !== component.sourceVersion)
    return `running ${runningVersion}, the differential package needs ${component.sourceVersion}`;
  return "";
}
