// Preloaded into StrykerJS (main process, test runners, checker): the mocha runner 9.x requires mocha's CLI helpers
// without an extension, and mocha 12 ships them as `.cjs`; this lets `require` try `.cjs` too.
import Module from "node:module";

const extensions = /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (Module)._extensions);
extensions[".cjs"] ??= extensions[".js"];
