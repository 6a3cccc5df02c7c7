// The app's own logic: taken from the mod `logic` when one is installed (Moddable's Modules), else the built-in one.

import Modules from "modules";

/** What the app runs; a mod exports the same shape as its default export. */
export interface AppLogic {
  /** Which logic runs ("built-in" or the mod's version). */
  version: string;
  /** One line the app traces at start, so a run shows which logic it has. */
  hello(): string;
}

const BUILT_IN: AppLogic = {
  version: "built-in",
  hello: () => "built-in logic of the firmware image",
};

/**
 * The mod's logic when `name` is installed and loads, else the built-in logic (with why in `note`). `held`: why the
 * mod must not run now (its area holds a download not activated yet), or "".
 */
export function loadLogic(name = "logic", held = ""): { logic: AppLogic; note: string } {
  if (held) return { logic: BUILT_IN, note: `mod "${name}" held back: ${held}` };
  try {
    if (!Modules.has(name)) return { logic: BUILT_IN, note: `no mod "${name}" installed` };
    const loaded = Modules.importNow(name) as { default?: AppLogic } | AppLogic;
    const logic = "default" in loaded && loaded.default ? loaded.default : (loaded as AppLogic);
    if (typeof logic.hello !== "function" || typeof logic.version !== "string")
      return { logic: BUILT_IN, note: `mod "${name}" does not export { version, hello }` };
    return { logic, note: `mod "${name}" ${logic.version}` };
  } catch (error) {
    // A mod that throws while loading must not take the updater down with it: the built-in logic runs.
    return { logic: BUILT_IN, note: `mod "${name}" failed to load: ${String(error)}` };
  }
}
