// Package digests the platform sends in 10701: MD5 and SHA-256 through the Digest port, CRC-32 (IEEE 802.3) as the image layer computes it.

import { toHex, type DigestFactory } from "../../hal/digest.js";
import { crc32 } from "../../src/flash-format/crc32.js";

export { crc32 };

export interface PackageDigests {
  size: number;
  md5: string;
  sha256: string;
  crc32: number;
}

/** Digests per package buffer: a package is hashed once even when many module instances (tests) serve it. */
const cache = new WeakMap<Uint8Array, PackageDigests>();

export function packageDigests(data: Uint8Array, digests: DigestFactory): PackageDigests {
  const known = cache.get(data);
  if (known && known.size === data.length) return known;
  const md5 = digests.create("MD5");
  const sha = digests.create("SHA256");
  // Stream in blocks like the device does, so a digest port with small internal buffers works too.
  for (let offset = 0; offset < data.length; offset += 4096) {
    const chunk = data.subarray(offset, Math.min(data.length, offset + 4096));
    md5.write(chunk);
    sha.write(chunk);
  }
  const result = {
    size: data.length,
    md5: toHex(md5.close()),
    sha256: toHex(sha.close()),
    crc32: crc32(data),
  };
  cache.set(data, result);
  return result;
}
