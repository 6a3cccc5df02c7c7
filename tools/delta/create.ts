// Patch and delta package creator: detools-compatible sequential patches (bsdiff blocks, heatshrink 2^8/2^7) and our
// delta package (header + patch). Pure TypeScript (no Node modules), so tests can use it in either lane.
import { sha256 } from "@noble/hashes/sha2.js";
import { DELTA_FORMAT_SEQUENTIAL_HEATSHRINK, encodeDeltaHeader } from "../../src/delta/package.js";
import { HEATSHRINK_HEADER } from "../../src/delta/heatshrink.js";
import { SEQUENTIAL_HEATSHRINK } from "../../src/delta/sequential.js";
import { ByteSink, bsdiffBlocks, suffixArray } from "./bsdiff.js";
import { heatshrinkEncode } from "./heatshrink-encoder.js";

/** The uncompressed body of a sequential patch: data-format size 0, then the bsdiff blocks. */
export function sequentialBody(source: Uint8Array, target: Uint8Array): Uint8Array {
  const body = new ByteSink();
  body.size(0);
  bsdiffBlocks(source, target, suffixArray(source), body);
  return body.result();
}

/** A detools "sequential" patch with heatshrink compression (window 2^8, lookahead 2^7) from source to target. */
export function makeSequentialPatch(source: Uint8Array, target: Uint8Array): Uint8Array {
  const patch = new ByteSink();
  patch.byte(SEQUENTIAL_HEATSHRINK);
  patch.size(target.length);
  if (target.length > 0) {
    patch.byte(HEATSHRINK_HEADER);
    patch.append(heatshrinkEncode(sequentialBody(source, target)));
  }
  return patch.result();
}

/** A delta package: our header (sizes and SHA-256 of both images) followed by `patch` (made here if not given). */
export function makeDeltaPackage(source: Uint8Array, target: Uint8Array, patch?: Uint8Array): Uint8Array {
  const body = patch ?? makeSequentialPatch(source, target);
  const header = encodeDeltaHeader({
    format: DELTA_FORMAT_SEQUENTIAL_HEATSHRINK,
    sourceSize: source.length,
    targetSize: target.length,
    patchSize: body.length,
    sourceSha256: sha256(source),
    targetSha256: sha256(target),
  });
  const pkg = new Uint8Array(header.length + body.length);
  pkg.set(header);
  pkg.set(body, header.length);
  return pkg;
}
