// Edges of the ESP32 start-up decision and record parsing: each field's type rule, exact SlotInfo and records per row.

import { deepEqual, equal } from "../../../lib/assert.js";
import { OtaImageState, type OtaPartitionView } from "../../../../hal/ota.js";
import {
  decideEsp32Boot,
  nextSlotInfo,
  parseImageRecord,
  slotNumber,
  type Esp32ImageRecord,
} from "../../../../src/boot/esp32/esp32-ota-state.js";

const build = { component: "app", version: "9.9.9" };
const OTA0_VALID: OtaPartitionView = { label: "ota_0", state: OtaImageState.valid };
const OTA1_NONE: OtaPartitionView = { label: "ota_1", state: OtaImageState.undefined };

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
    received: 4096,
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

const plainRunning = (slot: number, state: "confirmed" | "pending-test") => ({
  slot,
  state,
  component: "app",
  version: "9.9.9",
  size: 0,
  md5: "",
  sha256: "",
});

describe("src/boot/esp32 esp32-ota-state edges", () => {
  it("parseImageRecord refuses each field of the wrong type, one at a time", () => {
    const good = record("receiving");
    deepEqual(parseImageRecord(JSON.stringify(good)), good);
    const bad: [string, unknown][] = [
      ["v", 1],
      ["v", "2"],
      ["state", undefined],
      ["label", 1],
      ["component", null],
      ["version", 2],
      ["md5", false],
      ["sha256", 0],
      ["reason", 0],
      ["from", 0],
      ["app", 0],
      ["nextWas", "-1"],
      ["size", "5000"],
      ["size", 5000.5],
      ["crc", -1],
      ["crc", "7"],
      ["received", -1],
      ["received", 1.5],
      ["hdr", -1],
      ["hdr", "0"],
      ["img", -1],
      ["img", null],
      ["fresh", 0],
      ["fresh", "false"],
    ];
    for (const [key, value] of bad)
      equal(
        parseImageRecord(JSON.stringify({ ...good, [key]: value })),
        undefined,
        `${key}: ${String(value)}`,
      );
    for (const key of ["nextWas", "fresh", "size"]) {
      const missing: Record<string, unknown> = { ...good };
      delete missing[key];
      equal(parseImageRecord(JSON.stringify(missing)), undefined, `without ${key}`);
    }
    equal(parseImageRecord("2"), undefined);
    equal(parseImageRecord('"text"'), undefined);
    equal(parseImageRecord("not json"), undefined);
    // Zero counts and a negative nextWas are fine; received may equal size.
    const edge = record("verified", { size: 0, crc: 0, received: 0, hdr: 0, img: 0, nextWas: -1 });
    deepEqual(parseImageRecord(JSON.stringify(edge)), edge);
    const full = record("verified", { received: 5000 });
    deepEqual(parseImageRecord(JSON.stringify(full)), full);
    equal(parseImageRecord(JSON.stringify(record("verified", { received: 5001 }))), undefined);
  });

  it("slotNumber takes whole ota_N labels only", () => {
    equal(slotNumber("ota_12"), 12);
    equal(slotNumber("xota_1"), -1);
    equal(slotNumber("ota_1x"), -1);
    equal(slotNumber("ota_"), -1);
    equal(slotNumber("ota_a"), -1);
  });

  it("nextSlotInfo: the record's image unless it is confirmed or elsewhere, else an empty slot", () => {
    const empty = {
      slot: 1,
      state: "empty" as const,
      component: "",
      version: "",
      size: 0,
      md5: "",
      sha256: "",
    };
    deepEqual(nextSlotInfo(undefined, OTA1_NONE), empty);
    deepEqual(nextSlotInfo(record("confirmed"), OTA1_NONE), empty);
    deepEqual(nextSlotInfo(record("verified", { label: "ota_0" }), OTA1_NONE), empty);
    deepEqual(nextSlotInfo(record("verified"), OTA1_NONE), {
      slot: 1,
      state: "verified",
      component: "mcu",
      version: "1.1.0",
      size: 5000,
      md5: "a".repeat(32),
      sha256: "b".repeat(64),
    });
  });

  it("no record: exact decisions for a plain run, a trial and a bootloader without rollback", () => {
    deepEqual(decideEsp32Boot(undefined, OTA0_VALID, OTA1_NONE, build, ""), {
      running: plainRunning(0, "confirmed"),
      trial: false,
      rollbackReason: "",
      record: undefined,
      rollback: "unknown",
      notices: [],
    });
    deepEqual(
      decideEsp32Boot(
        undefined,
        { label: "ota_0", state: OtaImageState.pendingVerify },
        OTA1_NONE,
        build,
        "",
      ),
      {
        running: plainRunning(0, "pending-test"),
        trial: true,
        rollbackReason: "",
        record: undefined,
        rollback: "supported",
        notices: [],
      },
    );
    deepEqual(
      decideEsp32Boot(undefined, { label: "ota_0", state: OtaImageState.new }, OTA1_NONE, build, ""),
      {
        running: plainRunning(0, "confirmed"),
        trial: false,
        rollbackReason: "",
        record: undefined,
        rollback: "missing",
        notices: [
          "bootloader without rollback (CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE): this image runs untested and a bad update cannot roll back",
        ],
      },
    );
  });

  it("the selected image on trial and confirmed: exact SlotInfo from the record with the running build's names", () => {
    const pv = { label: "ota_1", state: OtaImageState.pendingVerify };
    const next0 = { label: "ota_0", state: OtaImageState.valid };
    const fromRecord = (state: "pending-test" | "confirmed") => ({
      slot: 1,
      state,
      component: "app",
      version: "9.9.9",
      size: 5000,
      md5: "a".repeat(32),
      sha256: "b".repeat(64),
    });
    deepEqual(decideEsp32Boot(record("pending-test"), pv, next0, build, ""), {
      running: fromRecord("pending-test"),
      trial: true,
      rollbackReason: "",
      record: undefined,
      rollback: "supported",
      notices: [],
    });
    deepEqual(decideEsp32Boot(record("verified", { reason: "x", fresh: true }), pv, next0, build, ""), {
      running: fromRecord("pending-test"),
      trial: true,
      rollbackReason: "",
      record: record("pending-test"),
      rollback: "supported",
      notices: [],
    });
    const valid = { label: "ota_1", state: OtaImageState.valid };
    deepEqual(decideEsp32Boot(record("confirmed"), valid, next0, build, ""), {
      running: fromRecord("confirmed"),
      trial: false,
      rollbackReason: "",
      record: undefined,
      rollback: "unknown",
      notices: [],
    });
    // A confirmed record whose reason or freshness differ is rewritten clean.
    equal(decideEsp32Boot(record("confirmed", { reason: "r" }), valid, next0, build, "")?.record?.reason, "");
    deepEqual(
      decideEsp32Boot(record("confirmed", { fresh: true }), valid, next0, build, "").record,
      record("confirmed"),
    );
    // Our partition but not selected (receiving, rejected, empty): the plain running image.
    for (const state of ["receiving", "empty"] as const) {
      const d = decideEsp32Boot(record(state), valid, next0, build, "");
      deepEqual([d.running, d.record, d.rollbackReason], [plainRunning(1, "confirmed"), undefined, ""]);
    }
  });

  it("stale-record check: our partition needs a selected state and the same app id; only a known app id checks", () => {
    const valid = { label: "ota_1", state: OtaImageState.valid };
    const next0 = { label: "ota_0", state: OtaImageState.valid };
    const app = "c".repeat(64);
    // Selected and matching: kept.
    equal(decideEsp32Boot(record("confirmed", { app }), valid, next0, build, app).record, undefined);
    // Ours, matching app id but not a selected state: reset with the notice naming it.
    const receiving = decideEsp32Boot(record("receiving", { app }), valid, next0, build, app);
    deepEqual(
      [receiving.record, receiving.notices],
      [null, ["image record (receiving 1.1.0 in ota_1) does not describe the running image ota_1: reset"]],
    );
    // The record's `from` is not what counts for our own partition.
    equal(decideEsp32Boot(record("confirmed", { from: app }), valid, next0, build, app).record, null);
    // The other partition's record: its `from` counts, not `app`.
    equal(decideEsp32Boot(record("verified", { app }), OTA0_VALID, OTA1_NONE, build, app).record, null);
    // A fresh reject with a stale record: reset, no rollback reason.
    const stale = decideEsp32Boot(
      record("rejected", { fresh: true, reason: "bad" }),
      OTA0_VALID,
      OTA1_NONE,
      build,
      app,
    );
    deepEqual([stale.record, stale.rollbackReason], [null, ""]);
  });

  it("rollback rows: exact rejected records and plain running image; other partition labels do not count", () => {
    const next = (state: number) => ({ label: "ota_1", state });
    const d = decideEsp32Boot(
      record("verified", { nextWas: OtaImageState.invalid }),
      OTA0_VALID,
      next(OtaImageState.invalid),
      build,
      "",
    );
    deepEqual(d, {
      running: plainRunning(0, "confirmed"),
      trial: false,
      rollbackReason: "activation interrupted or trial not confirmed",
      record: record("rejected", {
        nextWas: OtaImageState.invalid,
        reason: "activation interrupted or trial not confirmed",
      }),
      rollback: "unknown",
      notices: [],
    });
    // A stale state that differs from the one the download began with: the trial's own reason.
    equal(
      decideEsp32Boot(
        record("verified", { nextWas: OtaImageState.aborted }),
        OTA0_VALID,
        next(OtaImageState.invalid),
        build,
        "",
      ).rollbackReason,
      "trial rejected",
    );
    equal(
      decideEsp32Boot(record("pending-test"), OTA0_VALID, next(OtaImageState.invalid), build, "")
        .rollbackReason,
      "trial rejected",
    );
    // pending-test, next VALID: the bootloader ran the old image anyway.
    equal(
      decideEsp32Boot(record("pending-test"), OTA0_VALID, next(OtaImageState.valid), build, "")
        .rollbackReason,
      "trial not confirmed",
    );
    // verified, next VALID (a stale valid state, not selected): nothing happened.
    deepEqual(
      decideEsp32Boot(record("verified"), OTA0_VALID, next(OtaImageState.valid), build, "").record,
      undefined,
    );
    // The rollback rows need the record on the next partition: a record for a third label is left alone.
    const elsewhere = record("pending-test", { label: "ota_2" });
    const d2 = decideEsp32Boot(elsewhere, OTA0_VALID, next(OtaImageState.aborted), build, "");
    deepEqual([d2.rollbackReason, d2.record], ["", undefined]);
    // Receiving and rejected records on the next partition are no rollback either.
    for (const state of ["receiving", "empty", "confirmed"] as const) {
      const d3 = decideEsp32Boot(record(state), OTA0_VALID, next(OtaImageState.aborted), build, "");
      deepEqual([d3.rollbackReason, d3.record], ["", undefined], state);
    }
    // A rolled-back trial under a running trial keeps the running state.
    const onTrial = decideEsp32Boot(
      record("pending-test"),
      { label: "ota_0", state: OtaImageState.pendingVerify },
      next(OtaImageState.aborted),
      build,
      "",
    );
    deepEqual([onTrial.trial, onTrial.running.state, onTrial.rollback], [true, "pending-test", "supported"]);
  });

  it("a fresh reject: reported with its reason and the running trial state; a stale one is silent", () => {
    const pv = { label: "ota_0", state: OtaImageState.pendingVerify };
    deepEqual(decideEsp32Boot(record("rejected", { reason: "bad", fresh: true }), pv, OTA1_NONE, build, ""), {
      running: plainRunning(0, "pending-test"),
      trial: true,
      rollbackReason: "bad",
      record: record("rejected", { reason: "bad", fresh: false }),
      rollback: "supported",
      notices: [],
    });
    const old = decideEsp32Boot(record("rejected", { reason: "bad" }), OTA0_VALID, OTA1_NONE, build, "");
    deepEqual([old.rollbackReason, old.record], ["", undefined]);
    const stale = decideEsp32Boot(
      record("empty", { reason: "bad", fresh: true }),
      OTA0_VALID,
      OTA1_NONE,
      build,
      "",
    );
    deepEqual([stale.rollbackReason, stale.record], ["", undefined]);
  });
});
