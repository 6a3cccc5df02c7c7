// Fault injection of the virtual module: spec parsing and the effect of each fault on the exact bytes.

import { equal, ok, deepEqual, throws } from "../../lib/assert.js";
import { makeRig, makePackage, latin1, OK, ERROR, evt, FILE_SIZE, type Rig } from "./harness.js";
import { parseFaultSpec, applyByteFaults, FaultSpecError, type Fault } from "../../../tools/module/faults.js";
import { OtaState } from "../../../tools/module/virtual-module.js";

const pkg = makePackage(FILE_SIZE);
const block = (start: number, n: number) => latin1(pkg.subarray(start, start + n));

function ready(faults: Fault[], settings = {}): Rig {
  const r = makeRig({ faults, settings });
  r.exchange("AT+QIOTOTAREQ=1\r", 100);
  r.exchange("AT+QIOTUPDATE=1\r", 2000);
  r.take();
  return r;
}

describe("tools/module fault specs", () => {
  it("parses kind:key=value,... and names the bad part", () => {
    deepEqual(parseFaultSpec("fail:piece=2,byte=100,times=5"), {
      kind: "fail",
      piece: 2,
      byte: 100,
      times: 5,
    });
    deepEqual(parseFaultSpec("error:cmd=AT+QIOTOTARD,nth=3"), { kind: "error", cmd: "QIOTOTARD", nth: 3 });
    deepEqual(parseFaultSpec("direct-download"), { kind: "direct-download" });
    throws(() => parseFaultSpec("explode"), /kind: "explode" is not one of/);
    throws(() => parseFaultSpec("drop:len=2"), /\.at: required/);
    throws(() => parseFaultSpec("drop:at=x"), /\.at: expected an integer/);
    throws(() => parseFaultSpec("reboot"), /needs one of read, readBytes, piece, afterMs/);
    throws(() => parseFaultSpec("disconnect:read=1,code=10200"), FaultSpecError);
    throws(() => parseFaultSpec("drop:at=1,colour=3"), /colour: unknown fault parameter/);
  });

  it("applyByteFaults drops, inverts and duplicates at absolute positions", () => {
    const bytes = Uint8Array.from([10, 11, 12, 13]);
    deepEqual(Array.from(applyByteFaults(bytes, 100, [{ kind: "drop", at: 101, len: 2 }])), [10, 13]);
    deepEqual(Array.from(applyByteFaults(bytes, 100, [{ kind: "corrupt", at: 103 }])), [
      10,
      11,
      12,
      13 ^ 0xff,
    ]);
    deepEqual(Array.from(applyByteFaults(bytes, 100, [{ kind: "dup", at: 100 }])), [10, 10, 11, 12, 13]);
    equal(applyByteFaults(bytes, 0, [{ kind: "drop", at: 4 }]), bytes, "outside: the same array");
  });
});

describe("tools/module faults on the wire", () => {
  it("stream faults count module→device bytes from power-on (RDY is bytes 0..6)", () => {
    const run = (fault: Fault) => {
      const r = makeRig({ raw: true, faults: [fault] });
      r.advance(100);
      return r.take();
    };
    equal(run({ kind: "drop", at: 2 }), "\r\nDY\r\n");
    equal(run({ kind: "corrupt", at: 2 }), "\r\n" + String.fromCharCode("R".charCodeAt(0) ^ 0xff) + "DY\r\n");
    equal(run({ kind: "dup", at: 2, len: 3 }), "\r\nRRDDYY\r\n");
  });

  it("payload faults of read N: drop, corrupt, duplicate while the header keeps the true count", () => {
    const r = ready([
      { kind: "drop", read: 2, at: 5, len: 2 },
      { kind: "corrupt", read: 3, at: 0 },
      { kind: "dup", read: 4, at: 15 },
    ]);
    equal(
      r.exchange("AT+QIOTOTARD=0,16\r"),
      "\r\n+QIOTOTARD: 0,16\r\n" + block(0, 16) + "\r\n" + OK,
      "read 1 clean",
    );
    equal(
      r.exchange("AT+QIOTOTARD=16,16\r"),
      "\r\n+QIOTOTARD: 16,16\r\n" + block(16, 5) + block(23, 9) + "\r\n" + OK,
    );
    equal(
      r.exchange("AT+QIOTOTARD=32,16\r"),
      "\r\n+QIOTOTARD: 32,16\r\n" + String.fromCharCode(pkg[32]! ^ 0xff) + block(33, 15) + "\r\n" + OK,
    );
    equal(
      r.exchange("AT+QIOTOTARD=48,16\r"),
      "\r\n+QIOTOTARD: 48,16\r\n" + block(48, 16) + block(63, 1) + "\r\n" + OK,
    );
  });

  it("ERROR on the Nth matching command, `times` in a row", () => {
    const r = ready([{ kind: "error", cmd: "QIOTOTARD", nth: 2, times: 2 }]);
    ok(r.exchange("AT+QIOTOTARD=0,16\r").endsWith(OK));
    equal(r.exchange("AT+QIOTOTARD=16,16\r"), ERROR);
    equal(r.exchange("AT+QIOTOTARD=16,16\r"), ERROR);
    equal(r.exchange("AT+QIOTOTARD=16,16\r"), "\r\n+QIOTOTARD: 16,16\r\n" + block(16, 16) + "\r\n" + OK);
    const u = makeRig({ faults: [{ kind: "error", cmd: "QIOTUPDATE=1" }] });
    u.exchange("AT+QIOTOTAREQ=1\r", 100);
    equal(u.exchange("AT+QIOTUPDATE=1\r"), ERROR);
    equal(u.module.otaState, OtaState.REVICEPLAN, "an injected ERROR has no effect");
    equal(u.exchange("AT+QIOTUPDATE=1\r"), OK);
  });

  it("module reboot after read N, after N bytes read, at piece K, and after some time", () => {
    const a = ready([{ kind: "reboot", read: 2 }]);
    a.exchange("AT+QIOTOTARD=0,16\r");
    ok(a.exchange("AT+QIOTOTARD=16,16\r").endsWith(OK), "read 2 is answered first");
    equal(a.exchange("", 100), "\r\nRDY\r\n");
    equal(a.module.otaState, OtaState.NOPLAN);
    const b = ready([{ kind: "reboot", readBytes: 2048 }]);
    b.exchange("AT+QIOTOTARD=0,1024\r");
    equal(b.exchange("", 100), "");
    b.exchange("AT+QIOTOTARD=1024,1024\r");
    equal(b.exchange("", 100), "\r\nRDY\r\n");
    const c = makeRig({ faults: [{ kind: "reboot", piece: 2 }], settings: { freeSpace: 8192 } });
    c.exchange("AT+QIOTOTAREQ=1\r", 100);
    c.exchange("AT+QIOTUPDATE=1\r", 1500);
    equal(c.exchange("AT+QIOTUPDATE=2\r", 100), OK + evt("7,10702") + "\r\nRDY\r\n");
    const d = makeRig({ raw: true, faults: [{ kind: "reboot", afterMs: 5000 }] });
    equal(d.exchange("", 5099), "\r\nRDY\r\n");
    equal(d.exchange("", 1), "\r\nRDY\r\n");
  });

  it("an injected 10706 ends the OTA", () => {
    const r = ready([{ kind: "inject10706", read: 1 }]);
    equal(
      r.exchange("AT+QIOTOTARD=0,4\r"),
      "\r\n+QIOTOTARD: 0,4\r\n" + block(0, 4) + "\r\n" + OK + evt("7,10706"),
    );
    equal(r.module.otaState, OtaState.UPDATEERROR);
  });

  it("connection loss 2,10473/2,10474: offline until QIOTREG=1 (mode 1); during a download it is a silent failure", () => {
    const r = ready([{ kind: "disconnect", read: 1, code: 10474 }]);
    ok(r.exchange("AT+QIOTOTARD=0,4\r").endsWith(OK + evt("2,10474")));
    equal(r.exchange("AT+QIOTSTATE?\r", 10_000), "\r\n+QIOTSTATE: 0\r\n" + OK);
    ok(r.exchange("AT+QIOTOTARD=4,4\r").endsWith(OK), "the piece in the module stays readable");
    equal(r.exchange("AT+QIOTREG=1\r", 200), OK + evt("2,10200") + evt("3,10200"));
    const d = makeRig({ faults: [{ kind: "disconnect", piece: 1 }] });
    d.exchange("AT+QIOTOTAREQ=1\r", 100);
    const out = d.exchange("AT+QIOTUPDATE=1\r", 1000);
    ok(out.endsWith(evt("2,10473")), out);
    equal(d.module.otaState, OtaState.DOWNLOADERROR);
    equal(d.module.downloadFailures, 1);
  });

  it("URC burst before read N's reply, and a URC between the payload and OK", () => {
    const r = ready([
      { kind: "burst", read: 1, count: 3 },
      { kind: "urc-before-ok", read: 2 },
    ]);
    equal(
      r.exchange("AT+QIOTOTARD=0,4\r"),
      evt("4,10200") +
        evt("5,10200") +
        '\r\n+QIND: "FOTA","START"\r\n' +
        "\r\n+QIOTOTARD: 0,4\r\n" +
        block(0, 4) +
        "\r\n" +
        OK,
    );
    equal(
      r.exchange("AT+QIOTOTARD=4,4\r"),
      "\r\n+QIOTOTARD: 4,4\r\n" + block(4, 4) + "\r\n" + evt("4,10200") + OK,
    );
  });

  it("a reply header with a wrong offset", () => {
    const r = ready([{ kind: "bad-offset", read: 1, delta: -1 }]);
    equal(r.exchange("AT+QIOTOTARD=100,4\r"), "\r\n+QIOTOTARD: 99,4\r\n" + block(100, 4) + "\r\n" + OK);
  });

  it("invalid download information (SHA-256 requested but missing) gives 10706 instead of 10701", () => {
    const r = makeRig({ faults: [{ kind: "invalid-download-info" }] });
    r.exchange("AT+QIOTOTAREQ=1\r", 100);
    equal(r.exchange("AT+QIOTUPDATE=1\r", 1000), OK + evt("7,10706"));
    equal(r.module.otaState, OtaState.UPDATEERROR);
    deepEqual(
      r.module.monitor.entries[r.module.monitor.entries.length - 1]!.reason,
      "invalid download information (SHA-256 requested but missing)",
    );
  });

  it("silent download failure at byte X of piece K", () => {
    const r = makeRig({ faults: [{ kind: "fail", piece: 2, byte: 100 }], settings: { freeSpace: 8192 } });
    r.exchange("AT+QIOTOTAREQ=1\r", 100);
    r.exchange("AT+QIOTUPDATE=1\r", 1500);
    equal(r.exchange("AT+QIOTUPDATE=2\r", 5), OK + evt("7,10702"), "100 bytes at 20 kB/s: 5 ms");
    equal(r.module.otaState, OtaState.DOWNLOADERROR);
    equal(r.exchange("", 60_000), "", "no event at all");
    deepEqual(r.module.monitor.eventsOf("MCU"), [
      "offered",
      "confirmed",
      "downloading",
      "piece",
      "download-failed",
    ]);
  });
});
