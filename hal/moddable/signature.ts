// Signature port on the device: P-256 ECDSA through the Moddable SDK's `crypt` ECDSA (native big-number arithmetic);
// the SDK has no Ed25519, so that algorithm goes to an optional verifier given by the app (e.g. the noble one).
//
// The app hands in the SDK's classes (so this file stays testable off the device):
//   import ECDSA from "ecdsa"; import Curve from "curve"; import ECPoint from "ecp";
//   new ModdableSignatureVerifier({ ECDSA, Curve, ECPoint });
// with the modules of $(MODULES)/crypt/tls_common.json ("ecdsa", "curve", "ber", "pkcs1", "rng" and arith/*).
// mcconfig type-checks each file alone, and the SDK ships no typings for ecdsa/curve/ecp: point at ours.
// eslint-disable-next-line @typescript-eslint/triple-slash-reference -- no import form reaches an ambient .d.ts
/// <reference path="../../typings/crypt-ecdsa.d.ts" />
import type CurveClass from "curve";
import type ECDSAClass from "ecdsa";
import type ECPointClass from "ecp";
import {
  P256_ORDER,
  parseDerSignature,
  type SignatureAlgorithm,
  type SignatureVerifier,
} from "../signature.js";

export interface CryptEcdsaModules {
  ECDSA: typeof ECDSAClass;
  Curve: typeof CurveClass;
  ECPoint: typeof ECPointClass;
}

const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;

function toBigInt(bytes: Uint8Array, from: number, to: number): bigint {
  let v = 0n;
  for (let i = from; i < to; i++) v = (v << 8n) | BigInt(bytes[i]!);
  return v;
}

function put(out: Uint8Array, at: number, v: bigint): void {
  for (let i = at + 31; i >= at; i--, v >>= 8n) out[i] = Number(v & 0xffn);
}

export class ModdableSignatureVerifier implements SignatureVerifier {
  readonly #sdk: CryptEcdsaModules;
  readonly #curve: CurveClass;
  readonly #ed25519: SignatureVerifier | undefined;

  constructor(sdk: CryptEcdsaModules, ed25519?: SignatureVerifier) {
    this.#sdk = sdk;
    this.#curve = new sdk.Curve("secp256r1");
    this.#ed25519 = ed25519;
  }

  supports(algorithm: SignatureAlgorithm): boolean {
    if (algorithm === "ecdsa-p256") return true;
    return algorithm === "ed25519" && this.#ed25519 !== undefined && this.#ed25519.supports("ed25519");
  }

  verify(
    algorithm: SignatureAlgorithm,
    publicKey: Uint8Array,
    digestOrMessage: Uint8Array,
    signature: Uint8Array,
  ): boolean {
    if (algorithm === "ed25519")
      return this.#ed25519?.verify(algorithm, publicKey, digestOrMessage, signature) ?? false;
    if (algorithm !== "ecdsa-p256") return false;
    try {
      // The SDK checks neither the ranges of r and s (r = s = 0 would pass) nor the key's curve: done here.
      const rs = parseDerSignature(signature);
      if (!rs || publicKey.length !== 65 || publicKey[0] !== 0x04 || digestOrMessage.length !== 32)
        return false;
      const x = toBigInt(publicKey, 1, 33);
      const y = toBigInt(publicKey, 33, 65);
      if (x >= P || y >= P || (((y * y - (x * x * x - 3n * x + B)) % P) + P) % P !== 0n) return false;
      if (rs.r >= P256_ORDER || rs.s >= P256_ORDER) return false;
      // The SDK reads whole ArrayBuffers (BigInt.fromArrayBuffer): r || s of 32 bytes each, and the digest.
      const raw = new Uint8Array(64);
      put(raw, 0, rs.r);
      put(raw, 32, rs.s);
      const ecdsa = new this.#sdk.ECDSA(new this.#sdk.ECPoint(x, y), this.#curve, false);
      return ecdsa.verify(digestOrMessage.slice().buffer, raw.buffer, false) === true;
    } catch {
      return false;
    }
  }
}
