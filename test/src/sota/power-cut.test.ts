// End-to-end power-cut sweep: a cut before every flash operation of a whole update through the engine and the
// virtual module (download, verify, activate, trial boot, confirm), plain and torn. After each cut the MCU
// restarts on what the cut left: it must run a whole image (old or new), and the module's next offer must end
// with the new version confirmed, without re-reading the sectors that were already verified.

import { deepEqual, equal, ok } from "../../lib/assert.js";
import { inspectBoot } from "../../../src/boot/generic-boot.js";
import { NEW_VERSION, OLD_VERSION, Rig } from "./rig.js";
import type { RigOptions } from "./rig.js";

const inXs = typeof (globalThis as { process?: unknown }).process === "undefined";
const MINUTE = 60_000;

// Three 4 KiB sectors and a tail, in two module pieces: every kind of flash step appears at least twice.
// The device UART has the ESP32's 128-byte FIFO: recovery must not lose bytes to flash work either.
const OPTIONS: RigOptions = {
  imageSize: 3 * 4096 + 700,
  writeAlign: 4,
  fifoSize: 128,
  settings: { freeSpace: 8192 },
};

async function fullUpdateOperations(): Promise<number> {
  const rig = new Rig(OPTIONS);
  rig.bootDevice();
  ok(
    await rig.runUntil(() => rig.monitorHas("success") && rig.hasState("updated"), 30 * MINUTE),
    "reference update",
  );
  return rig.flash.stats.operations;
}

interface CutOutcome {
  bootedNew: boolean;
  resumedFrom: number;
}

async function cutAndRecover(operation: number, torn: "none" | "any"): Promise<CutOutcome> {
  const rig = new Rig(OPTIONS);
  const oldSha = rig.sha256(rig.oldImage);
  const newSha = rig.sha256(rig.newImage);
  rig.flash.armPowerCut(operation, torn, operation * 7919);
  rig.bootDevice();
  ok(await rig.runUntil(() => rig.flash.cutHappened, 30 * MINUTE), `cut ${operation} happened`);
  rig.powerCut();
  rig.flash.powerOn();
  const commandsBefore = rig.commands.length;

  rig.bootDevice();
  const report = rig.boots[rig.boots.length - 1]!;
  const running = rig.runningSha256(report);
  ok(
    running === oldSha || running === newSha,
    `cut ${operation}/${torn}: the running slot holds a whole image (${report.running.version})`,
  );
  equal(
    report.running.version,
    running === newSha ? NEW_VERSION : OLD_VERSION,
    "the record names the image that runs",
  );

  const done = () => rig.monitorHas("success") && rig.hasState("updated");
  ok(
    await rig.runUntil(done, 60 * MINUTE),
    `cut ${operation}/${torn}: the update completes; states ${JSON.stringify(rig.states.slice(-4))}`,
  );
  await rig.clock.run(1000);

  const final = inspectBoot(rig.flash, rig.layout);
  const runningSlot = final.slots.find((s) => s.version === NEW_VERSION && s.state === "confirmed");
  ok(
    runningSlot !== undefined,
    `cut ${operation}/${torn}: the new image is confirmed: ${JSON.stringify(final.slots)}`,
  );
  equal(rig.runningSha256({ ...report, running: runningSlot }), newSha);

  // A resume starts at the verified prefix the journal proved; nothing below it is read again.
  const resumed = rig.logs
    .map((l) => /resumable image .*: (\d+) bytes verified/.exec(l))
    .find((m) => m !== null);
  const resumedFrom = resumed ? Number(resumed[1]) : 0;
  const reads = rig.readStarts(commandsBefore);
  if (resumedFrom > 0)
    ok(
      reads.every((start) => start >= resumedFrom),
      `cut ${operation}/${torn}: reads ${reads} below ${resumedFrom}`,
    );
  equal(rig.link.a.droppedBytes, 0, `cut ${operation}/${torn}: no byte lost on the 128-byte FIFO`);
  return { bootedNew: running === newSha, resumedFrom };
}

describe("SOTA engine: power cut before every flash operation of a whole update (plain and torn)", function () {
  this.timeout(600_000);

  it("always restarts on a whole image and ends with the new version confirmed", async () => {
    const started = Date.now();
    const total = await fullUpdateOperations();
    ok(total > 20, `a full update takes ${total} flash operations`);
    let covered = 0;
    let resumes = 0;
    let bootedNew = 0;
    for (let operation = 1; operation <= total; operation++) {
      for (const torn of ["none", "any"] as const) {
        const outcome = await cutAndRecover(operation, torn);
        covered++;
        if (outcome.resumedFrom > 0) resumes++;
        if (outcome.bootedNew) bootedNew++;
      }
    }
    // Printed for the closing note: how much of the cycle the sweep covered.
    (globalThis as { print?: (s: string) => void }).print?.(`cut points: ${covered}`);
    if (!inXs)
      console.log(
        `      ${total} flash operations per update; ${covered} cut points (plain + torn); ${resumes} resumed downloads; ${bootedNew} restarts already on the new image; ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
    ok(resumes > 0 && bootedNew > 0, "the sweep reached both the download and the activation");
    deepEqual(covered, 2 * total);
  });
});
