// Signed packages in the app: the trust list from the config (sotaTrustKeys, sotaRevokedKeys) and the
// verifier the engine checks each package with, over the SDK's native ECDSA (docs/signed-packages.md).

// mcconfig type-checks each file alone, and the SDK ships no typings for ecdsa/curve/ecp: point at ours.
// eslint-disable-next-line @typescript-eslint/triple-slash-reference -- no import form reaches an ambient .d.ts
/// <reference path="../../typings/crypt-ecdsa.d.ts" />
import Curve from "curve";
import ECDSA from "ecdsa";
import ECPoint from "ecp";
import type { DigestFactory } from "../../hal/digest.js";
import { ModdableSignatureVerifier } from "../../hal/moddable/signature.js";
import { TrustList } from "../package/trust.js";
import { PackageVerifier } from "../package/verifier.js";

export interface SignedPackageConfig {
  /** PEM public keys whose packages are accepted; none = packages are not checked. */
  trustKeys?: string[];
  /** PEM keys or 64-hex key hashes that are refused even if listed above (a rotated-out key). */
  revokedKeys?: string[];
}

/** The package verifier for these settings, or undefined when no trust key is configured. */
export function packageVerifier(
  config: SignedPackageConfig,
  digests: DigestFactory,
  slotSize: number,
): PackageVerifier | undefined {
  const trusted = config.trustKeys ?? [];
  if (trusted.length === 0) return undefined;
  return new PackageVerifier({
    digests,
    signatures: new ModdableSignatureVerifier({ ECDSA, Curve, ECPoint }),
    trust: TrustList.fromConfig(digests, trusted, config.revokedKeys ?? []),
    maxImageSize: slotSize,
  });
}
