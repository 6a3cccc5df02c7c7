// In-memory helpers over the streaming appliers (for the CLI, tests and benchmarks): apply a raw detools
// sequential patch or a whole delta package to a source held in memory, in chunks of a chosen size.
import { sha256 } from "@noble/hashes/sha2.js";
import { DeltaPackageApplier, type DeltaPackageOptions } from "../../src/delta/package.js";
import { SequentialPatchApplier } from "../../src/delta/sequential.js";
import {
  DELTA_BOUNDARY,
  DELTA_DONE,
  DELTA_FAILED,
  DELTA_NEED_MORE,
  type DeltaFailure,
} from "../../src/delta/types.js";
import { OneShotDigest } from "../../hal/digest.js";

export type ApplyResult =
  { ok: true; output: Uint8Array } | { ok: false; failure: DeltaFailure; output: Uint8Array };

/** Collects sink writes; reading from it serves the restore of a checkpoint. */
export class MemorySink {
  bytes = new Uint8Array(1024);
  length = 0;
  readonly write = (chunk: Uint8Array, length: number): boolean => {
    if (this.length + length > this.bytes.length) {
      const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.length + length));
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
    }
    this.bytes.set(chunk.subarray(0, length), this.length);
    this.length += length;
    return true;
  };
  readonly read = (offset: number, length: number, into: Uint8Array): boolean => {
    if (offset < 0 || offset + length > this.length) return false;
    into.set(this.bytes.subarray(offset, offset + length));
    return true;
  };
  result(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }
}

/** A readSource over bytes in memory that refuses (and counts) reads outside them. */
export function memorySource(source: Uint8Array): {
  read: (offset: number, length: number, into: Uint8Array) => boolean;
  outside: number;
} {
  const reader = {
    outside: 0,
    read: (offset: number, length: number, into: Uint8Array): boolean => {
      if (!(offset >= 0 && length >= 0 && offset + length <= source.length && length <= into.length)) {
        reader.outside++;
        return false;
      }
      into.set(source.subarray(offset, offset + length));
      return true;
    },
  };
  return reader;
}

export function sha256Digest(): OneShotDigest {
  return new OneShotDigest("SHA256", () => sha256.create());
}

/** Applies a raw detools sequential patch, pushing `chunkSize` bytes at a time. */
export function applySequentialPatch(source: Uint8Array, patch: Uint8Array, chunkSize = 1024): ApplyResult {
  const sink = new MemorySink();
  const applier = new SequentialPatchApplier({
    sourceSize: source.length,
    readSource: memorySource(source).read,
    write: sink.write,
  });
  let status: number = DELTA_NEED_MORE;
  for (let at = 0; at < patch.length; at += chunkSize) {
    status = applier.push(patch, at, Math.min(patch.length, at + chunkSize));
    if (status === DELTA_FAILED) break;
  }
  if (status !== DELTA_FAILED) status = applier.finish();
  if (status === DELTA_DONE) return { ok: true, output: sink.result() };
  return { ok: false, failure: applier.failure!, output: sink.result() };
}

/** Applies a delta package, pushing `chunkSize` bytes at a time (boundary stops are resumed at once). */
export function applyDeltaPackage(
  source: Uint8Array,
  pkg: Uint8Array,
  chunkSize = 1024,
  options: Partial<DeltaPackageOptions> = {},
): ApplyResult {
  const sink = new MemorySink();
  const applier = new DeltaPackageApplier({
    readSource: memorySource(source).read,
    write: sink.write,
    sha256: sha256Digest(),
    sourceSize: source.length,
    ...options,
  });
  let status: number = DELTA_NEED_MORE;
  for (let at = 0; at < pkg.length; at += chunkSize) {
    const end = Math.min(pkg.length, at + chunkSize);
    let from = at;
    do {
      status = applier.push(pkg, from, end);
      from += applier.consumed;
    } while (status === DELTA_BOUNDARY);
    if (status === DELTA_FAILED) break;
  }
  if (status !== DELTA_FAILED) status = applier.finish();
  if (status === DELTA_DONE) return { ok: true, output: sink.result() };
  return { ok: false, failure: applier.failure!, output: sink.result() };
}
