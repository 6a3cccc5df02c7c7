// DigestFactory over Moddable `crypt` Digest (C implementations of MD5 and SHA-256; include $(MODULES)/crypt/digest).

import { Digest as CryptDigest } from "crypt";
import type { Digest, DigestAlgorithm, DigestFactory } from "../digest.js";

interface NativeDigest {
  write(chunk: Uint8Array): void;
  close(): ArrayBuffer;
  reset(): void;
}

class ModdableDigest implements Digest {
  readonly #native: NativeDigest;
  constructor(algorithm: DigestAlgorithm) {
    this.#native = new CryptDigest(algorithm) as unknown as NativeDigest;
  }
  write(chunk: Uint8Array): void {
    // The native side reads the view's own window: no copy, no allocation.
    if (chunk.length > 0) this.#native.write(chunk);
  }
  close(): Uint8Array {
    return new Uint8Array(this.#native.close());
  }
  reset(): void {
    this.#native.reset();
  }
}

export class ModdableDigestFactory implements DigestFactory {
  create(algorithm: DigestAlgorithm): Digest {
    return new ModdableDigest(algorithm);
  }
}
