// Signature port over @noble/curves (pure JS): P-256 ECDSA and strict Ed25519, for tests, tools and the XS lane.
import { ed25519 } from "@noble/curves/ed25519.js";
import { p256 } from "@noble/curves/nist.js";
import { parseDerSignature, type SignatureAlgorithm, type SignatureVerifier } from "../signature.js";

let tablesOff = false;

export class NobleSignatureVerifier implements SignatureVerifier {
  constructor() {
    // Window 1: no precomputed base-point table (Ed25519's keeps ~470 KB alive in XS); verify is ~1.5x slower.
    if (!tablesOff) {
      ed25519.Point.BASE.precompute(1);
      p256.Point.BASE.precompute(1);
      tablesOff = true;
    }
  }

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
      if (algorithm === "ecdsa-p256") {
        if (publicKey.length !== 65 || digestOrMessage.length !== 32) return false;
        // Our strict DER check first (it also drops imgtool --pad-sig zeros); OpenSSL makes high-S signatures.
        const rs = parseDerSignature(signature);
        if (!rs) return false;
        const der = signature.subarray(0, signature[1]! + 2);
        return p256.verify(der, digestOrMessage, publicKey, { prehash: false, lowS: false, format: "der" });
      }
      if (algorithm === "ed25519") {
        if (publicKey.length !== 32 || signature.length !== 64) return false;
        return ed25519.verify(signature, digestOrMessage, publicKey, { zip215: false });
      }
      return false;
    } catch {
      return false;
    }
  }
}
