// Component configuration: the checks of the engine's list, the `id=kind:...` form, the app's sotaComponents.

import { deepEqual, equal, ok } from "../../lib/assert.js";
import { SimNorFlash } from "../../../hal/sim/nor-flash.js";
import { FlashWindow } from "../../../src/components/area.js";
import { ComponentConfigError, checkComponents, parseComponentSpec } from "../../../src/components/config.js";
import { engineComponents, parseComponentsConfig } from "../../../src/app/components-config.js";

function throwsWith(run: () => unknown, text: string): void {
  try {
    run();
  } catch (error) {
    ok(error instanceof Error && error.message.includes(text), `"${String(error)}" names "${text}"`);
    return;
  }
  throw new Error(`no error; expected one naming "${text}"`);
}

const flash = new SimNorFlash({ size: 8 * 4096, blockLength: 4096, writeAlign: 4 });
const AREAS = {
  cfg: new FlashWindow(flash, 0, 2),
  "cfg.bak": new FlashWindow(flash, 2, 2),
  small: new FlashWindow(flash, 4, 1),
  logic: new FlashWindow(flash, 5, 1),
  "logic.bak": new FlashWindow(flash, 6, 2),
};

describe("components: configuration", () => {
  it("adds the image (the engine's component) and keeps the order given", () => {
    deepEqual(
      checkComponents(
        [{ id: "cfg", kind: "data", area: "cfg", backup: "cfg.bak", version: "1.0" }],
        "app",
        AREAS,
      ),
      [
        { id: "app", kind: "image" },
        { id: "cfg", kind: "data", area: "cfg", backup: "cfg.bak", version: "1.0" },
      ],
    );
  });

  it("refuses what cannot work, naming the entry", () => {
    throwsWith(() => checkComponents([{ id: "gnss", kind: "image" }], "app", AREAS), "engine's own");
    throwsWith(() => checkComponents([{ id: "a:b", kind: "data" }], "app", AREAS), 'components[0].id "a:b"');
    throwsWith(
      () => checkComponents([{ id: "cfg", kind: "data", area: "nope", backup: "cfg.bak" }], "app", AREAS),
      'area "nope"',
    );
    throwsWith(
      () => checkComponents([{ id: "cfg", kind: "data", area: "cfg", backup: "small" }], "app", AREAS),
      "smaller than area",
    );
    throwsWith(
      () =>
        checkComponents(
          [
            { id: "cfg", kind: "data", area: "cfg", backup: "cfg.bak" },
            { id: "cfg", kind: "mod", area: "logic", backup: "logic.bak" },
          ],
          "app",
          AREAS,
        ),
      "appears twice",
    );
    throwsWith(
      () =>
        checkComponents(
          [
            { id: "cfg", kind: "data", area: "cfg", backup: "cfg.bak" },
            { id: "x", kind: "mod", area: "cfg", backup: "logic.bak" },
          ],
          "app",
          AREAS,
        ),
      "used twice",
    );
    ok(new ComponentConfigError("x") instanceof Error);
  });

  it("reads the id=kind:key=value form", () => {
    deepEqual(parseComponentSpec("cfg=data:area=cfg,backup=cfg.bak,version=1.0"), {
      id: "cfg",
      kind: "data",
      area: "cfg",
      backup: "cfg.bak",
      version: "1.0",
    });
    deepEqual(parseComponentSpec("logic=mod"), { id: "logic", kind: "mod" });
    throwsWith(() => parseComponentSpec("logic=firmware"), 'kind "firmware"');
    throwsWith(() => parseComponentSpec("logic=mod:size"), '"size" is not');
  });

  it("reads the app's sotaComponents, as an array or as the JSON string mcconfig passes", () => {
    const list = [{ id: "logic", kind: "mod", version: "1", size: 8192 }];
    deepEqual(parseComponentsConfig(list), list);
    deepEqual(parseComponentsConfig(JSON.stringify(list)), list);
    deepEqual(parseComponentsConfig(undefined), []);
    deepEqual(parseComponentsConfig(""), []);
    deepEqual(engineComponents(parseComponentsConfig(list)), [
      { id: "logic", kind: "mod", area: "logic", backup: "logic.bak", version: "1" },
    ]);
    throwsWith(() => parseComponentsConfig("[{"), "not JSON");
    throwsWith(() => parseComponentsConfig([{ id: "x", kind: "mod", version: "1", size: 100 }]), "[0].size");
    throwsWith(
      () => parseComponentsConfig([{ id: "x", kind: "image", version: "1", size: 4096 }]),
      "[0].kind",
    );
    equal(parseComponentsConfig([]).length, 0);
  });
});
