// The AT commands the virtual module answers, as data: for each its name, mode, arguments, where it is legal
// (OTA states, link) and its handler (docs/protocol.md §2, §3). Anything not in the table answers ERROR.

import { integerArg, parseCommand, type Arg, type CommandMode, type ParsedCommand } from "./at-port.js";
import { describeFault } from "./faults.js";
import { listVersions, queryVersion, reportVersion } from "./mcu-versions.js";
import type { ModuleContext } from "./module-context.js";
import { OtaState } from "./ota-states.js";

/** Where a command is accepted; elsewhere it answers ERROR and does nothing (but `refused`). */
export interface Legality {
  /** The OTA states it is accepted in (docs/protocol.md §3); any when absent. */
  otaStates?: readonly number[];
  /** "online": subscribed (QIOTSTATE 8); "idle": neither online nor connecting (the SDK refuses it while connected). */
  link?: "online" | "idle";
  /** One more condition, named for the reader. */
  when?: { what: string; check: (m: ModuleContext) => boolean };
}

export interface CommandRow {
  /** What follows `AT`, upper case: "" (plain AT), "E0", "+QIOTUPDATE"... */
  name: string;
  mode: CommandMode;
  /** Write rows told apart by their first argument: an integer action (QIOTUPDATE=<act>) or a quoted key, any case (QIOTCFG="<key>"). */
  arg?: number | string;
  /** Write rows: exactly this many arguments. */
  arity?: number;
  legal?: Legality;
  /** What the module still does when it refuses the command. */
  refused?: (m: ModuleContext, args: Arg[]) => void;
  handler: (m: ModuleContext, args: Arg[]) => void;
}

const { REVICEPLAN, SUBMITOTA, DOWNLOADSUCCESS, UPDATING } = OtaState;

export const COMMANDS: readonly CommandRow[] = [
  // Basic commands.
  { name: "", mode: "exec", handler: (m) => m.port.ok() },
  { name: "E", mode: "exec", handler: (m) => setEcho(m, false) },
  { name: "E0", mode: "exec", handler: (m) => setEcho(m, false) },
  { name: "E1", mode: "exec", handler: (m) => setEcho(m, true) },
  {
    name: "I",
    mode: "exec",
    handler: (m) =>
      m.port.ok(["Quectel", "Virtual QuecThing module", `Revision: ${m.settings.moduleVersion}`]),
  },
  { name: "+CSQ", mode: "exec", handler: (m) => m.port.ok([`+CSQ: ${m.link.rssi()},99`]) },
  { name: "+CSQ", mode: "test", handler: (m) => m.port.ok(["+CSQ: (0-31,99),(0-7,99)"]) },
  {
    name: "+QSCLK",
    mode: "write",
    handler: (m, args) => (args[0]?.value === "0" || args[0]?.value === "1" ? m.port.ok() : m.port.error()),
  },
  {
    name: "+QIOTINFO",
    mode: "read",
    handler: (m) => m.port.ok([`+QIOTINFO: "version","${m.settings.sdkVersion}"`]),
  },

  // Configuration (docs/protocol.md §2): a key alone queries it.
  {
    name: "+QIOTCFG",
    mode: "write",
    arg: "productinfo",
    arity: 1,
    handler: (m) => m.port.ok([m.link.productInfoLine()]),
  },
  {
    name: "+QIOTCFG",
    mode: "write",
    arg: "productinfo",
    arity: 3,
    legal: { link: "idle" },
    handler: (m, args) => m.link.setProductInfo(args),
  },
  {
    name: "+QIOTCFG",
    mode: "write",
    arg: "buffer",
    arity: 1,
    handler: (m) => m.port.ok([m.link.bufferLine()]),
  },
  { name: "+QIOTCFG", mode: "write", arg: "buffer", arity: 2, handler: (m, args) => m.link.setBuffer(args) },
  {
    name: "+QIOTCFG",
    mode: "write",
    arg: "lifetime",
    arity: 1,
    handler: (m) => m.port.ok([m.link.lifetimeLine()]),
  },
  {
    name: "+QIOTCFG",
    mode: "write",
    arg: "lifetime",
    arity: 2,
    handler: (m, args) => m.link.setLifetime(args),
  },
  {
    name: "+QIOTCFG",
    mode: "write",
    arg: "server",
    arity: 1,
    handler: (m) => m.port.ok(['+QIOTCFG: "server",1,"mqtt://iot-south.acceleronix.io:1883"']),
  },
  {
    name: "+QIOTCFG",
    mode: "write",
    arg: "server",
    arity: 3,
    legal: { link: "idle" },
    handler: (m) => m.port.ok(),
  },

  // The link (docs/protocol.md §2, §6).
  { name: "+QIOTREG", mode: "read", handler: (m) => m.port.ok([`+QIOTREG: ${m.flash.regMode}`]) },
  { name: "+QIOTREG", mode: "test", handler: (m) => m.port.ok(["+QIOTREG: (0-2)"]) },
  { name: "+QIOTREG", mode: "write", arg: 0, arity: 1, handler: (m) => m.link.disable() },
  ...([1, 2] as const).map((mode): CommandRow => ({
    name: "+QIOTREG",
    mode: "write",
    arg: mode,
    arity: 1,
    legal: { when: { what: "productinfo saved", check: (m) => m.link.hasProductInfo } },
    handler: (m) => m.link.enable(mode),
  })),
  { name: "+QIOTSTATE", mode: "read", handler: (m) => m.port.ok([`+QIOTSTATE: ${m.link.state}`]) },

  // MCU versions (docs/protocol.md §2, §3).
  { name: "+QIOTMCUVER", mode: "read", handler: listVersions },
  {
    name: "+QIOTMCUVER",
    mode: "test",
    handler: (m) => m.port.ok(['+QIOTMCUVER: "<MCU_number>","<MCU_version>"']),
  },
  { name: "+QIOTMCUVER", mode: "write", arity: 1, handler: queryVersion },
  { name: "+QIOTMCUVER", mode: "write", arity: 2, handler: reportVersion },

  // Plans (docs/protocol.md §2, §9a): the option is stored even when the request is refused.
  { name: "+QIOTOTAREQ", mode: "test", handler: (m) => m.port.ok(["+QIOTOTAREQ: (0,1)"]) },
  {
    name: "+QIOTOTAREQ",
    mode: "exec",
    legal: { link: "online" },
    refused: (m) => m.center.storeRequestOption(undefined),
    handler: (m) => m.center.request(undefined),
  },
  {
    name: "+QIOTOTAREQ",
    mode: "write",
    arity: 1,
    legal: { link: "online" },
    refused: (m, args) => m.center.storeRequestOption(args),
    handler: (m, args) => m.center.request(args),
  },

  // The OTA (docs/protocol.md §3).
  { name: "+QIOTUPDATE", mode: "test", handler: (m) => m.port.ok(["+QIOTUPDATE: (0-3)"]) },
  {
    name: "+QIOTUPDATE",
    mode: "write",
    arg: 0,
    arity: 1,
    legal: { otaStates: [REVICEPLAN], when: planHeld() },
    handler: (m) => m.center.refuse(),
  },
  {
    name: "+QIOTUPDATE",
    mode: "write",
    arg: 1,
    arity: 1,
    legal: { otaStates: [REVICEPLAN, SUBMITOTA], when: planHeld() },
    handler: (m) => m.center.confirm(),
  },
  {
    name: "+QIOTUPDATE",
    mode: "write",
    arg: 2,
    arity: 1,
    legal: {
      otaStates: [DOWNLOADSUCCESS],
      when: { what: "a piece before the last held", check: (m) => m.ota.hasNextPiece },
    },
    handler: (m) => m.ota.nextPiece(),
  },
  {
    name: "+QIOTUPDATE",
    mode: "write",
    arg: 3,
    arity: 1,
    legal: {
      otaStates: [DOWNLOADSUCCESS, UPDATING],
      when: {
        what: "the last piece held, or UPDATING already",
        check: (m) => m.otaState === UPDATING || m.ota.onLastPiece,
      },
    },
    handler: (m) => m.ota.install(),
  },
  { name: "+QIOTOTARD", mode: "test", handler: (m) => m.ota.readRange() },
  // Legal in any state: a read outside the held piece is answered by the read itself (docs/protocol.md §3).
  { name: "+QIOTOTARD", mode: "write", arity: 2, handler: (m, args) => m.ota.read(args) },
];

function setEcho(m: ModuleContext, on: boolean): void {
  m.port.echo = on;
  m.port.ok();
}

function planHeld(): Legality["when"] {
  return { what: "a plan held (offered or confirmed)", check: (m) => m.center.task !== undefined };
}

const byNameAndMode = new Map<string, CommandRow[]>();
for (const row of COMMANDS) {
  const key = `${row.name} ${row.mode}`;
  byNameAndMode.set(key, [...(byNameAndMode.get(key) ?? []), row]);
}

/** The row a parsed command selects, if any. */
export function findCommand(command: ParsedCommand): CommandRow | undefined {
  const { args } = command;
  return byNameAndMode.get(`${command.name} ${command.mode}`)?.find((row) => {
    if (row.arity !== undefined && args.length !== row.arity) return false;
    if (typeof row.arg === "number") return integerArg(args[0]) === row.arg;
    if (typeof row.arg === "string")
      return args[0]?.quoted === true && args[0].value.toLowerCase() === row.arg;
    return true;
  });
}

export function isLegal(legal: Legality, m: ModuleContext): boolean {
  if (legal.otaStates && !legal.otaStates.includes(m.otaState)) return false;
  if (legal.link === "online" && !m.link.online) return false;
  if (legal.link === "idle" && !m.link.idle) return false;
  return !legal.when || legal.when.check(m);
}

/** Runs one command line (it starts with AT): one final code, from the handler or ERROR here. */
export function executeCommand(m: ModuleContext, line: string): void {
  if (!m.booted) return;
  const injected = m.faults.injectedError(line);
  if (injected) {
    m.trace("fault", `ERROR injected for ${line} (${describeFault(injected)})`);
    return m.port.error();
  }
  const command = parseCommand(line);
  const row = command && findCommand(command);
  if (!command || !row) return m.port.error();
  if (row.legal && !isLegal(row.legal, m)) {
    row.refused?.(m, command.args);
    return m.port.error();
  }
  row.handler(m, command.args);
}
