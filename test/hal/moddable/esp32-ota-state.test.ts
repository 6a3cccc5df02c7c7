// The ESP32 boot decision table and record parsing: every power-cut landing of activate/confirm/reject maps to one row.

import fc from "fast-check";
import { deepEqual, equal, ok } from "../../lib/assert.js";
import type { Esp32ImageRecord } from "../../../hal/moddable/esp32-ota-state.js";
import {
  OtaImageState,
  decideEsp32Boot,
  nvsKey,
  parseImageRecord,
  slotNumber,
} from "../../../hal/moddable/esp32-ota-state.js";
import { assertProperty } from "../../lib/property.js";

const build = { component: "mcu", version: "1.1.0" };
function record(state: Esp32ImageRecord["state"], extra: Partial<Esp32ImageRecord> = {}): Esp32ImageRecord {
  return {
    v: 1,
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
    ...extra,
  };
}

describe("hal/moddable esp32-ota-state", () => {
  it("no record: the running build, trial only if ESP-IDF says pending verify", () => {
    const d = decideEsp32Boot(undefined, { label: "ota_0", state: OtaImageState.valid }, build);
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
    });
    equal(
      decideEsp32Boot(undefined, { label: "ota_1", state: OtaImageState.pendingVerify }, build).trial,
      true,
    );
    // Flashed over USB: otadata is blank, ESP-IDF reports no state, and nothing needs confirming.
    equal(decideEsp32Boot(undefined, { label: "ota_0", state: OtaImageState.undefined }, build).trial, false);
    equal(
      decideEsp32Boot(undefined, { label: "ota_0", state: OtaImageState.new }, build).running.state,
      "confirmed",
    );
  });

  it("selected image running pending verify is a trial, also when the cut came before recording pending-test", () => {
    for (const state of ["verified", "pending-test"] as const) {
      const d = decideEsp32Boot(record(state), { label: "ota_1", state: OtaImageState.pendingVerify }, build);
      equal(d.trial, true);
      equal(d.running.state, "pending-test");
      equal(d.running.slot, 1);
      equal(d.running.md5, "a".repeat(32));
      equal(d.record?.state ?? "unchanged", state === "verified" ? "pending-test" : "unchanged");
    }
  });

  it("marked valid but not yet recorded confirmed: confirmed", () => {
    const d = decideEsp32Boot(record("pending-test"), { label: "ota_1", state: OtaImageState.valid }, build);
    equal(d.trial, false);
    equal(d.running.state, "confirmed");
    equal(d.record?.state, "confirmed");
  });

  it("pending-test but the other partition runs: the bootloader rolled back", () => {
    const d = decideEsp32Boot(record("pending-test"), { label: "ota_0", state: OtaImageState.valid }, build);
    equal(d.rollbackReason, "trial not confirmed");
    equal(d.record?.state, "rejected");
    equal(d.running.slot, 0);
    equal(d.trial, false);
  });

  it("a fresh reject is reported once", () => {
    const first = decideEsp32Boot(
      record("rejected", { reason: "health check failed", fresh: true }),
      { label: "ota_0", state: OtaImageState.valid },
      build,
    );
    equal(first.rollbackReason, "health check failed");
    equal(first.record?.fresh, false);
    const second = decideEsp32Boot(first.record, { label: "ota_0", state: OtaImageState.valid }, build);
    equal(second.rollbackReason, "");
    equal(second.record, undefined);
  });

  it("a verified image not yet selected leaves the running one alone", () => {
    const d = decideEsp32Boot(record("verified"), { label: "ota_0", state: OtaImageState.valid }, build);
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
});
