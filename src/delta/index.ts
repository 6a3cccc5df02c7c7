// The delta applier's public surface: package header codec, package applier, raw detools sequential applier.
export * from "./types.js";
export * from "./package.js";
export { SEQUENTIAL_HEATSHRINK, SEQUENTIAL_STATE_SIZE, SequentialPatchApplier } from "./sequential.js";
export type { SequentialApplierOptions } from "./sequential.js";
export { HEATSHRINK_HEADER, HeatshrinkDecoder } from "./heatshrink.js";
