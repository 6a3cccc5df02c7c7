// Key files for sota-pack (node:crypto): generate, load (PKCS#8 or SEC1 private, SPKI public PEM) and sign.
import crypto from "node:crypto";
import type { SignatureAlgorithm } from "../../hal/signature.js";

export interface LoadedKey {
  algorithm: SignatureAlgorithm;
  spki: Uint8Array;
  /** Present for a private key. */
  sign?: (digest: Uint8Array, hashed: Uint8Array) => Uint8Array;
}

export function generateKeyPem(type: SignatureAlgorithm): string {
  const { privateKey } =
    type === "ecdsa-p256"
      ? crypto.generateKeyPairSync("ec", { namedCurve: "P-256" })
      : crypto.generateKeyPairSync("ed25519");
  return privateKey.export({ type: "pkcs8", format: "pem" }).toString();
}

function algorithmOf(key: crypto.KeyObject): SignatureAlgorithm {
  if (key.asymmetricKeyType === "ed25519") return "ed25519";
  if (key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1")
    return "ecdsa-p256";
  throw new Error(
    `unsupported key type ${key.asymmetricKeyType}${key.asymmetricKeyDetails?.namedCurve ? ` (${key.asymmetricKeyDetails.namedCurve})` : ""}: use ecdsa-p256 or ed25519`,
  );
}

/** A key from PEM text: a private key (can sign) or a public key. Throws with a readable message. */
export function loadKeyPem(pem: string, what: string): LoadedKey {
  let key: crypto.KeyObject;
  let isPrivate = true;
  try {
    key = crypto.createPrivateKey(pem);
  } catch {
    try {
      key = crypto.createPublicKey(pem);
      isPrivate = false;
    } catch {
      throw new Error(`${what}: not a PEM private or public key`);
    }
  }
  const algorithm = algorithmOf(key);
  const publicKey = isPrivate ? crypto.createPublicKey(key) : key;
  const spki = new Uint8Array(publicKey.export({ type: "spki", format: "der" }));
  if (!isPrivate) return { algorithm, spki };
  // node:crypto cannot sign a prehashed ECDSA digest: it signs SHA-256(hashed), the same number, as imgtool does.
  const sign = (digest: Uint8Array, hashed: Uint8Array): Uint8Array =>
    algorithm === "ed25519"
      ? new Uint8Array(crypto.sign(null, digest, key)) // imgtool signs the 32-byte hash as the message
      : new Uint8Array(crypto.sign("sha256", hashed, { key, dsaEncoding: "der" }));
  return { algorithm, spki, sign };
}

export function publicPem(spki: Uint8Array): string {
  return crypto
    .createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" })
    .export({ type: "spki", format: "pem" })
    .toString();
}
