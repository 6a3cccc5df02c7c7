// The module's command table: one row per command form, legality as data (docs/protocol.md §3), ERROR for the rest.

import { deepEqual, equal, ok } from "../../lib/assert.js";
import { COMMANDS } from "../../../tools/module/commands-table.js";
import { OtaState, type ModuleFlash } from "../../../tools/module/virtual-module.js";
import { makeRig, OK, ERROR, PK, PS } from "./harness.js";

function flashIn(otaState: number): ModuleFlash {
  return {
    productKey: PK,
    productSecret: PS,
    regMode: 0,
    mcuList: [],
    otaComponent: "",
    otaTarget: "",
    otaType: "",
    otaState,
    shaOption: 0,
    authenticated: true,
  };
}

describe("tools/module command table", () => {
  it("selects at most one row per command form (name, mode, first argument, argument count)", () => {
    const keys = COMMANDS.map((row) => `${row.name} ${row.mode} ${String(row.arg)} ${String(row.arity)}`);
    deepEqual(
      keys.filter((key, i) => keys.indexOf(key) !== i),
      [],
    );
    ok(
      COMMANDS.every((row) => row.mode === "write" || (row.arg === undefined && row.arity === undefined)),
      "only writes carry arguments",
    );
  });

  it("QIOTUPDATE=<act> is legal in the OTA states of docs/protocol.md §3", () => {
    const rows = COMMANDS.filter((row) => row.name === "+QIOTUPDATE" && row.mode === "write");
    deepEqual(
      rows.map((row) => [row.arg, row.legal?.otaStates]),
      [
        [0, [OtaState.REVICEPLAN]],
        [1, [OtaState.REVICEPLAN, OtaState.SUBMITOTA]],
        [2, [OtaState.DOWNLOADSUCCESS]],
        [3, [OtaState.DOWNLOADSUCCESS, OtaState.UPDATING]],
      ],
    );
  });

  it("outside those states every QIOTUPDATE action answers ERROR and changes nothing (UPDATE=3 repeats OK in UPDATING)", () => {
    const { NOPLAN, REFUSED, DOWNLOADERROR, UPDATING, UPDATESUCCESS, UPDATEERROR } = OtaState;
    for (const state of [NOPLAN, REFUSED, DOWNLOADERROR, UPDATING, UPDATESUCCESS, UPDATEERROR]) {
      const r = makeRig({ flash: flashIn(state) });
      for (const action of [0, 1, 2, 3]) {
        const expected = state === UPDATING && action === 3 ? OK : ERROR;
        equal(r.exchange(`AT+QIOTUPDATE=${action}\r`), expected, `UPDATE=${action} in state ${state}`);
        equal(r.module.otaState, state, `UPDATE=${action} leaves state ${state}`);
      }
    }
  });

  it("forms missing from the table answer ERROR: other modes, argument counts, actions and keys", () => {
    const r = makeRig();
    for (const command of [
      "AT+QIOTOTAREQ?",
      "AT+QIOTUPDATE",
      "AT+QIOTUPDATE?",
      "AT+QIOTUPDATE=4",
      "AT+QIOTUPDATE=1,1",
      "AT+QIOTREG",
      'AT+QIOTREG="1"',
      "AT+QIOTSTATE",
      "AT+QIOTSTATE=?",
      "ATE0?",
      "AT?",
      "AT+QIOTMCUVER",
      "AT+QIOTMCUVER=",
      'AT+QIOTCFG="buffer",1,2',
      "AT+QIOTCFG=buffer",
      "AT+QIOTOTARD",
      "AT+QIOTOTARD=0",
      "AT+QIOTOTARD=0,1,2",
    ])
      equal(r.exchange(command + "\r"), ERROR, command);
    equal(r.exchange("AT+QIOTSTATE?\r"), "\r\n+QIOTSTATE: 8\r\n" + OK, "nothing changed");
  });

  it("a refused QIOTOTAREQ still stores its option (docs/protocol.md §9a); a refused QIOTCFG set stores nothing", () => {
    const r = makeRig();
    r.exchange("AT+QIOTREG=0\r", 100);
    equal(r.exchange("AT+QIOTOTAREQ=1\r"), ERROR, "offline");
    equal(r.module.shaOption, 1);
    equal(r.exchange("AT+QIOTOTAREQ\r"), ERROR, "offline, no parameter");
    equal(r.module.shaOption, 0);
    r.exchange("AT+QIOTREG=1\r");
    equal(r.exchange('AT+QIOTCFG="productinfo","pk2","ps2"\r'), ERROR, "connecting");
    equal(r.exchange('AT+QIOTCFG="server",1,"mqtt://x"\r'), ERROR, "connecting");
    equal(
      r.exchange('AT+QIOTCFG="productinfo"\r'),
      `\r\n+QIOTCFG: "productinfo","${PK}","${PS}","EC200U_VIRTUAL_01.001"\r\n` + OK,
      "a query is legal while connecting",
    );
  });
});
