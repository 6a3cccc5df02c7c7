// Runs inside XS for bench/package-verify.bench.ts: verifies the imgtool fixtures with the noble Signature port.
import { NobleDigestFactory } from "../hal/sim/digest.js";
import { NobleSignatureVerifier } from "../hal/sim/noble-signature.js";
import { decodeBase64, pemBody } from "../src/package/keys.js";
import { TrustList } from "../src/package/trust.js";
import { PackageVerifier } from "../src/package/verifier.js";
import { packages, publicKeys } from "../test/fixtures/signed/fixtures.js";

const digests = new NobleDigestFactory();
const trust = TrustList.fromKeys(digests, [
  { spki: pemBody(publicKeys["p256-a.pub.pem"]!, "PUBLIC KEY")! },
  { spki: pemBody(publicKeys["ed25519-a.pub.pem"]!, "PUBLIC KEY")! },
]);
const verifier = new PackageVerifier({
  digests,
  signatures: new NobleSignatureVerifier(),
  trust,
  maxImageSize: 65536,
});
const bytes = {
  p256: decodeBase64(packages["imgtool-p256.bin"]!)!,
  ed25519: decodeBase64(packages["imgtool-ed25519.bin"]!)!,
};
const hashOnly = { p256: 0, ed25519: 0 };

/** Verifies the fixture `times` times, fed in 1024-byte chunks; throws unless every verdict is ok. */
function benchVerify(kind: "p256" | "ed25519", times: number): void {
  const b = bytes[kind];
  for (let i = 0; i < times; i++) {
    verifier.begin({ targetVersion: "2.0.0", minSecurityCounter: 0 });
    for (let at = 0; at < b.length; at += 1024) verifier.write(b.subarray(at, at + 1024));
    if (!verifier.finish().ok) throw new Error(`${kind} refused`);
  }
}

/** The same package with a flipped hash byte: everything but the signature check (refused as bad-hash). */
function benchHashOnly(kind: "p256" | "ed25519", times: number): void {
  const b = bytes[kind].slice();
  b[3540]! ^= 1;
  for (let i = 0; i < times; i++) {
    verifier.begin({ targetVersion: "2.0.0", minSecurityCounter: 0 });
    for (let at = 0; at < b.length; at += 1024) verifier.write(b.subarray(at, at + 1024));
    const verdict = verifier.finish();
    if (verdict.ok || verdict.reason !== "bad-hash") throw new Error("expected bad-hash");
    hashOnly[kind]++;
  }
}

Object.assign(globalThis, { benchVerify, benchHashOnly });
