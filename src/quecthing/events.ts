// Decoder of the module's unsolicited lines (+QIOTEVT, +QIND, RDY) into typed events; never throws.

import { MCU_ID_MAX_BYTES, MCU_VERSION_MAX_BYTES, mcuStringProblem } from "./commands.js";

export type QuecEvent =
  | {
      kind: "plan";
      component: string;
      sourceVersion: string;
      targetVersion: string;
      batteryMin: number;
      signalMin: number;
      space: number;
    }
  | { kind: "download-start"; component: string; size: number; md5: string; crc: number; sha256: string }
  | { kind: "fota-download-start" }
  | { kind: "downloading" }
  | { kind: "piece"; component: string; fileSize: number; pieceStart: number; pieceLength: number }
  | { kind: "fota-piece" }
  | { kind: "updating" }
  | { kind: "update-succeeded" }
  | { kind: "update-failed" }
  | { kind: "multi-result"; value: number }
  | { kind: "subdevice-timeout" }
  | { kind: "qiot"; type: number; code: number; data: string; ok: boolean; meaning: string }
  | { kind: "qind"; fields: string[] }
  | { kind: "ready" }
  | { kind: "unknown"; line: string; reason: string };

/** Event types of +QIOTEVT (docs/protocol.md §4). */
export const EventType = {
  Auth: 1,
  Access: 2,
  Subscribe: 3,
  Uplink: 4,
  Downlink: 5,
  Deregister: 6,
  Ota: 7,
  Platform: 8,
  Wakeup: 9,
  SubDeregister: 10,
  DataAcquisition: 30,
} as const;

const TYPE_NAMES: Record<number, string> = {
  1: "auth",
  2: "access",
  3: "subscribe",
  4: "uplink",
  5: "downlink",
  6: "deregistration",
  7: "ota",
  8: "platform",
  9: "wake-up",
  10: "sub-device deregistration",
  30: "data acquisition",
};

/** Meanings of the non-OTA codes, keyed "type,code" (docs/protocol.md §4). */
export const EVENT_MEANINGS: Readonly<Record<string, string>> = {
  "1,10200": "authenticated",
  "1,10300": "other error",
  "1,10404": "platform API error",
  "1,10421": "static device cannot re-register",
  "1,10422": "wrong DeviceSecret",
  "1,10423": "bad ProductKey",
  "1,10424": "payload decrypt failed (PK/PS/DS)",
  "1,10425": "illegal DeviceKey (must be 4-32 alphanumerics)",
  "1,10427": "bad hash",
  "1,10431": "illegal DeviceKey (must be 4-32 alphanumerics)",
  "1,10433": "bad flag",
  "1,10434": "clientID/password mismatch",
  "1,10440": "gateway not linked to the sub-device",
  "1,10450": "internal error or no network",
  "1,10500": "unknown error",
  "2,10200": "registered (connected)",
  "2,10404": "platform API error",
  "2,10430": "wrong DeviceSecret",
  "2,10431": "device disabled",
  "2,10433": "bad flag",
  "2,10434": "clientID/password mismatch",
  "2,10437": "DeviceSecret incorrect",
  "2,10438": "platform cannot get device info",
  "2,10441": "sub-device connected",
  "2,10450": "internal error or no network",
  "2,10471": "version not supported",
  "2,10473": "heartbeat timeout",
  "2,10474": "network timeout",
  "2,10475": "server changed",
  "2,10476": "AP/network connection error",
  "2,10477": "DeviceKey invalid or device disabled",
  "2,10478": "device reset failed",
  "2,10500": "unknown error",
  "3,10200": "subscribed (ready)",
  "3,10300": "subscribe failed",
  "4,10400": "uplink refused",
  "4,10410": "uplink refused",
  "4,10420": "uplink refused",
  "5,10200": "transparent data received",
  "5,10210": "TSL data received",
  "5,10211": "TSL read request",
  "5,10212": "TSL service request",
  "5,10428": "throttled: too much data buffered",
  "5,10473": "data longer than the buffer",
  "6,10200": "deregistered",
  "6,10201": "sub-device deregistered",
  "8,10428": "throttled: too many messages",
  "8,10429": "throttled: activation or daily quota",
  "8,10442": "sub-device deregistration failed",
  "9,10200": "woken from deep sleep",
  "9,10300": "wake error",
};

const DATA_ACQUISITION_CODES = [0, 1, 2, 3, 10, 11, 12, 13, 20];

export function eventMeaning(type: number, code: number): string {
  const fixed = EVENT_MEANINGS[`${type},${code}`];
  if (fixed !== undefined) return fixed;
  if (type === 4 && code >= 10200 && code <= 10250) return "uplink sent";
  if (type === 4 && code >= 10300 && code <= 10350) return "uplink failed";
  if (type === 30 && DATA_ACQUISITION_CODES.indexOf(code) >= 0) return "data-acquisition channel code";
  return "";
}

/** Success codes: 10200..10299 of every type (10200, 10201, 10210..10212, uplink 10200..10250), and 2,10441. */
export function eventOk(type: number, code: number): boolean {
  if (type === 30) return false;
  return (code >= 10200 && code < 10300) || (type === 2 && code === 10441);
}

type Field = { quoted: boolean; text: string };

/**
 * Splits `a,"b",c` into fields. Quoted fields must be closed and followed by `,` or the end: the module
 * prints strings unescaped, so a quote inside one makes the line undecodable. Returns a reason on failure.
 */
function splitFields(data: string): Field[] | string {
  const out: Field[] = [];
  let i = 0;
  for (;;) {
    while (i < data.length && data[i] === " ") i++;
    if (data[i] === '"') {
      const close = data.indexOf('"', i + 1);
      if (close < 0) return `unterminated quoted field at ${i}`;
      out.push({ quoted: true, text: data.slice(i + 1, close) });
      i = close + 1;
      while (i < data.length && data[i] === " ") i++;
    } else {
      const comma = data.indexOf(",", i);
      const end = comma < 0 ? data.length : comma;
      const text = data.slice(i, end).trim();
      if (text.indexOf('"') >= 0) return `stray quote in field ${out.length + 1}`;
      out.push({ quoted: false, text });
      i = end;
    }
    if (i >= data.length) return out;
    if (data[i] !== ",") return `unexpected ${JSON.stringify(data[i])} after field ${out.length}`;
    i++;
  }
}

class Malformed {
  constructor(readonly reason: string) {}
}

function str(fields: Field[], index: number, name: string): string {
  const f = fields[index];
  if (f === undefined) throw new Malformed(`missing ${name}`);
  if (!f.quoted) throw new Malformed(`${name} must be a quoted string`);
  return f.text;
}

function uint(fields: Field[], index: number, name: string, max = Number.MAX_SAFE_INTEGER): number {
  const f = fields[index];
  if (f === undefined) throw new Malformed(`missing ${name}`);
  if (f.quoted || !/^\d{1,16}$/.test(f.text))
    throw new Malformed(`${name} must be an unsigned number, got ${JSON.stringify(f.text)}`);
  const n = Number(f.text);
  if (n > max) throw new Malformed(`${name} ${n} exceeds ${max}`);
  return n;
}

function int(fields: Field[], index: number, name: string): number {
  const f = fields[index];
  if (f === undefined) throw new Malformed(`missing ${name}`);
  if (f.quoted || !/^-?\d{1,9}$/.test(f.text))
    throw new Malformed(`${name} must be a number, got ${JSON.stringify(f.text)}`);
  return Number(f.text);
}

function hex(fields: Field[], index: number, name: string, digits: number): string {
  const text = str(fields, index, name);
  if (text.length !== digits || !/^[0-9A-Fa-f]+$/.test(text))
    throw new Malformed(`${name} must be ${digits} hex digits, got ${JSON.stringify(text)}`);
  return text.toLowerCase();
}

function count(fields: Field[], n: number): void {
  if (fields.length !== n) throw new Malformed(`expected ${n} fields, got ${fields.length}`);
}

function checkName(value: string, name: string, min: number, max: number): string {
  const problem = mcuStringProblem(value, min, max);
  if (problem) throw new Malformed(`${name} ${JSON.stringify(value)} ${problem}`);
  return value;
}

function decodeOta(code: number, data: string | undefined): QuecEvent {
  const fields = data === undefined ? [] : splitFields(data);
  if (typeof fields === "string") throw new Malformed(fields);
  switch (code) {
    case 10700:
      count(fields, 6);
      return {
        kind: "plan",
        component: checkName(str(fields, 0, "component"), "component", 1, MCU_ID_MAX_BYTES),
        sourceVersion: checkName(
          str(fields, 1, "source version"),
          "source version",
          0,
          MCU_VERSION_MAX_BYTES,
        ),
        targetVersion: checkName(
          str(fields, 2, "target version"),
          "target version",
          0,
          MCU_VERSION_MAX_BYTES,
        ),
        batteryMin: uint(fields, 3, "battery minimum"),
        signalMin: int(fields, 4, "signal minimum"),
        space: uint(fields, 5, "space"),
      };
    case 10701: {
      if (data === undefined) return { kind: "fota-download-start" };
      if (fields.length !== 4 && fields.length !== 5)
        throw new Malformed(`expected 4 or 5 fields, got ${fields.length}`);
      const f = fields[3]!;
      // The CRC is unsigned 32-bit; accept a signed print too and normalise it.
      if (f.quoted || !/^-?\d{1,10}$/.test(f.text))
        throw new Malformed(`crc must be a number, got ${JSON.stringify(f.text)}`);
      const crcValue = Number(f.text);
      if (crcValue < -0x80000000 || crcValue > 0xffffffff)
        throw new Malformed(`crc ${crcValue} is not 32-bit`);
      return {
        kind: "download-start",
        component: checkName(str(fields, 0, "component"), "component", 1, MCU_ID_MAX_BYTES),
        size: uint(fields, 1, "size"),
        md5: hex(fields, 2, "md5", 32),
        crc: crcValue >>> 0,
        sha256: fields.length === 5 ? hex(fields, 4, "sha256", 64) : "",
      };
    }
    case 10702:
      return { kind: "downloading" };
    case 10703:
      if (data === undefined) return { kind: "fota-piece" };
      count(fields, 4);
      return {
        kind: "piece",
        component: checkName(str(fields, 0, "component"), "component", 1, MCU_ID_MAX_BYTES),
        fileSize: uint(fields, 1, "file size"),
        pieceStart: uint(fields, 2, "piece start"),
        pieceLength: uint(fields, 3, "piece length"),
      };
    case 10704:
      return { kind: "updating" };
    case 10705:
      return { kind: "update-succeeded" };
    case 10706:
      return { kind: "update-failed" };
    case 10707:
      if (data === undefined) return { kind: "multi-result", value: 0 };
      count(fields, 1);
      return { kind: "multi-result", value: uint(fields, 0, "value", 0xffffffff) };
    case 10708:
      return { kind: "subdevice-timeout" };
    default:
      throw new Malformed(`unknown OTA code ${code}`);
  }
}

function startsWithUpper(line: string, prefix: string): boolean {
  return line.slice(0, prefix.length).toUpperCase() === prefix;
}

export function decodeEvent(line: string): QuecEvent {
  const text = typeof line === "string" ? line.trim() : "";
  // Some Quectel modules (EC200/EC600 series) announce the end of their boot as "APP RDY".
  if (text === "RDY" || text === "APP RDY") return { kind: "ready" };
  if (startsWithUpper(text, "+QIOTEVT:")) {
    const m = /^\s*(\d{1,3})\s*,\s*(\d{1,6})\s*(?:,(.*))?$/.exec(text.slice(9));
    if (!m) return { kind: "unknown", line, reason: "expected +QIOTEVT: <type>,<code>[,<data>]" };
    const type = Number(m[1]);
    const code = Number(m[2]);
    const data = m[3];
    if (type === EventType.Ota) {
      try {
        return decodeOta(code, data === undefined || data.trim() === "" ? undefined : data);
      } catch (error) {
        if (error instanceof Malformed)
          return { kind: "unknown", line, reason: `7,${code}: ${error.reason}` };
        return { kind: "unknown", line, reason: `7,${code}: ${String(error)}` };
      }
    }
    return {
      kind: "qiot",
      type,
      code,
      data: data === undefined ? "" : data.trim(),
      ok: eventOk(type, code),
      meaning: eventMeaning(type, code),
    };
  }
  if (startsWithUpper(text, "+QIND:")) {
    const fields = splitFields(text.slice(6));
    if (typeof fields === "string") return { kind: "unknown", line, reason: `+QIND: ${fields}` };
    return { kind: "qind", fields: fields.map((f) => f.text) };
  }
  return { kind: "unknown", line, reason: "not a QuecThing URC" };
}

export function describeEvent(e: QuecEvent): string {
  switch (e.kind) {
    case "plan":
      return `OTA plan for "${e.component}": ${e.sourceVersion === "" ? "(full)" : e.sourceVersion} -> ${e.targetVersion}, battery >= ${e.batteryMin}%, signal >= ${e.signalMin} dBm, space ${e.space} B`;
    case "download-start":
      return `OTA download started for "${e.component}": ${e.size} B, md5 ${e.md5}, crc ${e.crc}${e.sha256 ? `, sha256 ${e.sha256}` : ", no sha256"}`;
    case "fota-download-start":
      return "module firmware (FOTA) download started";
    case "downloading":
      return "OTA downloading";
    case "piece":
      return `OTA piece of "${e.component}" ready: bytes ${e.pieceStart}..${e.pieceStart + e.pieceLength} of ${e.fileSize}`;
    case "fota-piece":
      return "module firmware (FOTA) downloaded";
    case "updating":
      return "OTA updating";
    case "update-succeeded":
      return "OTA update succeeded";
    case "update-failed":
      return "OTA update failed";
    case "multi-result":
      return `OTA multi-component result ${e.value}`;
    case "subdevice-timeout":
      return "OTA sub-device operation timed out";
    case "qiot": {
      const name = TYPE_NAMES[e.type] ?? `event type ${e.type}`;
      const meaning = e.meaning ? ` ${e.meaning}` : "";
      const data = e.data ? ` (${e.data})` : "";
      return `${name} ${e.ok ? "ok" : "failed"}: ${e.code}${meaning}${data}`;
    }
    case "qind":
      return `+QIND ${e.fields.join(" ")}`;
    case "ready":
      return "module ready (RDY)";
    case "unknown":
      return `unrecognised line ${JSON.stringify(e.line)}: ${e.reason}`;
  }
}

// Module-level predicates over events: some run between every two reads, so no closure is made per block.

export function isUpdateFailed(event: QuecEvent): boolean {
  return event.kind === "update-failed";
}

/** 10705 or 10706: the module's OTA is over. */
export function isUpdateEnd(event: QuecEvent): boolean {
  return event.kind === "update-succeeded" || event.kind === "update-failed";
}

/** 10704 or 10706: the answer to QIOTUPDATE=3. */
export function isUpdatingOrFailed(event: QuecEvent): boolean {
  return event.kind === "updating" || event.kind === "update-failed";
}
