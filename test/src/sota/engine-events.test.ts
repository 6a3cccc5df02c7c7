// The engine against repeated, late and lost module events (a 10703 twice, a 10706 after QIOTUPDATE=3's OK,
// a lost 10705) and a retried download without 10701: each test pins one guard that a mutation once removed unseen.

import { inspectBoot } from "../../../src/boot/generic-boot.js";
import { deepEqual, equal, ok } from "../../lib/assert.js";
import { COMPONENT, NEW_VERSION, OLD_VERSION, Rig } from "./rig.js";

const MINUTE = 60_000;

function latin1(bytes: Uint8Array): string {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return text;
}

function fromLatin1(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/** Rewrites the module -> device stream write by write (the module sends each URC and reply in one write). */
function tamper(rig: Rig, edit: (text: string) => string): void {
  const end = rig.link.b;
  const write = end.write.bind(end);
  end.write = (bytes: Uint8Array) => {
    const text = latin1(bytes);
    const edited = edit(text);
    write(edited === text ? bytes : fromLatin1(edited));
  };
}

const reports = (rig: Rig, version: string) =>
  rig.commands.filter((c) => c === `AT+QIOTMCUVER="${COMPONENT}","${version}"`).length;

function assertUpdated(rig: Rig): void {
  ok(rig.monitorHas("success"), "the module saw 10705");
  const report = rig.boots[rig.boots.length - 1]!;
  equal(report.running.version, NEW_VERSION);
  equal(rig.runningSha256(report), rig.sha256(rig.newImage), "the running slot holds the new image");
}

describe("SOTA engine: repeated, late and lost module events", () => {
  it("ignores a repeated 10703 for the piece it already moved past: no second QIOTUPDATE=2, no piece skipped", async () => {
    const rig = new Rig({ imageSize: 3 * 4096, settings: { freeSpace: 4096 } });
    let first = "";
    let repeated = false;
    tamper(rig, (text) => {
      if (!text.includes("+QIOTEVT: 7,10703")) return text;
      if (first === "") first = text;
      else if (!repeated) {
        // The first piece's 10703 once more, right before the second piece's.
        repeated = true;
        return first + text;
      }
      return text;
    });
    rig.bootDevice();
    ok(await rig.runUntil(() => rig.hasState("updated"), 30 * MINUTE), JSON.stringify(rig.states.slice(-4)));
    ok(repeated, "the repeat was sent");
    equal(
      rig.commands.filter((c) => c === "AT+QIOTUPDATE=2").length,
      2,
      "one QIOTUPDATE=2 per piece boundary",
    );
    ok(rig.logs.some((l) => l.includes("10703 for the piece at 0 again: ignored")));
    deepEqual(rig.readStarts(), [0, 1024, 2048, 3072, 4096, 5120, 6144, 7168, 8192, 9216, 10240, 11264]);
    assertUpdated(rig);
  });

  it("does not install an image when a 10706 follows QIOTUPDATE=3's OK: no activation, the old version reported, a failure counted", async () => {
    let finishSent = false;
    let injected = false;
    const rig = new Rig({
      imageSize: 8192,
      onCommand: (line) => {
        if (line === "AT+QIOTUPDATE=3") finishSent = true;
      },
    });
    tamper(rig, (text) => {
      if (!finishSent || injected || !text.includes("\r\nOK\r\n")) return text;
      injected = true;
      return `${text}\r\n+QIOTEVT: 7,10706\r\n`;
    });
    rig.bootDevice();
    const reason = `the module reported failure (10706) at QIOTUPDATE=3; keeping ${OLD_VERSION}`;
    ok(
      await rig.runUntil(() => rig.states.some((s) => s.reason === reason), 10 * MINUTE),
      JSON.stringify(rig.states.slice(-4)),
    );
    await rig.clock.run(5000);
    ok(injected);
    ok(!rig.hasState("activating"), "never activated");
    equal(rig.boots.length, 1, "no restart into the new image");
    deepEqual(
      inspectBoot(rig.flash, rig.layout).slots.map((s) => s.state),
      ["confirmed", "empty"],
      "the verified image is dropped, nothing is pending a trial",
    );
    equal(reports(rig, OLD_VERSION), 2, "the old version reported again, ending the module's OTA");
    equal(reports(rig, NEW_VERSION), 0);
    const history = JSON.parse(rig.kv.get("sota.history")!) as { version: string; failures: number };
    deepEqual([history.version, history.failures], [NEW_VERSION, 1]);
  });

  it("repeats the installed version's report when its 10705 is lost: three reports, 10 s apart", async () => {
    let dropped = 0;
    const rig = new Rig({ imageSize: 8192 });
    tamper(rig, (text) => {
      if (dropped > 0 || !text.includes("+QIOTEVT: 7,10705")) return text;
      dropped++;
      return text.replace(/\r\n\+QIOTEVT: 7,10705[^\r]*\r\n/, "");
    });
    rig.bootDevice();
    ok(await rig.runUntil(() => rig.hasState("updated"), 30 * MINUTE), JSON.stringify(rig.states.slice(-4)));
    await rig.clock.run(2000);
    equal(dropped, 1, "the first 10705 was lost");
    // This module prints 10705 once per OTA, so the report goes out all three rounds, then the update stands.
    equal(reports(rig, NEW_VERSION), 3, "the report is repeated after the lost 10705");
    deepEqual(
      rig.states.filter((s) => s.state === "updated").map((s) => s.reason),
      [`running ${NEW_VERSION}`],
    );
    assertUpdated(rig);
  });

  it("keeps the plan's digests for a retried download that brings 10702 without 10701 and has no partial image", async () => {
    // The module fails silently before the first byte: nothing is received, so no partial image holds the digests.
    const rig = new Rig({ imageSize: 8192, faults: ["fail:piece=1,byte=0"] });
    rig.bootDevice();
    ok(await rig.runUntil(() => rig.hasState("updated"), 120 * MINUTE), JSON.stringify(rig.states.slice(-6)));
    equal(rig.commands.filter((c) => c === "AT+QIOTUPDATE=1").length, 2, "confirmed twice: the retry");
    equal(
      rig.module.monitor.entries.filter((e) => e.component === COMPONENT && e.event === "downloading").length,
      2,
    );
    ok(!rig.states.some((s) => /download information missing/.test(s.reason)), "the retry found its digests");
    assertUpdated(rig);
  });
});
