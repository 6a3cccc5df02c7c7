// The ESP32 boot decision table and record parsing: every power-cut landing of activate/confirm/reject maps to one row.

import fc from "fast-check";
import { deepEqual, equal, ok } from "../../../lib/assert.js";
import { assertProperty } from "../../../lib/property.js";
import type { Esp32ImageRecord } from "../../../../src/boot/esp32/esp32-ota-state.js";
import { OtaImageState, type OtaPartitionView } from "../../../../hal/ota.js";
import {
  decideEsp32Boot,
  nvsKey,
  parseImageRecord,
  slotNumber,
} from "../../../../src/boot/esp32/esp32-ota-state.js";

const build = { component: "mcu", version: "1.1.0" };
/** The table with the other partition unselected and no app ids (rows that need them are tested below). */
function decide(r: Esp32ImageRecord | undefined | null, running: OtaPartitionView) {
  const next = { label: running.label === "ota_0" ? "ota_1" : "ota_0", state: OtaImageState.undefined };
  return decideEsp32Boot(r ?? undefined, running, next, build, "");
}
function record(state: Esp32ImageRecord["state"], extra: Partial<Esp32ImageRecord> = {}): Esp32ImageRecord {
  return {
    v: 2,
    label: "ota_1",
    state,
    component: "mcu",
    version: "1.1.0",
    size: 5000,
    md5: "a".repeat(32),
    sha256: "b".repeat(64),
    crc: 7,
    received: 5000,
    reason: "",
    fresh: false,
    from: "",
    app: "",
    nextWas: -1,
    hdr: 0,
    img: 0,
    ...extra,
  };
}

describe("src/boot/esp32 esp32-ota-state", () => {
  it("no record: the running build, trial only if ESP-IDF says pending verify", () => {
    const d = decide(undefined, { label: "ota_0", state: OtaImageState.valid });
    deepEqual(d, {
      running: {
        slot: 0,
        state: "confirmed",
        component: "mcu",
        version: "1.1.0",
        size: 0,
        md5: "",
        sha256: "",
      },
      trial: false,
      rollbackReason: "",
      record: undefined,
      rollback: "unknown",
      notices: [],
    });
    equal(decide(undefined, { label: "ota_1", state: OtaImageState.pendingVerify }).trial, true);
    // Flashed over USB: otadata is blank, ESP-IDF reports no state, and nothing needs confirming.
    equal(decide(undefined, { label: "ota_0", state: OtaImageState.undefined }).trial, false);
    equal(decide(undefined, { label: "ota_0", state: OtaImageState.new }).running.state, "confirmed");
  });

  it("selected image running pending verify is a trial, also when the cut came before recording pending-test", () => {
    for (const state of ["verified", "pending-test"] as const) {
      const d = decide(record(state), { label: "ota_1", state: OtaImageState.pendingVerify });
      equal(d.trial, true);
      equal(d.running.state, "pending-test");
      equal(d.running.slot, 1);
      equal(d.running.md5, "a".repeat(32));
      equal(d.record?.state ?? "unchanged", state === "verified" ? "pending-test" : "unchanged");
    }
  });

  it("marked valid but not yet recorded confirmed: confirmed", () => {
    const d = decide(record("pending-test"), { label: "ota_1", state: OtaImageState.valid });
    equal(d.trial, false);
    equal(d.running.state, "confirmed");
    equal(d.record?.state, "confirmed");
  });

  it("pending-test but the other partition runs: the bootloader rolled back", () => {
    const d = decide(record("pending-test"), { label: "ota_0", state: OtaImageState.valid });
    equal(d.rollbackReason, "trial not confirmed");
    equal(d.record?.state, "rejected");
    equal(d.running.slot, 0);
    equal(d.trial, false);
  });

  it("a fresh reject is reported once", () => {
    const first = decide(record("rejected", { reason: "health check failed", fresh: true }), {
      label: "ota_0",
      state: OtaImageState.valid,
    });
    equal(first.rollbackReason, "health check failed");
    equal(first.record?.fresh, false);
    const second = decide(first.record, { label: "ota_0", state: OtaImageState.valid });
    equal(second.rollbackReason, "");
    equal(second.record, undefined);
  });

  it("a verified image not yet selected leaves the running one alone", () => {
    const d = decide(record("verified"), { label: "ota_0", state: OtaImageState.valid });
    equal(d.record, undefined);
    equal(d.rollbackReason, "");
    equal(d.running.slot, 0);
  });

  it("parses what it writes and refuses malformed records", () => {
    deepEqual(
      parseImageRecord(JSON.stringify(record("receiving", { received: 4096 }))),
      record("receiving", { received: 4096 }),
    );
    equal(parseImageRecord(undefined), undefined);
    equal(parseImageRecord('{"v":1'), undefined);
    equal(parseImageRecord(JSON.stringify({ ...record("receiving"), received: 6000 })), undefined);
    equal(parseImageRecord(JSON.stringify({ ...record("receiving"), state: "bogus" })), undefined);
    equal(parseImageRecord(JSON.stringify({ ...record("receiving"), size: -1 })), undefined);
    equal(parseImageRecord("null"), undefined);
  });

  it("slot numbers come from ota_N labels", () => {
    equal(slotNumber("ota_0"), 0);
    equal(slotNumber("ota_1"), 1);
    equal(slotNumber("factory"), -1);
    equal(slotNumber(""), -1);
  });

  it("NVS keys: short ones unchanged, long ones 15 characters and distinct", () => {
    equal(nvsKey("sota.image"), "sota.image");
    equal(nvsKey("abcdefghijklmno"), "abcdefghijklmno");
    equal(nvsKey("sota.ota-record-long"), "sota.o~" + nvsKey("sota.ota-record-long").slice(7));
    assertProperty(
      fc.property(
        fc.string({ minLength: 16, maxLength: 40 }),
        fc.string({ minLength: 16, maxLength: 40 }),
        (a, b) => {
          equal(nvsKey(a).length, 15);
          ok(a === b || nvsKey(a) !== nvsKey(b), `${a} and ${b} share ${nvsKey(a)}`);
        },
      ),
      { numRuns: 50 },
    );
  });

  it("record verified or pending-test, otadata says ABORTED/INVALID/PENDING_VERIFY for it: rolled back, never activated again", () => {
    const running = { label: "ota_0", state: OtaImageState.valid };
    const row = (state: "verified" | "pending-test", next: number, nextWas = -1) =>
      decideEsp32Boot(record(state, { nextWas }), running, { label: "ota_1", state: next }, build, "");
    const cases: [ReturnType<typeof row>, string][] = [
      [row("verified", OtaImageState.aborted), "trial not confirmed"],
      [row("pending-test", OtaImageState.aborted), "trial not confirmed"],
      [row("verified", OtaImageState.invalid), "trial rejected"],
      [row("verified", OtaImageState.pendingVerify), "new image did not load"],
      [row("verified", OtaImageState.new), "new image did not load"],
      [
        row("verified", OtaImageState.aborted, OtaImageState.aborted),
        "activation interrupted or trial not confirmed",
      ],
      [row("pending-test", OtaImageState.aborted, OtaImageState.aborted), "trial not confirmed"],
    ];
    for (const [d, reason] of cases) {
      equal(d.rollbackReason, reason);
      deepEqual([d.record?.state, d.record?.reason], ["rejected", reason]);
      equal(d.running.slot, 0);
    }
    // Not selected yet (cut before esp_ota_set_boot_partition): stays verified, so the engine activates it.
    const waiting = row("verified", OtaImageState.undefined);
    deepEqual([waiting.rollbackReason, waiting.record], ["", undefined]);
  });

  it("running state NEW: the bootloader has no rollback, said at start-up", () => {
    const d = decideEsp32Boot(
      record("pending-test", { app: "c".repeat(64) }),
      { label: "ota_1", state: OtaImageState.new },
      { label: "ota_0", state: OtaImageState.valid },
      build,
      "c".repeat(64),
    );
    equal(d.rollback, "missing");
    equal(d.trial, false);
    equal(d.running.state, "confirmed");
    ok(d.notices.some((line) => line.startsWith("bootloader without rollback")));
  });

  it("a record that does not describe the running image (re-flashed over USB) is reset with a message", () => {
    const other = { label: "ota_1", state: OtaImageState.undefined };
    const running = { label: "ota_0", state: OtaImageState.undefined };
    const stale = decideEsp32Boot(
      record("verified", { from: "a".repeat(64) }),
      running,
      other,
      build,
      "f".repeat(64),
    );
    equal(stale.record, null);
    ok(/does not describe the running image ota_0: reset/.test(stale.notices[0]!));
    const mine = decideEsp32Boot(
      record("confirmed", { label: "ota_0", app: "e".repeat(64) }),
      running,
      other,
      build,
      "f".repeat(64),
    );
    equal(mine.record, null);
    const fine = decideEsp32Boot(
      record("verified", { from: "f".repeat(64) }),
      running,
      other,
      build,
      "f".repeat(64),
    );
    deepEqual([fine.record, fine.notices], [undefined, []]);
  });
});
