// A model of AT exchanges for property tests: fast-check generators, the exact byte stream a module
// would send for them, and the results a correct transport must report.

import fc from "fast-check";
import type { Arbitrary } from "fast-check";
import { AtTransport } from "../../../src/at/transport.js";
import type { FinalCode, LineErrorKind } from "../../../src/at/transport.js";
import { VirtualClock } from "../../../hal/sim/virtual-clock.js";
import { FakePort, concatBytes, latin1 } from "./fake-port.js";
import { AT } from "../../../src/quecthing/commands.js";

export type Urc = { line: string } | { raw: Uint8Array };

export interface CmdExchange {
  kind: "cmd";
  command: string;
  echo: string | undefined;
  info: string[];
  final: "OK" | "ERROR" | number; // a number is +CME ERROR: <n>
  /** URCs inserted before the echo (slot 0), after the echo (1), after info line i (2 + i). */
  urcs: [number, Urc][];
  tail: Urc[];
  ends: string[];
}

export interface OtaExchange {
  kind: "ota";
  start: number;
  length: number;
  echo: string | undefined;
  headerStart: number;
  payload: Uint8Array | undefined; // undefined: answered ERROR without a header
  afterPayload: string;
  /** URCs after the echo (slot 0), between the payload's line end and OK (slot 1). */
  urcs: [number, Urc][];
  tail: Urc[];
  ends: string[];
}

export type Exchange = CmdExchange | OtaExchange;

export interface Outcome {
  results: unknown[];
  urcs: string[];
  raw: string[];
  errors: string[];
}

const COMMANDS: [string, string[]][] = [
  ["AT+QIOTSTATE?", ["+QIOTSTATE: 8"]],
  ["AT+CSQ", ["+CSQ: 20,99"]],
  ["AT+QIOTMCUVER?", ['+QIOTMCUVER: "MCU","1_0_0"', '+QIOTMCUVER: "GNSS","2.0"']],
  ["AT+QIOTOTARD=?", ["+QIOTOTARD: 0,(1-1024)"]],
  ["ATI", ["Quectel", "EC200U", "Revision: EC200UCNAAR02A09M08"]],
  ["AT+QIOTREG=1", []],
  ["ATE0", []],
  ["AT+QIOTUPDATE=2", []],
];

const URC_LINES = [
  "+QIOTEVT: 2,10200",
  "+QIOTEVT: 7,10702",
  "+QIOTEVT: 7,10706",
  '+QIND: "FOTA","END",0',
  "RDY",
  '+QIOTEVT: 7,10700,"MCU","1_0_0","1_0_1",0,-113,19656',
  "POWERED DOWN",
];

const NASTY = [
  "\r\nOK\r\n",
  "\r\nERROR\r\n",
  "+QIOTEVT: 7,10706\r\n",
  "\x00",
  "\r",
  "\n",
  "+QIOTOTARD: 0,5\r\n",
  "RDY\r\n",
  "\xff\xfe",
];

export const payloadArb: Arbitrary<Uint8Array> = fc
  .array(fc.oneof(fc.constantFrom(...NASTY).map(latin1), fc.uint8Array({ maxLength: 24 })), { maxLength: 6 })
  .map(concatBytes);

const urcArb: Arbitrary<Urc> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...URC_LINES).map((line) => ({ line })) },
  { weight: 1, arbitrary: payloadArb.map((raw) => ({ raw })) },
);

const endArb = fc.constantFrom("\r\n", "\r\n", "\r", "\n", "\r\n\r\n");
const endsArb = fc.array(endArb, { minLength: 12, maxLength: 12 });

function echoArb(command: string): Arbitrary<string | undefined> {
  return fc.constantFrom(undefined, command, command.toLowerCase(), ` ${command}`);
}

const cmdArb: Arbitrary<Exchange> = fc.constantFrom(...COMMANDS).chain(([command, info]) =>
  fc.record({
    kind: fc.constant("cmd" as const),
    command: fc.constant(command),
    echo: echoArb(command),
    info: fc.constant(info),
    final: fc.oneof(fc.constant("OK" as const), fc.constant("ERROR" as const), fc.nat(999)),
    urcs: fc.array(fc.tuple(fc.nat(1 + info.length), urcArb), { maxLength: 3 }),
    tail: fc.array(urcArb, { maxLength: 2 }),
    ends: endsArb,
  }),
);

const otaArb: Arbitrary<Exchange> = fc
  .record({
    start: fc.nat(30000),
    length: fc.integer({ min: 1, max: 96 }),
    mismatch: fc.nat(9),
    error: fc.nat(9),
  })
  .chain(({ start, length, mismatch, error }) =>
    fc.record({
      kind: fc.constant("ota" as const),
      start: fc.constant(start),
      length: fc.constant(length),
      echo: echoArb(`AT+QIOTOTARD=${start},${length}`),
      headerStart: fc.constant(mismatch === 0 ? start + length : start),
      payload: error === 0 ? fc.constant(undefined) : payloadArb.map((p) => p.subarray(0, length)),
      afterPayload: fc.constantFrom("\r\n", "\r", "\n", "\r\n\r\n"),
      urcs: fc.array(fc.tuple(fc.nat(1), urcArb), { maxLength: 2 }),
      tail: fc.array(urcArb, { maxLength: 2 }),
      ends: endsArb,
    }),
  );

// A module frames every payload the same way: one trailer form per session (the transport learns it).
export const sessionArb: Arbitrary<Exchange[]> = fc
  .array(fc.oneof(cmdArb, otaArb), { minLength: 1, maxLength: 6 })
  .map((session) => {
    const first = session.find((ex) => ex.kind === "ota");
    if (first?.kind !== "ota") return session;
    return session.map((ex) => (ex.kind === "ota" ? { ...ex, afterPayload: first.afterPayload } : ex));
  });

function urcBytes(u: Urc, end: string): string {
  if ("line" in u) return `\r\n${u.line}${end}`;
  // A CR-only header followed by a payload starting with LF is ambiguous on the wire: the module sends CR LF.
  return `\r\n+QIOTEVT: 5,10200,${u.raw.length}\r\n` + String.fromCharCode(...u.raw) + "\r\n";
}

/** The module's bytes for the session, and where each exchange's bytes start. */
export function serialise(session: Exchange[]): { stream: Uint8Array; boundaries: number[] } {
  const parts: string[] = [];
  const boundaries: number[] = [];
  let length = 0;
  const add = (s: string): void => {
    parts.push(s);
    length += s.length;
  };
  for (const ex of session) {
    boundaries.push(length);
    let e = 0;
    const end = (): string => ex.ends[e++ % ex.ends.length]!;
    const urcsAt = (slot: number): void => {
      for (const [s, u] of ex.urcs) if (s === slot) add(urcBytes(u, end()));
    };
    if (ex.kind === "cmd") {
      urcsAt(0);
      if (ex.echo !== undefined) add(ex.echo + "\r");
      urcsAt(1);
      ex.info.forEach((line, i) => {
        add(`\r\n${line}${end()}`);
        urcsAt(2 + i);
      });
      add(`\r\n${typeof ex.final === "number" ? `+CME ERROR: ${ex.final}` : ex.final}${end()}`);
    } else {
      if (ex.echo !== undefined) add(ex.echo + "\r");
      urcsAt(0);
      if (ex.payload === undefined) {
        add(`\r\nERROR${end()}`);
      } else {
        let headerEnd = end();
        if (headerEnd === "\r" && ex.payload[0] === 0x0a) headerEnd = "\r\n";
        if (headerEnd === "\r\n\r\n") headerEnd = "\r\n";
        add(`\r\n+QIOTOTARD: ${ex.headerStart},${ex.payload.length}${headerEnd}`);
        add(String.fromCharCode(...ex.payload));
        add(ex.afterPayload);
        urcsAt(1);
        add(`\r\nOK${end()}`);
      }
    }
    for (const u of ex.tail) add(urcBytes(u, end()));
  }
  return { stream: latin1(parts.join("")), boundaries };
}

function urcLine(u: Urc): string {
  return "line" in u ? u.line : `+QIOTEVT: 5,10200,${u.raw.length}`;
}

/** What a correct transport reports for the session. */
export function expected(session: Exchange[]): Outcome {
  const out: Outcome = { results: [], urcs: [], raw: [], errors: [] };
  const note = (u: Urc): void => {
    out.urcs.push(urcLine(u));
    if ("raw" in u) out.raw.push(`${urcLine(u)} [${Array.from(u.raw).join(" ")}]`);
  };
  for (const ex of session) {
    if (ex.kind === "cmd") {
      const slots = ex.urcs.slice().sort((a, b) => a[0] - b[0]);
      for (const [, u] of slots) note(u);
      out.results.push({
        final: (typeof ex.final === "number" ? "CME ERROR" : ex.final) as FinalCode,
        cmeError: typeof ex.final === "number" ? ex.final : -1,
        lines: ex.info,
      });
    } else {
      const slots = ex.urcs.slice().sort((a, b) => a[0] - b[0]);
      for (const [s, u] of slots) if (s === 0 || ex.payload !== undefined) note(u);
      out.results.push(
        ex.payload === undefined
          ? { final: "ERROR", start: -1, length: 0, headerMismatch: false, framingError: false, payload: [] }
          : {
              final: "OK",
              start: ex.headerStart,
              length: ex.payload.length,
              headerMismatch: ex.headerStart !== ex.start,
              framingError: false,
              payload: Array.from(ex.payload),
            },
      );
    }
    for (const u of ex.tail) note(u);
  }
  return out;
}

/**
 * Runs the session through a transport, delivering `stream` in the pieces given by `cuts` (plus the
 * exchange boundaries: the module cannot answer a command before it was sent).
 */
export async function play(
  session: Exchange[],
  stream: Uint8Array,
  boundaries: number[],
  cuts: number[],
): Promise<Outcome> {
  const clock = new VirtualClock();
  const port = new FakePort();
  const transport = new AtTransport(port, clock, { baud: 115200, maxRawUrcLength: 256 });
  const out: Outcome = { results: [], urcs: [], raw: [], errors: [] };
  transport.onUnsolicited((line) => out.urcs.push(line));
  transport.onRawUnsolicited((line, p) => out.raw.push(`${line} [${Array.from(p).join(" ")}]`));
  transport.onLineError((kind: LineErrorKind, detail) => out.errors.push(`${kind}: ${detail}`));
  let done = false;
  const driver = (async () => {
    for (const ex of session) {
      if (ex.kind === "cmd") {
        const r = await transport.send(ex.command);
        out.results.push({ final: r.final, cmeError: r.cmeError, lines: r.lines });
      } else {
        const into = new Uint8Array(ex.length);
        into.fill(0xa5);
        const r = await transport.readOta(AT.otaRead(ex.start, ex.length), ex.start, ex.length, into);
        out.results.push({
          final: r.final,
          start: r.start,
          length: r.length,
          headerMismatch: r.headerMismatch,
          framingError: r.framingError,
          payload: Array.from(into.subarray(0, r.length)),
        });
      }
    }
    done = true;
  })();
  const points = new Set<number>(boundaries);
  for (const c of cuts) points.add(c);
  points.add(stream.length);
  const sorted = Array.from(points)
    .filter((p) => p > 0 && p <= stream.length)
    .sort((a, b) => a - b);
  let from = 0;
  let exchange = 0;
  for (const to of sorted) {
    while (exchange + 1 < boundaries.length && boundaries[exchange + 1]! <= from) exchange++;
    for (let spin = 0; port.writes.length <= exchange; spin++) {
      if (spin > 200)
        throw new Error(`command ${exchange} was never written (writes: ${JSON.stringify(port.writes)})`);
      await Promise.resolve();
    }
    port.feed(stream.subarray(from, to));
    from = to;
  }
  for (let spin = 0; !done && spin < 200; spin++) await Promise.resolve();
  if (!done) throw new Error(`session did not complete: ${out.results.length} of ${session.length} results`);
  await driver;
  if (!transport.quiet) throw new Error("transport not quiet at the end");
  return out;
}
