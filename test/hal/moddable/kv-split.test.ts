// The split preference store against a fake of Moddable's ESP32 `preference` (erase, then write): any power cut reads old or new.

import fc from "fast-check";
import { deepEqual, equal, ok, throws } from "../../lib/assert.js";
import type { PreferenceBackend } from "../../../hal/moddable/kv-split.js";
import { MAX_PARTS, SplitPreferenceStore, splitUtf8 } from "../../../hal/moddable/kv-split.js";
import { assertProperty } from "../../lib/property.js";

class PowerCut extends Error {}

function utf8Length(text: string): number {
  let bytes = 0;
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    bytes += code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
  }
  return bytes;
}

/** Moddable's esp32 modPreference.c: set = nvs_erase_key then nvs_set_str (two flash operations); delete = one. */
class FakeNvs implements PreferenceBackend {
  readonly keys = new Map<string, string>();
  /** Flash operations allowed before the power fails (Infinity: never). */
  budget = Infinity;
  operations = 0;
  constructor(
    readonly maxValueBytes: number,
    readonly maxKeyLength: number,
  ) {}
  #operation(): void {
    if (this.budget <= 0) throw new PowerCut("power cut");
    this.budget--;
    this.operations++;
  }
  get(domain: string, key: string): unknown {
    return this.keys.get(domain + "/" + key);
  }
  set(domain: string, key: string, value: string): void {
    if (key.length > this.maxKeyLength) throw new Error(`key "${key}" too long`);
    if (utf8Length(value) > this.maxValueBytes) throw new Error(`value of ${key} too long`);
    this.#operation();
    this.keys.delete(domain + "/" + key);
    this.#operation();
    this.keys.set(domain + "/" + key, value);
  }
  delete(domain: string, key: string): void {
    if (!this.keys.has(domain + "/" + key)) return;
    this.#operation();
    this.keys.delete(domain + "/" + key);
  }
}

const options = { domain: "sota", maxValueBytes: 63, maxKeyLength: 15 };
const record = JSON.stringify({
  v: 1,
  component: "mcu",
  from: "1.0.0",
  to: "1.1.0-é-✓-😀",
  md5: "a".repeat(32),
  sha256: "b".repeat(64),
  state: "downloading",
  bytes: 123456,
});

describe("hal/moddable kv-split", () => {
  it("splits at code points within the byte limits", () => {
    deepEqual(splitUtf8("abcdef", 2, 3), ["ab", "cde", "f"]);
    deepEqual(splitUtf8("aé😀b", 3, 4), ["aé", "😀", "b"]);
    deepEqual(splitUtf8("", 4, 4), [""]);
  });

  it("a ~300-byte record over 63-byte values: exact keys, round trip, overwrite, delete leaves nothing", () => {
    const nvs = new FakeNvs(63, 15);
    const store = new SplitPreferenceStore(nvs, options);
    equal(store.get("sota.history"), undefined);
    store.set("sota.history", record);
    equal(store.get("sota.history"), record);
    const names = [...nvs.keys.keys()].sort();
    equal(names[0], "sota/sota.history.a");
    ok(
      names.every((n) => n.startsWith("sota/sota.history.a") && n.length - 5 <= 15),
      names.join(),
    );
    equal(names.length, splitUtf8(record, 63 - 24, 63).length);
    // The second write goes to bank b; the first bank stays as the fallback.
    store.set("sota.history", "short");
    equal(store.get("sota.history"), "short");
    ok(nvs.get("sota", "sota.history.b")!.toString().endsWith("/short"));
    store.set("sota.history", record);
    equal(new SplitPreferenceStore(nvs, options).get("sota.history"), record);
    store.delete("sota.history");
    equal(store.get("sota.history"), undefined);
    equal(nvs.keys.size, 0);
  });

  it("keys longer than the NVS limit are shortened, and do not collide", () => {
    const nvs = new FakeNvs(1024, 15);
    const store = new SplitPreferenceStore(nvs, { ...options, maxValueBytes: 1024 });
    store.set("sota.image.record.long", "x");
    store.set("sota.image.record.lonG", "y");
    equal(store.get("sota.image.record.long"), "x");
    equal(store.get("sota.image.record.lonG"), "y");
  });

  it("refuses a value needing more parts than key names allow", () => {
    const store = new SplitPreferenceStore(new FakeNvs(63, 15), options);
    throws(() => store.set("k", "x".repeat(63 * MAX_PARTS)), RangeError);
  });

  it("a torn part or a part of another generation reads as absent, never as a wrong value", () => {
    const nvs = new FakeNvs(63, 15);
    const store = new SplitPreferenceStore(nvs, options);
    store.set("sota.ota", record);
    nvs.keys.set("sota/sota.ota.a2", "garbage");
    equal(store.get("sota.ota"), undefined);
  });

  it("a power cut at any flash operation of set/delete leaves the old or the new value (property)", () => {
    const value = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.string({ unit: "binary", maxLength: 300 }),
      fc.constant(record),
    );
    const op = fc.oneof(
      value.map((v) => ({ set: v })),
      fc.constant({ set: undefined as string | undefined }),
    );
    assertProperty(
      fc.property(fc.array(op, { minLength: 1, maxLength: 4 }), op, fc.nat(40), (before, last, cutAfter) => {
        const nvs = new FakeNvs(63, 15);
        const store = new SplitPreferenceStore(nvs, options);
        let expected: string | undefined;
        for (const o of before) {
          if (o.set === undefined) store.delete("sota.ota");
          else store.set("sota.ota", o.set);
          expected = o.set;
        }
        nvs.budget = cutAfter;
        let completed = true;
        try {
          if (last.set === undefined) store.delete("sota.ota");
          else store.set("sota.ota", last.set);
        } catch (error) {
          if (!(error instanceof PowerCut)) throw error;
          completed = false;
        }
        nvs.budget = Infinity;
        const after = new SplitPreferenceStore(nvs, options).get("sota.ota");
        if (completed) equal(after, last.set);
        else
          ok(
            after === expected || after === last.set,
            `after a cut: ${String(after)} is neither old ${String(expected)} nor new ${String(last.set)}`,
          );
      }),
      { numRuns: 150 },
    );
  });
});
