// The OTA record store's edges found by mutation testing: what a damaged or partial record, history or delta
// checkpoint reads back as, the exact stored text, and the security counter's floor. Portable (Node and XS).

import { deepEqual, equal } from "../../lib/assert.js";
import { MemoryKeyValueStore } from "../../../hal/sim/memory-kv.js";
import { NO_WINDOW, OtaRecordStore, type OtaRecord } from "../../../src/sota/ota-record.js";
import { newSession } from "../../../src/sota/context.js";
import { resolveConfig } from "../../../src/sota/config.js";

const RECORD: OtaRecord = {
  component: "MCU",
  sourceVersion: "1.0.0",
  targetVersion: "2.0.0",
  stage: "downloading",
  size: 10,
  md5: "m",
  sha256: "s",
  crc: 7,
  pieceStart: 4,
  pieceLength: 6,
  advancing: true,
  securityCounter: 3,
};

describe("src/sota/ota-record edges", () => {
  it("a partial record takes the defaults of each field; a damaged one is absent", () => {
    const kv = new MemoryKeyValueStore();
    kv.set("sota.ota", JSON.stringify({ component: "MCU", targetVersion: "2.0.0", imageSha256: "" }));
    deepEqual(new OtaRecordStore(kv).load(), {
      component: "MCU",
      sourceVersion: "",
      targetVersion: "2.0.0",
      stage: "confirmed",
      size: 0,
      md5: "",
      sha256: "",
      crc: 0,
      ...NO_WINDOW,
      securityCounter: 0,
    });
    kv.set("sota.ota", JSON.stringify({ ...RECORD, advancing: "yes", imageSha256: "ab" }));
    deepEqual(new OtaRecordStore(kv).load(), { ...RECORD, advancing: false, imageSha256: "ab" });
    kv.set("sota.ota", JSON.stringify({ component: "MCU" }));
    equal(new OtaRecordStore(kv).load(), undefined);
    kv.set("sota.ota", JSON.stringify({ targetVersion: "2" }));
    equal(new OtaRecordStore(kv).load(), undefined);
    kv.set("sota.ota", "{");
    equal(new OtaRecordStore(kv).load(), undefined);
  });

  it("save, update and clear: the stored text, the cache, and no update without a record", () => {
    const kv = new MemoryKeyValueStore();
    const store = new OtaRecordStore(kv);
    store.update({ stage: "stalled" });
    equal(kv.get("sota.ota"), undefined);
    store.save(RECORD);
    equal(kv.get("sota.ota"), JSON.stringify(RECORD));
    store.update({ stage: "stalled" });
    deepEqual(JSON.parse(kv.get("sota.ota")!), { ...RECORD, stage: "stalled" });
    kv.set("sota.ota", "{");
    equal(store.load()!.stage, "stalled");
    store.clear();
    equal(kv.get("sota.ota"), undefined);
    equal(store.load(), undefined);
  });

  it("history: fresh for another version, partial fields default, damaged text is none", () => {
    const kv = new MemoryKeyValueStore();
    const store = new OtaRecordStore(kv);
    const fresh = {
      component: "MCU",
      version: "2",
      failures: 0,
      rejectedReason: "",
      lastFailure: "",
      announced: false,
    };
    deepEqual(store.history("MCU", "2"), fresh);
    equal(store.lastHistory(), undefined);
    kv.set("sota.history", JSON.stringify({ component: "MCU", version: "2" }));
    deepEqual(store.history("MCU", "2"), fresh);
    deepEqual(store.lastHistory(), fresh);
    kv.set(
      "sota.history",
      JSON.stringify({
        component: "MCU",
        version: "2",
        failures: 2,
        rejectedReason: "r",
        lastFailure: "l",
        announced: "true",
      }),
    );
    deepEqual(store.history("MCU", "2"), { ...fresh, failures: 2, rejectedReason: "r", lastFailure: "l" });
    deepEqual(store.history("MCU", "3"), { ...fresh, version: "3" });
    deepEqual(store.history("APP", "2"), { ...fresh, component: "APP" });
    store.saveHistory({ ...fresh, announced: true });
    equal(kv.get("sota.history"), JSON.stringify({ ...fresh, announced: true }));
    equal(store.history("MCU", "2").announced, true);
    kv.set("sota.history", "{");
    deepEqual(store.history("MCU", "2"), fresh);
    equal(store.lastHistory(), undefined);
    kv.set("sota.history", JSON.stringify({ component: "MCU", version: 2 }));
    equal(store.lastHistory(), undefined);
    kv.set("sota.history", JSON.stringify({ component: 1, version: "2" }));
    equal(store.lastHistory(), undefined);
  });

  it("security counter: only positive integers count, and it never goes down", () => {
    const kv = new MemoryKeyValueStore();
    const store = new OtaRecordStore(kv);
    equal(store.securityCounter(), 0);
    for (const text of ["-3", "1.5", "x", "0"]) {
      kv.set("sota.seccnt", text);
      equal(store.securityCounter(), 0, text);
    }
    kv.delete("sota.seccnt");
    store.raiseSecurityCounter(0);
    equal(kv.get("sota.seccnt"), undefined);
    store.raiseSecurityCounter(5);
    equal(kv.get("sota.seccnt"), "5");
    store.raiseSecurityCounter(5);
    store.raiseSecurityCounter(4);
    equal(kv.get("sota.seccnt"), "5");
    kv.set("sota.seccnt", "1");
    equal(store.securityCounter(), 1);
  });

  it("delta checkpoint: exact hex, MD5 case, odd or broken text is none, clear only when there", () => {
    const kv = new MemoryKeyValueStore();
    const store = new OtaRecordStore(kv);
    store.saveDeltaCheckpoint("ABCD", new Uint8Array([0, 15, 16, 255]));
    equal(kv.get("sota.delta"), "abcd:000f10ff");
    deepEqual([...store.deltaCheckpoint("abcd")!], [0, 15, 16, 255]);
    deepEqual([...store.deltaCheckpoint("AbCd")!], [0, 15, 16, 255]);
    equal(store.deltaCheckpoint("abce"), undefined);
    equal(store.deltaCheckpoint("abc"), undefined);
    kv.set("sota.delta", "abcd:000");
    equal(store.deltaCheckpoint("abcd"), undefined);
    kv.set("sota.delta", "abcd:00zz");
    equal(store.deltaCheckpoint("abcd"), undefined);
    kv.set("sota.delta", "abcd:");
    deepEqual([...store.deltaCheckpoint("abcd")!], []);
    let deletes = 0;
    const counting = new MemoryKeyValueStore();
    const del = counting.delete.bind(counting);
    counting.delete = (key: string): void => {
      deletes++;
      del(key);
    };
    const other = new OtaRecordStore(counting);
    other.clearDeltaCheckpoint();
    equal(deletes, 0);
    other.saveDeltaCheckpoint("a", new Uint8Array([1]));
    other.clearDeltaCheckpoint();
    equal(deletes, 1);
    equal(counting.get("sota.delta"), undefined);
  });

  it("a new session and the resolved defaults", () => {
    deepEqual(newSession(), {
      receiver: undefined,
      readLength: 0,
      advancedFrom: -1,
      trialTimer: undefined,
      rejection: undefined,
      rollbackReported: false,
      unreported: "",
    });
    deepEqual(resolveConfig({ component: "MCU", slotSize: 4096, maxFailures: undefined, nbIot: true }), {
      component: "MCU",
      slotSize: 4096,
      allowDowngrade: false,
      planIntervalMs: 3_600_000,
      maxReadLength: 1024,
      planWaitMs: 15_000,
      downloadStallMs: 15_000,
      downloadInfoWaitMs: 35_000,
      connectTimeoutMs: 60_000,
      acceptDifferential: false,
      maxFailures: 3,
      trialTimeoutMs: 600_000,
      nbIot: true,
      healthCheckTimeoutMs: 20_000,
      flowControl: false,
    });
  });
});
