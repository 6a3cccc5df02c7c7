// Signature port over node:crypto (OpenSSL) for the host-mode device and desktop tools: P-256 ECDSA and Ed25519.
import crypto from "node:crypto";
import {
  P256_ORDER,
  parseDerSignature,
  type SignatureAlgorithm,
  type SignatureVerifier,
} from "../signature.js";

const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const N = P256_ORDER;
/** The message whose SHA-256 node:crypto will compute in our place (see verifyP256). */
const FIXED_MESSAGE = new Uint8Array(0);
const FIXED_E = toBigInt(crypto.createHash("sha256").update(FIXED_MESSAGE).digest()) % N;

function toBigInt(bytes: Uint8Array): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

function toBytes(v: bigint, length = 32): Buffer {
  const out = Buffer.alloc(length);
  for (let i = length - 1; i >= 0; i--, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
}

const mod = (a: bigint, m: bigint): bigint => ((a % m) + m) % m;

function power(base: bigint, exponent: bigint, m: bigint): bigint {
  let result = 1n;
  base = mod(base, m);
  for (; exponent > 0n; exponent >>= 1n, base = (base * base) % m)
    if (exponent & 1n) result = (result * base) % m;
  return result;
}

const inverse = (a: bigint, m: bigint): bigint => power(a, m - 2n, m); // m is prime

type Point = { x: bigint; y: bigint } | null; // null: the point at infinity

/** Affine addition on P-256 (a = -3): one inversion, run once per verify. */
function add(a: Point, b: Point): Point {
  if (!a) return b;
  if (!b) return a;
  let slope: bigint;
  if (a.x === b.x) {
    if (mod(a.y + b.y, P) === 0n) return null;
    slope = mod((3n * a.x * a.x - 3n) * inverse(2n * a.y, P), P);
  } else slope = mod((b.y - a.y) * inverse(b.x - a.x, P), P);
  const x = mod(slope * slope - a.x - b.x, P);
  return { x, y: mod(slope * (a.x - x) - a.y, P) };
}

const b64url = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64url");

/**
 * node:crypto always hashes what it verifies, and imgtool signs the image's SHA-256 e directly. The equation
 * x(s⁻¹(e·G + r·Q)) = r equals x(s⁻¹(e'·G + r·Q')) = r for Q' = Q + r⁻¹(e − e')·G, with e' the SHA-256 of a fixed
 * message: so OpenSSL verifies (r, s) on that message under Q'. k·G comes from node's ECDH, one addition here.
 */
function verifyP256(publicKey: Uint8Array, digest: Uint8Array, signature: Uint8Array): boolean {
  const rs = parseDerSignature(signature);
  if (!rs || publicKey.length !== 65 || publicKey[0] !== 0x04 || digest.length !== 32) return false;
  const q = { x: toBigInt(publicKey.subarray(1, 33)), y: toBigInt(publicKey.subarray(33)) };
  if (
    q.x >= P ||
    q.y >= P ||
    mod(
      q.y * q.y -
        (q.x * q.x * q.x - 3n * q.x + 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn),
      P,
    ) !== 0n
  )
    return false;
  const k = mod((toBigInt(digest) - FIXED_E) * inverse(rs.r, N), N);
  let shifted: Point = q;
  if (k !== 0n) {
    const ecdh = crypto.createECDH("prime256v1");
    ecdh.setPrivateKey(toBytes(k));
    const kg = ecdh.getPublicKey();
    shifted = add(q, { x: toBigInt(kg.subarray(1, 33)), y: toBigInt(kg.subarray(33)) });
  }
  if (!shifted) return false;
  const key = crypto.createPublicKey({
    key: { kty: "EC", crv: "P-256", x: b64url(toBytes(shifted.x)), y: b64url(toBytes(shifted.y)) },
    format: "jwk",
  });
  const der = signature.subarray(0, signature[1]! + 2); // without imgtool --pad-sig zeros
  return crypto.verify("sha256", FIXED_MESSAGE, { key, dsaEncoding: "der" }, der);
}

export class NodeSignatureVerifier implements SignatureVerifier {
  supports(algorithm: SignatureAlgorithm): boolean {
    return algorithm === "ecdsa-p256" || algorithm === "ed25519";
  }

  verify(
    algorithm: SignatureAlgorithm,
    publicKey: Uint8Array,
    digestOrMessage: Uint8Array,
    signature: Uint8Array,
  ): boolean {
    try {
      if (algorithm === "ecdsa-p256") return verifyP256(publicKey, digestOrMessage, signature);
      if (algorithm === "ed25519") {
        if (publicKey.length !== 32 || signature.length !== 64) return false;
        const key = crypto.createPublicKey({
          key: { kty: "OKP", crv: "Ed25519", x: b64url(publicKey) },
          format: "jwk",
        });
        return crypto.verify(null, digestOrMessage, key, signature);
      }
      return false;
    } catch {
      return false;
    }
  }
}
