// Pure-JS MD5 and SHA-256 (@noble/hashes) behind the Digest port, for tests, the demo and the XS lane.
import { md5 } from "@noble/hashes/legacy.js";
import { sha256 } from "@noble/hashes/sha2.js";
import type { Digest, DigestAlgorithm, DigestFactory } from "../digest.js";

type NobleHash = { update(data: Uint8Array): unknown; digest(): Uint8Array };

class NobleDigest implements Digest {
  #hash: NobleHash;
  #closed = false;

  constructor(readonly algorithm: DigestAlgorithm) {
    this.#hash = NobleDigest.#start(algorithm);
  }

  // A noble hash cannot be reused after digest(), so reset re-creates it (once per image, not per block).
  static #start(algorithm: DigestAlgorithm): NobleHash {
    if (algorithm === "MD5") return md5.create();
    if (algorithm === "SHA256") return sha256.create();
    throw new Error(`unsupported digest algorithm ${String(algorithm)}`);
  }

  write(chunk: Uint8Array): void {
    if (this.#closed) throw new Error(`${this.algorithm} digest written after close(); call reset() first`);
    this.#hash.update(chunk);
  }

  close(): Uint8Array {
    if (this.#closed) throw new Error(`${this.algorithm} digest closed twice; call reset() first`);
    this.#closed = true;
    return this.#hash.digest();
  }

  reset(): void {
    this.#hash = NobleDigest.#start(this.algorithm);
    this.#closed = false;
  }
}

export class NobleDigestFactory implements DigestFactory {
  create(algorithm: DigestAlgorithm): Digest {
    return new NobleDigest(algorithm);
  }
}
