// Digest port: streaming MD5 and SHA-256 (Moddable `crypt` Digest, node:crypto, or pure JS in tests).

export type DigestAlgorithm = "MD5" | "SHA256";

export interface Digest {
  write(chunk: Uint8Array): void;
  /** Returns the digest (16 or 32 bytes); the object may then only be `reset()`. */
  close(): Uint8Array;
  /** Starts a new digest with the same algorithm, so one object serves a whole update. */
  reset(): void;
}

export interface DigestFactory {
  create(algorithm: DigestAlgorithm): Digest;
}

/** Lower-case hex of a digest, for comparison with the module's text fields. */
export function toHex(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i++) text += (bytes[i]! < 16 ? "0" : "") + bytes[i]!.toString(16);
  return text;
}

/** A one-shot hash (update..., digest once), as node:crypto and @noble/hashes make them. */
export interface OneShotHash {
  update(data: Uint8Array): unknown;
  digest(): Uint8Array;
}

/**
 * A Digest over one-shot hashes: reset() starts a new hash (once per image, not per block), and a write or
 * close after close() is refused, as the Moddable digest would misbehave there.
 */
export class OneShotDigest implements Digest {
  #hash: OneShotHash;
  #closed = false;

  constructor(
    readonly algorithm: DigestAlgorithm,
    private readonly start: (algorithm: DigestAlgorithm) => OneShotHash,
  ) {
    this.#hash = start(algorithm);
  }

  write(chunk: Uint8Array): void {
    if (this.#closed) throw new Error(`${this.algorithm} digest written after close(); call reset() first`);
    this.#hash.update(chunk);
  }

  close(): Uint8Array {
    if (this.#closed) throw new Error(`${this.algorithm} digest closed twice; call reset() first`);
    this.#closed = true;
    // A plain Uint8Array (never a pooled Buffer view), like the device's digest.
    const digest = this.#hash.digest();
    return digest.constructor === Uint8Array ? digest : new Uint8Array(digest);
  }

  reset(): void {
    this.#hash = this.start(this.algorithm);
    this.#closed = false;
  }
}
