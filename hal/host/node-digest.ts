// Digest port over node:crypto (MD5, SHA-256) for the host-mode device and desktop tools.
import { createHash, type Hash } from "node:crypto";
import type { Digest, DigestAlgorithm, DigestFactory } from "../digest.js";

const nodeNames: Record<DigestAlgorithm, string> = { MD5: "md5", SHA256: "sha256" };

class NodeDigest implements Digest {
  #hash: Hash;
  #closed = false;

  constructor(readonly algorithm: DigestAlgorithm) {
    this.#hash = NodeDigest.#start(algorithm);
  }

  static #start(algorithm: DigestAlgorithm): Hash {
    const name = nodeNames[algorithm];
    if (!name) throw new Error(`unsupported digest algorithm ${String(algorithm)}`);
    return createHash(name);
  }

  write(chunk: Uint8Array): void {
    if (this.#closed) throw new Error(`${this.algorithm} digest written after close(); call reset() first`);
    this.#hash.update(chunk);
  }

  close(): Uint8Array {
    if (this.#closed) throw new Error(`${this.algorithm} digest closed twice; call reset() first`);
    this.#closed = true;
    // A plain Uint8Array (not a pooled Buffer view), like the device's digest.
    return new Uint8Array(this.#hash.digest());
  }

  // A node:crypto Hash cannot be reused after digest(), so reset makes a new one (once per image).
  reset(): void {
    this.#hash = NodeDigest.#start(this.algorithm);
    this.#closed = false;
  }
}

export class NodeDigestFactory implements DigestFactory {
  create(algorithm: DigestAlgorithm): Digest {
    return new NodeDigest(algorithm);
  }
}
