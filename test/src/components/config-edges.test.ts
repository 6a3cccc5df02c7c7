// Component configuration at its edges: each check's exact message and the bounds where it just holds, the
// `id=kind:key=value` form's odd inputs, and the ComponentStore's record (portable).
import { deepEqual, equal, ok } from "../../lib/assert.js";
import { SimNorFlash } from "../../../hal/sim/nor-flash.js";
import { MemoryKeyValueStore } from "../../../hal/sim/memory-kv.js";
import { FlashWindow } from "../../../src/components/area.js";
import {
  COMPONENT_KINDS,
  ComponentConfigError,
  checkComponents,
  parseComponentSpec,
  type ComponentConfig,
} from "../../../src/components/config.js";
import { ComponentStore, type SetRecord } from "../../../src/components/set-store.js";

const flash = new SimNorFlash({ size: 8 * 4096, blockLength: 4096, writeAlign: 4 });
const AREAS = {
  a: new FlashWindow(flash, 0, 2),
  "a.bak": new FlashWindow(flash, 2, 2),
  b: new FlashWindow(flash, 4, 1),
  "b.bak": new FlashWindow(flash, 5, 1),
  c: new FlashWindow(flash, 6, 2),
};

/** The message of the ComponentConfigError `run` throws. */
function message(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    ok(error instanceof ComponentConfigError, `a ComponentConfigError, not ${String(error)}`);
    return error.message;
  }
  throw new Error("no error");
}

const check = (list: ComponentConfig[]) => message(() => checkComponents(list, "app", AREAS));
const data = (extra: Partial<ComponentConfig> = {}): ComponentConfig => ({
  id: "cfg",
  kind: "data",
  area: "a",
  backup: "a.bak",
  ...extra,
});

describe("components: configuration checks, exactly", () => {
  it("names each problem with the entry's index", () => {
    equal(COMPONENT_KINDS.join(","), "image,data,mod");
    equal(check([data({ id: "" })]), 'components[0].id "": 1-32 of A-Z a-z 0-9 . _ -');
    equal(
      check([data({ id: "x".repeat(33) })]),
      `components[0].id "${"x".repeat(33)}": 1-32 of A-Z a-z 0-9 . _ -`,
    );
    equal(check([data({ id: "a b" })]), 'components[0].id "a b": 1-32 of A-Z a-z 0-9 . _ -');
    equal(check([data(), data()]), 'components[1].id "cfg" appears twice');
    equal(
      check([data({ kind: "firmware" as ComponentConfig["kind"] })]),
      'components[0].kind "firmware": one of image, data, mod',
    );
    equal(
      check([{ id: "gnss", kind: "image" }]),
      'components[0]: the image component is the engine\'s own ("app")',
    );
    equal(check([data({ area: undefined })]), 'components[0].area "" is not a flash area of this device');
    equal(check([data({ area: "zz" })]), 'components[0].area "zz" is not a flash area of this device');
    equal(check([data({ backup: undefined })]), 'components[0].backup "" is not a flash area of this device');
    equal(check([data({ backup: "zz" })]), 'components[0].backup "zz" is not a flash area of this device');
    equal(check([data({ backup: "a" })]), "components[0]: the backup must be another area");
    equal(check([data({ backup: "b" })]), 'components[0]: backup "b" is smaller than area "a"');
    equal(check([data({ version: "" })]), 'components[0].version "": 1-64 of A-Z a-z 0-9 . _ -');
    equal(
      check([data({ version: "v".repeat(65) })]),
      `components[0].version "${"v".repeat(65)}": 1-64 of A-Z a-z 0-9 . _ -`,
    );
    equal(check([data({ version: "1 0" })]), 'components[0].version "1 0": 1-64 of A-Z a-z 0-9 . _ -');
    equal(
      check([data(), data({ id: "x", area: "c", backup: "a" })]),
      'component cfg: area "a" is used twice',
    );
    equal(
      check([data({ area: "b", backup: "b.bak" }), data({ id: "x", area: "b", backup: "c" })]),
      'component cfg: area "b" is used twice',
    );
  });

  it("takes every bound that just holds and fills in the defaults", () => {
    const id = "A-z.0_9" + "x".repeat(25);
    deepEqual(
      checkComponents(
        [
          data({ id, version: "V".repeat(64) }),
          { id: "app", kind: "image", area: "ignored" },
          { id: "m", kind: "mod", area: "b", backup: "c" },
        ],
        "app",
        AREAS,
      ),
      [
        { id, kind: "data", area: "a", backup: "a.bak", version: "V".repeat(64) },
        { id: "app", kind: "image" },
        { id: "m", kind: "mod", area: "b", backup: "c", version: "" },
      ],
    );
    // A backup exactly as long as its area.
    deepEqual(checkComponents([data({ area: "b", backup: "b.bak" })], "app", AREAS).length, 2);
    deepEqual(checkComponents([], "app", AREAS), [{ id: "app", kind: "image" }]);
  });

  it("reads the id=kind form's odd inputs", () => {
    equal(
      message(() => parseComponentSpec("=data")),
      'component "=data": expected id=kind[:key=value,...]',
    );
    equal(
      message(() => parseComponentSpec("cfg")),
      'component "cfg": expected id=kind[:key=value,...]',
    );
    deepEqual(parseComponentSpec("c=data:version=1=2"), { id: "c", kind: "data", version: "1" });
    equal(
      message(() => parseComponentSpec("c=data:")),
      'component "c=data:": "" is not area=, backup= or version=',
    );
    equal(
      message(() => parseComponentSpec("c=data:area=x,size=3")),
      'component "c=data:area=x,size=3": "size=3" is not area=, backup= or version=',
    );
    equal(
      message(() => parseComponentSpec("c=")),
      'component "c=": kind "" is not one of image, data, mod',
    );
    equal(
      message(() => parseComponentSpec("c=blob:area=x")),
      'component "c=blob:area=x": kind "blob" is not one of image, data, mod',
    );
    deepEqual(parseComponentSpec("c=mod:backup=y,area=x"), { id: "c", kind: "mod", backup: "y", area: "x" });
    equal(
      message(() => parseComponentSpec("a=b=image")),
      'component "a=b=image": kind "b=image" is not one of image, data, mod',
    );
  });
});

describe("components: configuration checks, anchored", () => {
  it("refuses a version with a bad character at either end, and a key without its value", () => {
    equal(check([data({ version: "!1.0" })]), 'components[0].version "!1.0": 1-64 of A-Z a-z 0-9 . _ -');
    equal(check([data({ version: "1.0!" })]), 'components[0].version "1.0!": 1-64 of A-Z a-z 0-9 . _ -');
    equal(
      message(() => parseComponentSpec("c=data:area")),
      'component "c=data:area": "area" is not area=, backup= or version=',
    );
    // The pairs are read before the kind, even when the kind is empty.
    equal(
      message(() => parseComponentSpec("c=:size=3")),
      'component "c=:size=3": "size=3" is not area=, backup= or version=',
    );
  });
});

describe("components: the component store's record", () => {
  const SET: SetRecord = {
    phase: "staging",
    members: [{ id: "cfg", kind: "data", target: "2", from: "1", status: "backed-up" }],
    task: ["cfg"],
  };

  it("reads a missing, unreadable or odd record as the factory state, and numbers as strings", () => {
    const kv = new MemoryKeyValueStore();
    deepEqual(new ComponentStore(kv).load(), { versions: {}, set: undefined });
    kv.set("sota.comp", "{");
    deepEqual(new ComponentStore(kv).load(), { versions: {}, set: undefined });
    kv.set("sota.comp", JSON.stringify({ versions: { cfg: 3 } }));
    deepEqual(new ComponentStore(kv).load(), { versions: { cfg: "3" }, set: undefined });
    for (const set of [
      null,
      { ...SET, phase: "done" },
      { ...SET, members: {} },
      { ...SET, task: "cfg" },
      { phase: "activating", members: [] },
    ]) {
      kv.set("sota.comp", JSON.stringify({ versions: {}, set }));
      equal(new ComponentStore(kv).load().set, undefined, JSON.stringify(set));
    }
    kv.set("sota.comp", JSON.stringify({ versions: { cfg: "4" }, set: null }));
    deepEqual(
      new ComponentStore(kv).load(),
      { versions: { cfg: "4" }, set: undefined },
      "a null set keeps the versions",
    );
    for (const phase of ["staging", "activating"] as const) {
      kv.set("sota.comp", JSON.stringify({ set: { ...SET, phase } }));
      deepEqual(new ComponentStore(kv).load(), { versions: {}, set: { ...SET, phase } });
    }
  });

  it("writes one record, keeps a copy of it and says which areas a staging set wrote", () => {
    const kv = new MemoryKeyValueStore();
    const store = new ComponentStore(kv);
    const state = { versions: { cfg: "1" }, set: SET };
    store.save(state);
    equal(kv.get("sota.comp"), JSON.stringify(state));
    state.versions.cfg = "changed";
    equal(store.load().versions.cfg, "1", "a copy");
    ok(store.written("cfg"), "backed up: written");
    ok(!store.written("other"), "not a member");
    store.saveSet({ ...SET, members: [{ ...SET.members[0]!, status: "pending" }] });
    ok(!store.written("cfg"), "pending: not written");
    equal(store.load().versions.cfg, "1", "versions kept");
    store.saveSet({ ...SET, phase: "activating" });
    ok(!store.written("cfg"), "activating: the area is the new set's");
    store.saveSet({ ...SET, members: [{ ...SET.members[0]!, status: "staged" }] });
    ok(store.written("cfg"), "staged: written");
    store.saveSet({
      ...SET,
      members: [SET.members[0]!, { id: "logic", kind: "mod", target: "2", from: "1", status: "pending" }],
    });
    ok(store.written("cfg"), "written while another member is pending");
    store.saveSet(undefined);
    equal(store.set, undefined);
    ok(!store.written("cfg"), "no set");
    equal(new ComponentStore(kv).load().versions.cfg, "1", "read back");
  });
});
