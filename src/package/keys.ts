// Public keys as imgtool writes them: PEM / DER SubjectPublicKeyInfo of P-256 or Ed25519, and the raw key inside.
import type { SignatureAlgorithm } from "../../hal/signature.js";

// Fixed DER prefixes: a P-256 SPKI is always 26 + 65 bytes, an Ed25519 one 12 + 32 (RFC 5480, RFC 8410).
const P256_SPKI_PREFIX = Uint8Array.of(
  0x30,
  0x59,
  0x30,
  0x13,
  0x06,
  0x07,
  0x2a,
  0x86,
  0x48,
  0xce,
  0x3d,
  0x02,
  0x01,
  0x06,
  0x08,
  0x2a,
  0x86,
  0x48,
  0xce,
  0x3d,
  0x03,
  0x01,
  0x07,
  0x03,
  0x42,
  0x00,
);
const ED25519_SPKI_PREFIX = Uint8Array.of(
  0x30,
  0x2a,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x70,
  0x03,
  0x21,
  0x00,
);

export interface PublicKey {
  algorithm: SignatureAlgorithm;
  /** The raw key: 65-byte uncompressed point (P-256) or 32 bytes (Ed25519). */
  raw: Uint8Array;
  /** The DER SubjectPublicKeyInfo: imgtool's KEYHASH TLV is the SHA-256 of exactly these bytes. */
  spki: Uint8Array;
}

// Callers check the length first: the SPKI sizes are fixed.
function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

/** A P-256 or Ed25519 SubjectPublicKeyInfo (DER), or undefined for anything else. */
export function parseSpki(der: Uint8Array): PublicKey | undefined {
  if (der.length === P256_SPKI_PREFIX.length + 65 && startsWith(der, P256_SPKI_PREFIX)) {
    const raw = der.slice(P256_SPKI_PREFIX.length);
    return raw[0] === 0x04 ? { algorithm: "ecdsa-p256", raw, spki: der.slice() } : undefined;
  }
  if (der.length === ED25519_SPKI_PREFIX.length + 32 && startsWith(der, ED25519_SPKI_PREFIX))
    return { algorithm: "ed25519", raw: der.slice(ED25519_SPKI_PREFIX.length), spki: der.slice() };
  return undefined;
}

/** The SubjectPublicKeyInfo of a raw key (the inverse of parseSpki). */
export function spkiOf(algorithm: SignatureAlgorithm, raw: Uint8Array): Uint8Array {
  const prefix = algorithm === "ecdsa-p256" ? P256_SPKI_PREFIX : ED25519_SPKI_PREFIX;
  const out = new Uint8Array(prefix.length + raw.length);
  out.set(prefix);
  out.set(raw, prefix.length);
  return out;
}

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Decodes base64 (whitespace ignored); undefined on any other character or a bad length. XS has no atob. */
export function decodeBase64(text: string): Uint8Array | undefined {
  const clean = text.replace(/\s+/g, "").replace(/=+$/, "");
  if (clean.length % 4 === 1) return undefined;
  const out = new Uint8Array((clean.length * 3) >> 2);
  let bits = 0;
  let value = 0;
  let o = 0;
  for (let i = 0; i < clean.length; i++) {
    const digit = BASE64.indexOf(clean[i]!);
    if (digit < 0) return undefined;
    value = (value << 6) | digit;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (value >> bits) & 0xff;
    }
  }
  return out;
}

/** The DER body of the first PEM block labelled `label` (e.g. "PUBLIC KEY"), or undefined. */
export function pemBody(pem: string, label: string): Uint8Array | undefined {
  const begin = `-----BEGIN ${label}-----`;
  const end = `-----END ${label}-----`;
  const from = pem.indexOf(begin);
  if (from < 0) return undefined;
  const to = pem.indexOf(end, from + begin.length);
  if (to < 0) return undefined;
  return decodeBase64(pem.slice(from + begin.length, to));
}

/** A P-256 or Ed25519 public key from PEM ("PUBLIC KEY" block), or undefined. */
export function parsePublicKeyPem(pem: string): PublicKey | undefined {
  const der = pemBody(pem, "PUBLIC KEY");
  return der ? parseSpki(der) : undefined;
}
