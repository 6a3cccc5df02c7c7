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
