// QuecThing AT command builders (validated text, no CR) and parsers of their information lines.

export class QuecArgumentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "QuecArgumentError";
  }
}

export const UpdateAction = { Refuse: 0, Confirm: 1, NextPiece: 2, Updating: 3 } as const;
export type UpdateAction = 0 | 1 | 2 | 3;

/** Limits of AT+QIOTMCUVER strings (SDK S2 / QuecOpen D11). */
export const MCU_ID_MAX_BYTES = 32;
export const MCU_VERSION_MAX_BYTES = 64;
/** Largest length accepted by otaRead (the module's own maximum comes from AT+QIOTOTARD=?). */
export const OTA_READ_MAX_LENGTH = 65535;
const UINT32_MAX = 0xffffffff;

/**
 * Why a component id or version is unusable, or "" when it is fine. `:` and `;` would corrupt the
 * module's `id:ver;` storage; `"` and `,` would break the unescaped fields of 10700/10701.
 */
export function mcuStringProblem(value: string, minBytes: number, maxBytes: number): string {
  if (value.length < minBytes) return `must be at least ${minBytes} byte${minBytes === 1 ? "" : "s"}`;
  if (value.length > maxBytes) return `is ${value.length} bytes, the limit is ${maxBytes}`;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return `contains a non-printable or non-ASCII character at index ${i}`;
    if (c === 0x22 || c === 0x3a || c === 0x3b || c === 0x2c) {
      return `contains ${JSON.stringify(value[i])} at index ${i} (", :, ; and , are not allowed)`;
    }
  }
  return "";
}

function checkInteger(name: string, value: number, min: number, max: number): void {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new QuecArgumentError(`${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
}

export const AT = {
  echoOff(): string {
    return "ATE0";
  },
  echoOn(): string {
    return "ATE1";
  },
  /** Product key and secret of the Developer Center product (saved in the module; needed before QIOTREG). */
  productInfo(productKey: string, productSecret: string): string {
    for (const [name, value] of [
      ["product key", productKey],
      ["product secret", productSecret],
    ] as const) {
      const problem = mcuStringProblem(value, 1, 32);
      if (problem) throw new QuecArgumentError(`${name} ${JSON.stringify(value)} ${problem}`);
    }
    return `AT+QIOTCFG="productinfo","${productKey}","${productSecret}"`;
  },
  productInfoQuery(): string {
    return 'AT+QIOTCFG="productinfo"';
  },
  bufferMode(on: boolean): string {
    return `AT+QIOTCFG="buffer",${on ? 1 : 0}`;
  },
  register(mode: 0 | 1 | 2): string {
    checkInteger("register mode", mode, 0, 2);
    return `AT+QIOTREG=${mode}`;
  },
  registerQuery(): string {
    return "AT+QIOTREG?";
  },
  stateQuery(): string {
    return "AT+QIOTSTATE?";
  },
  mcuVersion(id: string, version: string): string {
    const idProblem = mcuStringProblem(id, 1, MCU_ID_MAX_BYTES);
    if (idProblem) throw new QuecArgumentError(`MCU component id ${JSON.stringify(id)} ${idProblem}`);
    const verProblem = mcuStringProblem(version, 0, MCU_VERSION_MAX_BYTES);
    if (verProblem) throw new QuecArgumentError(`MCU version ${JSON.stringify(version)} ${verProblem}`);
    return `AT+QIOTMCUVER="${id}","${version}"`;
  },
  mcuVersionQuery(): string {
    return "AT+QIOTMCUVER?";
  },
  otaRequest(withSha256: boolean): string {
    return `AT+QIOTOTAREQ=${withSha256 ? 1 : 0}`;
  },
  update(action: UpdateAction): string {
    checkInteger("update action", action, 0, 3);
    return `AT+QIOTUPDATE=${action}`;
  },
  otaReadTest(): string {
    return "AT+QIOTOTARD=?";
  },
  otaRead(start: number, length: number): string {
    checkInteger("OTA read start", start, 0, UINT32_MAX);
    checkInteger("OTA read length", length, 1, OTA_READ_MAX_LENGTH);
    return `AT+QIOTOTARD=${start},${length}`;
  },
  signalQuery(): string {
    return "AT+CSQ";
  },
  /** NB-IoT: keep the UART awake during the OTA (first bytes after idle are lost otherwise). */
  sleepOff(): string {
    return "AT+QSCLK=0";
  },
  /**
   * AT+IFC=<dce_by_dte>,<dte_by_dce>: UART flow control; 2,2 = RTS/CTS both ways, 0,0 = none (Quectel AT manuals).
   * The module saves it with AT&W only; the client sends it at every start-up instead.
   */
  flowControl(hardware: boolean): string {
    return hardware ? "AT+IFC=2,2" : "AT+IFC=0,0";
  },
};

/** The text after `<prefix>` (case-insensitive) of the first line that has it, trimmed. */
function payloadOf(lines: string[], prefix: string): string | undefined {
  for (const line of lines) {
    const t = line.trim();
    if (t.length >= prefix.length && t.slice(0, prefix.length).toUpperCase() === prefix)
      return t.slice(prefix.length).trim();
  }
  return undefined;
}

function smallInt(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  return /^\d{1,9}$/.test(t) ? Number(t) : undefined;
}

/** "+QIOTOTARD: <start>,(1-1024)" → 1024; tolerates "(1~1024)", "(1,1024)", "1-1024" and a bare "1024". */
export function parseOtaReadMax(lines: string[]): number | undefined {
  const body = payloadOf(lines, "+QIOTOTARD:");
  if (body === undefined) return undefined;
  const open = body.lastIndexOf("(");
  let range: string;
  if (open >= 0) {
    const close = body.indexOf(")", open);
    range = body.slice(open + 1, close < 0 ? body.length : close);
  } else {
    const comma = body.lastIndexOf(",");
    range = body.slice(comma + 1);
  }
  const numbers = range.match(/\d+/g);
  if (!numbers) return undefined;
  let max = 0;
  for (const n of numbers) max = Math.max(max, Number(n));
  return max > 0 && max <= 0x7fffffff ? max : undefined;
}

/** "+CSQ: <rssi>,<ber>": rssi 0..31 → -113 + 2·rssi dBm; 99 (unknown) and other values → dbm undefined. */
export function parseSignal(
  lines: string[],
): { rssi: number; ber: number; dbm: number | undefined } | undefined {
  const body = payloadOf(lines, "+CSQ:");
  if (body === undefined) return undefined;
  const parts = body.split(",");
  if (parts.length !== 2) return undefined;
  const rssi = smallInt(parts[0]);
  const ber = smallInt(parts[1]);
  if (rssi === undefined || ber === undefined) return undefined;
  return { rssi, ber, dbm: rssi <= 31 ? -113 + 2 * rssi : undefined };
}

/** "+QIOTSTATE: <n>" → n (8 = subscribed, ready). */
export function parseQiotState(lines: string[]): number | undefined {
  return smallInt(payloadOf(lines, "+QIOTSTATE:"));
}

/** "+QIOTREG: <mode>" → mode. */
export function parseRegisterMode(lines: string[]): number | undefined {
  return smallInt(payloadOf(lines, "+QIOTREG:"));
}

/** Every `+QIOTMCUVER: "<id>","<ver>"` line (quotes optional); malformed lines are skipped. */
export function parseMcuVersions(lines: string[]): { id: string; version: string }[] {
  const out: { id: string; version: string }[] = [];
  for (const line of lines) {
    const body = payloadOf([line], "+QIOTMCUVER:");
    if (body === undefined) continue;
    const m = /^"([^"]*)"\s*,\s*"([^"]*)"$/.exec(body) ?? /^([^",]*),([^",]*)$/.exec(body);
    if (!m) continue;
    out.push({ id: m[1]!.trim(), version: m[2]!.trim() });
  }
  return out;
}
