// Shared by the package suites: the embedded fixtures, a trust list over the test keys, and a chunked verify.
import { NobleDigestFactory } from "../../../hal/sim/digest.js";
import { NobleSignatureVerifier } from "../../../hal/sim/noble-signature.js";
import { decodeBase64, pemBody } from "../../../src/package/keys.js";
import { TrustList } from "../../../src/package/trust.js";
import { PackageVerifier, type Expectation, type Verdict } from "../../../src/package/verifier.js";
import { packages, publicKeys } from "../../fixtures/signed/fixtures.js";

export const digests = new NobleDigestFactory();
export const signatures = new NobleSignatureVerifier();

export function fixture(name: string): Uint8Array {
  const text = packages[name];
  if (text === undefined) throw new Error(`no fixture ${name}`);
  return decodeBase64(text)!;
}

export function spkiOf(name: string): Uint8Array {
  return pemBody(publicKeys[name]!, "PUBLIC KEY")!;
}

/** p256-a and ed25519-a trusted, p256-revoked listed as revoked; p256-stranger absent. */
export function testTrust(): TrustList {
  return TrustList.fromKeys(digests, [
    { spki: spkiOf("p256-a.pub.pem"), name: "p256-a" },
    { spki: spkiOf("ed25519-a.pub.pem"), name: "ed25519-a" },
    { spki: spkiOf("p256-revoked.pub.pem"), name: "p256-revoked", revoked: true },
  ]);
}

export function makeVerifier(trust = testTrust(), maxImageSize = 16384): PackageVerifier {
  return new PackageVerifier({ digests, signatures, trust, maxImageSize });
}

/** Feeds `bytes` in chunks of `chunk` bytes and returns the verdict. */
export function verifyBytes(
  bytes: Uint8Array,
  expect: Expectation,
  options: { chunk?: number; verifier?: PackageVerifier } = {},
): Verdict {
  const verifier = options.verifier ?? makeVerifier();
  const chunk = options.chunk ?? 1024;
  verifier.begin(expect);
  for (let at = 0; at < bytes.length; at += chunk) verifier.write(bytes.subarray(at, at + chunk));
  return verifier.finish();
}

export const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

export function flipped(bytes: Uint8Array, at: number, mask = 0x01): Uint8Array {
  const copy = bytes.slice();
  copy[at]! ^= mask;
  return copy;
}
