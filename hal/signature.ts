// Signature port: verifies one ECDSA P-256 or Ed25519 signature (noble in tests and XS, node:crypto, Moddable `crypt`).

export type SignatureAlgorithm = "ecdsa-p256" | "ed25519";

export interface SignatureVerifier {
  /**
   * ecdsa-p256: `publicKey` is the 65-byte uncompressed SEC1 point, `digestOrMessage` the 32-byte SHA-256 that
   * was signed (not hashed again), `signature` DER. ed25519: `publicKey` 32 bytes, `digestOrMessage` the bytes
   * signed (RFC 8032, strict), `signature` 64 bytes. Returns false for anything malformed; never throws.
   */
  verify(
    algorithm: SignatureAlgorithm,
    publicKey: Uint8Array,
    digestOrMessage: Uint8Array,
    signature: Uint8Array,
  ): boolean;
  /** Whether this implementation can check the algorithm at all (a device may lack Ed25519). */
  supports(algorithm: SignatureAlgorithm): boolean;
}

/** The order n of P-256, for range checks of r and s. */
export const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

/**
 * Strict DER `SEQUENCE { INTEGER r, INTEGER s }` of a P-256 signature into r and s (1 <= r, s < n), or
 * undefined. Zero bytes after the sequence are allowed: imgtool `--pad-sig` appends them (MCUboot < 1.5).
 */
export function parseDerSignature(der: Uint8Array): { r: bigint; s: bigint } | undefined {
  if (der.length < 8 || der.length > 72 || der[0] !== 0x30) return undefined;
  const seqLength = der[1]!;
  if (seqLength > 0x7f || seqLength + 2 > der.length) return undefined;
  for (let i = seqLength + 2; i < der.length; i++) if (der[i] !== 0) return undefined;
  let at = 2;
  const integer = (): bigint | undefined => {
    if (at + 2 > seqLength + 2 || der[at] !== 0x02) return undefined;
    const length = der[at + 1]!;
    const start = at + 2;
    if (length === 0 || length > 33 || start + length > seqLength + 2) return undefined;
    // Minimal encoding: no needless leading zero, no negative number.
    if (der[start]! & 0x80) return undefined;
    if (length > 1 && der[start] === 0 && !(der[start + 1]! & 0x80)) return undefined;
    let value = 0n;
    for (let i = start; i < start + length; i++) value = (value << 8n) | BigInt(der[i]!);
    at = start + length;
    return value;
  };
  const r = integer();
  const s = integer();
  if (r === undefined || s === undefined || at !== seqLength + 2) return undefined;
  if (r < 1n || r >= P256_ORDER || s < 1n || s >= P256_ORDER) return undefined;
  return { r, s };
}
