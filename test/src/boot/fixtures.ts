// Shared fixtures for the boot and image suites: geometries, deterministic images and their descriptors (portable).
import { SimNorFlash } from "../../../hal/sim/nor-flash.js";
import { NobleDigestFactory } from "../../../hal/sim/digest.js";
import {
  OneShotDigest,
  toHex,
  type DigestAlgorithm,
  type DigestFactory,
  type OneShotHash,
} from "../../../hal/digest.js";
import { planLayout, type FlashLayout } from "../../../src/flash-format/layout.js";
import type { ImageDescriptor } from "../../../src/image/types.js";

/**
 * node:crypto behind the same Digest port when the engine hands it out without an import (Node >= 20.16), else the
 * pure-JS digests: hashing was most of these suites' time on Node, and the XS lane keeps the pure-JS path (the file
 * imports nothing from Node, so it stays portable).
 */
function fastestDigests(): DigestFactory {
  type NodeCrypto = { createHash(name: string): OneShotHash };
  const host = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const crypto = host?.getBuiltinModule?.("node:crypto") as NodeCrypto | undefined;
  if (!crypto) return new NobleDigestFactory();
  const start = (algorithm: DigestAlgorithm): OneShotHash =>
    crypto.createHash(algorithm === "MD5" ? "md5" : "sha256");
  return { create: (algorithm) => new OneShotDigest(algorithm, start) };
}

export const digests = fastestDigests();

/** True inside the XS lane (no Node `process`): suites run reduced there. */
export const inXS = typeof (globalThis as { process?: unknown }).process === "undefined";

export interface Geometry {
  name: string;
  blockLength: number;
  writeAlign: number;
  /** Blocks in the partition. */
  blocks: number;
}

export const GEOMETRIES: Geometry[] = [
  { name: "4K/1", blockLength: 4096, writeAlign: 1, blocks: 12 },
  { name: "4K/16", blockLength: 4096, writeAlign: 16, blocks: 12 },
  { name: "64K/4", blockLength: 65536, writeAlign: 4, blocks: 9 },
];

export function makeFlash(g: Geometry, eraseValue = 0xff): { flash: SimNorFlash; layout: FlashLayout } {
  const flash = new SimNorFlash({
    size: g.blocks * g.blockLength,
    blockLength: g.blockLength,
    writeAlign: g.writeAlign,
    eraseValue,
  });
  return { flash, layout: planLayout(flash.status()) };
}

/** Deterministic pseudo-random image bytes (xorshift), different per seed. */
export function makeImage(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

export function md5Hex(bytes: Uint8Array): string {
  const d = digests.create("MD5");
  d.write(bytes);
  return toHex(d.close());
}

export function sha256Hex(bytes: Uint8Array): string {
  const d = digests.create("SHA256");
  d.write(bytes);
  return toHex(d.close());
}

export function describeImage(
  bytes: Uint8Array,
  version: string,
  component = "app",
  withSha = true,
): ImageDescriptor {
  return {
    component,
    version,
    size: bytes.length,
    md5: md5Hex(bytes),
    sha256: withSha ? sha256Hex(bytes) : "",
    crc: 1234,
  };
}

/** Feeds `image` from `receiver.received` on, `chunk` bytes at a time, erasing only when asked (like the engine). */
export function download(
  receiver: import("../../../src/image/types.js").ImageReceiver,
  image: Uint8Array,
  chunk: number,
  stopAt = image.length,
): void {
  const buffer = new Uint8Array(chunk);
  while (receiver.received < stopAt) {
    const start = receiver.received;
    const n = Math.min(chunk, stopAt - start);
    while (receiver.needsErase(start + n)) receiver.eraseStep(start + n);
    buffer.set(image.subarray(start, start + n));
    receiver.write(buffer, n);
  }
}
