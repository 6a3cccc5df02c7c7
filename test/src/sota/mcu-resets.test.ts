// MCU resets inside the download while the module keeps running: the engine's record holds the piece window,
// so a restart reads on from the verified prefix at once, and never reads a window that is still moving.

import type { TraceEntry } from "../../../tools/module/virtual-module.js";
import { equal, ok } from "../../lib/assert.js";
import { Rig } from "./rig.js";

const MINUTE = 60_000;
const SECTOR = 4096;

/** A 40,000-byte image in 16 KiB pieces (whole sectors); the MCU dies when `cutWhen` sees a command line. */
function rigWithCut(cutWhen: (line: string) => boolean) {
  const trace: TraceEntry[] = [];
  let cutAt = -1;
  let dead = false;
  const rig: Rig = new Rig({
    imageSize: 40_000,
    settings: { freeSpace: 16_384 },
    onTrace: (entry) => trace.push(entry),
    onCommand: (line) => {
      if (cutAt < 0 && cutWhen(line)) {
        cutAt = rig.commands.length;
        // The command is on the wire; the MCU resets before it sees the answer.
        rig.clock.setTimer(() => {
          rig.powerCut();
          dead = true;
        }, 0);
      }
    },
  });
  return { rig, trace, cut: () => dead };
}

function readStart(line: string): number {
  const match = /^AT\+QIOTOTARD=(\d+),\d+$/.exec(line);
  return match ? Number(match[1]) : -1;
}

describe("SOTA engine: MCU resets inside the download (the module keeps its piece)", () => {
  it("a reset while reading a piece resumes at the verified prefix at once: no plan, no version report, no 10706", async () => {
    const { rig, cut } = rigWithCut((line) => readStart(line) >= 22_000);
    rig.bootDevice();
    ok(await rig.runUntil(cut, 10 * MINUTE), "the reset happened inside the second piece");
    const before = rig.commands.length;
    const rebootAt = rig.clock.now();
    let firstReadAt = -1;
    rig.bootDevice();
    ok(
      await rig.runUntil(() => {
        if (firstReadAt < 0 && rig.readStarts(before).length > 0) firstReadAt = rig.clock.now();
        return rig.monitorHas("success") && rig.hasState("updated");
      }, 30 * MINUTE),
      JSON.stringify(rig.states.slice(-4)),
    );
    const after = rig.commands.slice(before);
    const firstRead = after.findIndex((line) => readStart(line) >= 0);
    ok(firstRead >= 0);
    const beforeRead = after.slice(0, firstRead);
    ok(
      !beforeRead.some((line) => line.startsWith("AT+QIOTOTAREQ")),
      `no plan request: ${beforeRead.join(" | ")}`,
    );
    ok(!beforeRead.some((line) => line.startsWith("AT+QIOTMCUVER")), "no version report before reading");
    // The journal keeps whole sectors: the read goes on from the last one verified, inside the second piece.
    equal(readStart(after[firstRead]!), 5 * SECTOR);
    ok(firstReadAt - rebootAt < 2000, `reading again ${firstReadAt - rebootAt} ms after the reboot`);
    equal(rig.module.monitor.entries.filter((e) => e.event === "failure").length, 0, "no 10706");
    equal(rig.kv.get("sota.history"), undefined, "nothing counted against the version");
    // No verified sector read twice: every read after the reset starts at or past the verified prefix.
    ok(rig.readStarts(before).every((start) => start >= 5 * SECTOR));
  });

  it("a reset between QIOTUPDATE=2 and the next 10703 reads nothing until that 10703, then completes", async () => {
    const { rig, trace, cut } = rigWithCut((line) => line === "AT+QIOTUPDATE=2");
    rig.bootDevice();
    ok(await rig.runUntil(cut, 10 * MINUTE));
    const from = trace.length;
    rig.bootDevice();
    ok(
      await rig.runUntil(() => rig.monitorHas("success") && rig.hasState("updated"), 30 * MINUTE),
      JSON.stringify(rig.states.slice(-4)),
    );
    const later = trace.slice(from);
    const piece = later.findIndex((e) => e.kind === "urc" && /^\+QIOTEVT: 7,10703,/.test(e.text));
    const read = later.findIndex((e) => e.kind === "rx" && e.text.startsWith("AT+QIOTOTARD="));
    ok(piece >= 0 && read > piece, "the first read after the reset comes after the next 10703");
    equal(rig.module.monitor.entries.filter((e) => e.event === "failure").length, 0, "no 10706");
  });

  it("a reset between QIOTUPDATE=2 and a 10703 it then missed: no read and no second QIOTUPDATE=2 before a new 10703; nothing counted", async () => {
    const { rig, trace, cut } = rigWithCut((line) => line === "AT+QIOTUPDATE=2");
    rig.bootDevice();
    ok(await rig.runUntil(cut, 10 * MINUTE));
    // The MCU stays down while the module prints the next piece's 10703: that line is lost with the UART.
    ok(
      await rig.runUntil(
        () => trace.some((e) => /^\+QIOTEVT: 7,10703,"app",40000,16384,/.test(e.text)),
        MINUTE,
      ),
    );
    await rig.runUntil(() => false, 1000);
    const from = trace.length;
    rig.bootDevice();
    ok(
      await rig.runUntil(() => rig.monitorHas("success") && rig.hasState("updated"), 60 * MINUTE),
      JSON.stringify(rig.states.slice(-4)),
    );
    const later = trace.slice(from);
    const piece = later.findIndex((e) => e.kind === "urc" && /^\+QIOTEVT: 7,10703,/.test(e.text));
    const risky = later.findIndex(
      (e) => e.kind === "rx" && (e.text.startsWith("AT+QIOTOTARD=") || e.text === "AT+QIOTUPDATE=2"),
    );
    ok(piece >= 0 && risky > piece, "no read and no QIOTUPDATE=2 until a new 10703");
    ok(rig.hasState("failed"), "the lost piece was told");
    equal(rig.kv.get("sota.history"), undefined, "nothing counted against the version");
  });

  it("a module reboot forgets the window: the restarted engine does not read a piece the module lost", async () => {
    const { rig, cut } = rigWithCut((line) => readStart(line) >= 22_000);
    rig.bootDevice();
    ok(await rig.runUntil(cut, 10 * MINUTE));
    rig.module.reboot();
    const before = rig.commands.length;
    rig.bootDevice();
    // The module lost its piece: the engine waits for the next offer and resumes from its prefix then.
    ok(
      await rig.runUntil(() => rig.monitorHas("success") && rig.hasState("updated"), 60 * MINUTE),
      JSON.stringify(rig.states.slice(-4)),
    );
    ok(
      rig.readStarts(before).every((start) => start >= 5 * SECTOR),
      "the verified prefix was kept",
    );
  });
});
