// The trust list: the public keys whose signatures are accepted, found by key hash; a revoked key stays listed.
import type { DigestFactory } from "../../hal/digest.js";
import type { SignatureAlgorithm } from "../../hal/signature.js";
import { parsePublicKeyPem, parseSpki, type PublicKey } from "./keys.js";

export interface TrustEntry {
  /** SHA-256 of the key's DER SubjectPublicKeyInfo: what imgtool writes in the KEYHASH TLV. */
  keyHash: Uint8Array;
  /** Absent for a revocation that names only the hash (the key itself may be long gone). */
  key?: PublicKey;
  revoked: boolean;
  name: string;
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** SHA-256 of `bytes` through the Digest port. */
export function sha256(digests: DigestFactory, bytes: Uint8Array): Uint8Array {
  const digest = digests.create("SHA256");
  digest.write(bytes);
  return digest.close();
}

export class TrustList {
  readonly entries: readonly TrustEntry[];

  constructor(entries: readonly TrustEntry[]) {
    this.entries = entries.slice();
  }

  /** Builds a list from DER SubjectPublicKeyInfo keys (throws on a key that is not P-256 or Ed25519). */
  static fromKeys(
    digests: DigestFactory,
    keys: readonly { spki: Uint8Array; revoked?: boolean; name?: string }[],
    revokedHashes: readonly Uint8Array[] = [],
  ): TrustList {
    const entries: TrustEntry[] = keys.map((k, i) => {
      const key = parseSpki(k.spki);
      if (!key) throw new Error(`trust list key ${k.name ?? i}: not a P-256 or Ed25519 public key`);
      return {
        keyHash: sha256(digests, key.spki),
        key,
        revoked: k.revoked ?? false,
        name: k.name ?? `key ${i}`,
      };
    });
    for (const hash of revokedHashes) {
      if (hash.length !== 32) throw new Error("a revoked key hash has 32 bytes");
      const known = entries.find((e) => sameBytes(e.keyHash, hash));
      if (known) known.revoked = true;
      else entries.push({ keyHash: hash.slice(), revoked: true, name: "revoked hash" });
    }
    return new TrustList(entries);
  }

  /**
   * From configuration text (a CLI's --trust-key files, an app's manifest config): trusted keys as PEM, and revoked
   * keys as PEM or as 64 hex digits of their key hash. Throws naming the first entry that is neither.
   */
  static fromConfig(
    digests: DigestFactory,
    trusted: readonly string[],
    revoked: readonly string[] = [],
  ): TrustList {
    const pem = (text: string, what: string) => {
      const key = parsePublicKeyPem(text);
      if (!key) throw new Error(`${what}: not a PEM P-256 or Ed25519 public key`);
      return key.spki;
    };
    const keys = trusted.map((text, i) => ({
      spki: pem(text, `trusted key ${i + 1}`),
      name: `key ${i + 1}`,
    }));
    const hashes: Uint8Array[] = [];
    revoked.forEach((text, i) => {
      const hex = text.trim().toLowerCase();
      if (/^[0-9a-f]{64}$/.test(hex)) hashes.push(Uint8Array.from(hex.match(/../g)!, (h) => parseInt(h, 16)));
      else hashes.push(sha256(digests, pem(text, `revoked key ${i + 1}`)));
    });
    return TrustList.fromKeys(digests, keys, hashes);
  }

  find(keyHash: Uint8Array): TrustEntry | undefined {
    return this.entries.find((e) => sameBytes(e.keyHash, keyHash));
  }

  algorithms(): SignatureAlgorithm[] {
    return [...new Set(this.entries.flatMap((e) => (e.key && !e.revoked ? [e.key.algorithm] : [])))];
  }
}
