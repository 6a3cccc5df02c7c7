// Fault injection for the virtual module: the spec grammar (`kind:key=value,...`), parsing, and byte faults.

/**
 * One fault. Triggers (which ones apply depends on the kind):
 *  - `read`: the Nth AT+QIOTOTARD command (1-based, counted since power-on)
 *  - `at`: a byte position (stream faults: of the module→device stream since power-on; with `read`: of that read's payload)
 *  - `piece`: the Kth piece of the download (1-based), `byte`: a byte offset inside that piece
 *  - `readBytes`: after this many payload bytes have been sent in total
 *  - `afterMs`: this long after power-on
 *  - `comp`: with `piece`, only in the download of the task's Nth component (1-based; docs/protocol.md §7)
 */
export type FaultKind =
  | "drop" // drop `len` bytes at `at` (stream, or the payload of read N)
  | "corrupt" // invert `len` bytes at `at`
  | "dup" // send `len` bytes at `at` twice
  | "error" // answer ERROR to the `nth` command starting with `cmd` (e.g. QIOTOTARD, QIOTUPDATE=2), `times` in a row
  | "reboot" // module reboot: after read N, after readBytes, at the start of piece K, or afterMs
  | "fail" // silent download failure at `byte` of piece K (`times` failures)
  | "inject10706" // 10706 out of the blue: after read N, at piece K, or afterMs
  | "disconnect" // connection loss `2,<code>` (10473 heartbeat / 10474 network): after read N, at piece K, or afterMs
  | "burst" // `count` URC lines: before the reply of read N, or afterMs
  | "urc-before-ok" // a URC between the payload's CR LF and OK of read N
  | "bad-offset" // the header of read N names start+`delta`
  | "race" // 10700 printed `ms` before the plan is recorded (UPDATE=1 meanwhile: ERROR)
  | "no-download-info" // the platform never sends the download information after the confirm (30 s timer)
  | "invalid-download-info" // the download information is invalid (e.g. SHA-256 requested but missing): 10706
  | "direct-download"; // the next plan push sends the download information without 10700 (idle acceptance)

export interface Fault {
  kind: FaultKind;
  read?: number;
  at?: number;
  len?: number;
  cmd?: string;
  nth?: number;
  times?: number;
  piece?: number;
  byte?: number;
  readBytes?: number;
  afterMs?: number;
  code?: number;
  count?: number;
  delta?: number;
  ms?: number;
  comp?: number;
}

const KINDS: readonly FaultKind[] = [
  "drop",
  "corrupt",
  "dup",
  "error",
  "reboot",
  "fail",
  "inject10706",
  "disconnect",
  "burst",
  "urc-before-ok",
  "bad-offset",
  "race",
  "no-download-info",
  "invalid-download-info",
  "direct-download",
];
const NUMERIC_KEYS = [
  "read",
  "at",
  "len",
  "nth",
  "times",
  "piece",
  "byte",
  "readBytes",
  "afterMs",
  "code",
  "count",
  "delta",
  "ms",
  "comp",
] as const;

export class FaultSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FaultSpecError";
  }
}

/** Parses `kind[:key=value,...]`, e.g. `fail:piece=2,byte=100,times=5` or `error:cmd=QIOTOTARD,nth=3`. */
export function parseFaultSpec(spec: string): Fault {
  const colon = spec.indexOf(":");
  const kind = (colon < 0 ? spec : spec.slice(0, colon)).trim();
  const fields: Record<string, unknown> = { kind };
  if (colon >= 0 && spec.slice(colon + 1).trim() !== "") {
    for (const pair of spec.slice(colon + 1).split(",")) {
      const eq = pair.indexOf("=");
      if (eq < 0) throw new FaultSpecError(`fault "${spec}": "${pair}" is not key=value`);
      const key = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      fields[key] = key === "cmd" ? value : Number(value);
    }
  }
  return validateFault(fields, `fault "${spec}"`);
}

/** Checks a fault given as an object (from a plan file) or as parsed fields; `where` names it in errors. */
export function validateFault(input: unknown, where: string): Fault {
  if (typeof input === "string") return parseFaultSpec(input);
  if (typeof input !== "object" || input === null)
    throw new FaultSpecError(`${where}: expected a string or an object`);
  const fields = input as Record<string, unknown>;
  const kind = fields["kind"];
  if (typeof kind !== "string" || !KINDS.includes(kind as FaultKind)) {
    throw new FaultSpecError(`${where}.kind: "${String(kind)}" is not one of ${KINDS.join(", ")}`);
  }
  const fault: Fault = { kind: kind as FaultKind };
  for (const key of Object.keys(fields)) {
    if (key === "kind") continue;
    if (key === "cmd") {
      if (typeof fields[key] !== "string" || fields[key] === "")
        throw new FaultSpecError(`${where}.cmd: expected a command name such as QIOTOTARD`);
      fault.cmd = (fields[key] as string).replace(/^AT\+?/i, "").toUpperCase();
      continue;
    }
    if (!(NUMERIC_KEYS as readonly string[]).includes(key))
      throw new FaultSpecError(`${where}.${key}: unknown fault parameter`);
    const value = fields[key];
    if (typeof value !== "number" || !Number.isInteger(value))
      throw new FaultSpecError(`${where}.${key}: expected an integer, got ${JSON.stringify(value)}`);
    if (value < 0 && key !== "delta") throw new FaultSpecError(`${where}.${key}: must not be negative`);
    (fault as unknown as Record<string, number>)[key] = value;
  }
  const need = (key: keyof Fault) => {
    if (fault[key] === undefined)
      throw new FaultSpecError(`${where}.${key}: required for a "${fault.kind}" fault`);
  };
  const needOne = (...keys: Array<keyof Fault>) => {
    if (!keys.some((k) => fault[k] !== undefined))
      throw new FaultSpecError(`${where}: a "${fault.kind}" fault needs one of ${keys.join(", ")}`);
  };
  switch (fault.kind) {
    case "drop":
    case "corrupt":
    case "dup":
      need("at");
      break;
    case "error":
      need("cmd");
      break;
    case "reboot":
      needOne("read", "readBytes", "piece", "afterMs");
      break;
    case "fail":
      need("byte");
      break;
    case "inject10706":
    case "burst":
      needOne("read", "piece", "afterMs");
      break;
    case "disconnect":
      needOne("read", "piece", "afterMs");
      if (fault.code !== undefined && fault.code !== 10473 && fault.code !== 10474)
        throw new FaultSpecError(`${where}.code: 10473 or 10474`);
      break;
    case "urc-before-ok":
    case "bad-offset":
      need("read");
      break;
    case "race":
      need("ms");
      break;
    default:
      break;
  }
  return fault;
}

/** Applies drop/corrupt/dup faults whose `at` falls in [base, base + bytes.length); returns the bytes to send. */
export function applyByteFaults(bytes: Uint8Array, base: number, faults: readonly Fault[]): Uint8Array {
  let hit = false;
  for (const fault of faults) {
    const at = fault.at!;
    if (at >= base && at < base + bytes.length) hit = true;
  }
  if (!hit) return bytes;
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    const position = base + i;
    let value = bytes[i]!;
    let copies = 1;
    for (const fault of faults) {
      const at = fault.at!;
      if (position < at || position >= at + (fault.len ?? 1)) continue;
      if (fault.kind === "drop") copies = 0;
      else if (fault.kind === "corrupt") value ^= 0xff;
      else if (fault.kind === "dup") copies = 2;
    }
    for (let c = 0; c < copies; c++) out.push(value);
  }
  return Uint8Array.from(out);
}

/** A readable one-line description for logs. */
export function describeFault(fault: Fault): string {
  const parts: string[] = [];
  for (const key of Object.keys(fault) as Array<keyof Fault>)
    if (key !== "kind") parts.push(`${key}=${String(fault[key])}`);
  return parts.length ? `${fault.kind}:${parts.join(",")}` : fault.kind;
}
