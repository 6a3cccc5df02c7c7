// Portable tests of the trust list and the key parsing under it: key hashes as imgtool computes them, revocation
// by key or by hash, configuration text, and keys that are not P-256 or Ed25519 refused.
import { decodeBase64, parsePublicKeyPem, parseSpki, pemBody, spkiOf } from "../../../src/package/keys.js";
import { TrustList } from "../../../src/package/trust.js";
import { parseImageVersion } from "../../../src/package/version.js";
import { deepEqual, equal, ok, throws } from "../../lib/assert.js";
import { publicKeys } from "../../fixtures/signed/fixtures.js";
import { digests, fixture, hex, makeVerifier, verifyBytes } from "./helpers.js";

const P256_HASH = "1003a33c86bffc213bb071d83415a427db228353ccae2c7dc3e172419392745c";
const ED25519_HASH = "3a1c7412b4157361b2c0bbfebbd203414c7e283f966a68ff516a4bdace360f34";
const REVOKED_HASH = "429a3c2261a636276bc82a16b263d27f09f5291fdfee9b8ff111d917de11e4e2";

describe("package/trust and package/keys", () => {
  it("key hashes equal imgtool's KEYHASH TLVs (SHA-256 of the DER SubjectPublicKeyInfo)", () => {
    const list = TrustList.fromConfig(digests, [
      publicKeys["p256-a.pub.pem"]!,
      publicKeys["ed25519-a.pub.pem"]!,
    ]);
    deepEqual(
      list.entries.map((e) => [hex(e.keyHash), e.key?.algorithm, e.revoked, e.name]),
      [
        [P256_HASH, "ecdsa-p256", false, "key 1"],
        [ED25519_HASH, "ed25519", false, "key 2"],
      ],
    );
    deepEqual(list.algorithms(), ["ecdsa-p256", "ed25519"]);
  });

  it("revokes by PEM or by key hash; a revoked trusted key turns revoked", () => {
    const byHash = TrustList.fromConfig(
      digests,
      [publicKeys["p256-a.pub.pem"]!],
      [REVOKED_HASH.toUpperCase()],
    );
    equal(refusal(byHash, "imgtool-p256-revoked.bin"), "revoked-key");
    equal(refusal(byHash, "imgtool-p256.bin"), "accepted");
    const byPem = TrustList.fromConfig(
      digests,
      [publicKeys["p256-a.pub.pem"]!],
      [publicKeys["p256-a.pub.pem"]!],
    );
    deepEqual(
      byPem.entries.map((e) => [hex(e.keyHash), e.revoked]),
      [[P256_HASH, true]],
    );
    equal(refusal(byPem, "imgtool-p256.bin"), "revoked-key");
    deepEqual(byPem.algorithms(), []);
  });

  it("an empty trust list refuses every signed package as unknown-key", () => {
    equal(refusal(new TrustList([]), "imgtool-ed25519.bin"), "unknown-key");
  });

  it("refuses configuration that is not a P-256 or Ed25519 public key, naming it", () => {
    throws(
      () => TrustList.fromConfig(digests, ["hello"]),
      /trusted key 1: not a PEM P-256 or Ed25519 public key/,
    );
    throws(() => TrustList.fromConfig(digests, [], ["abcd"]), /revoked key 1: not a PEM/);
    // A P-384 key (node:crypto generateKeyPairSync("ec", { namedCurve: "P-384" })): a valid SPKI of another curve.
    const p384 =
      "MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEgs2BZv3w7k/9BIiviyrNF3PqA3On+sTXZhJFyKQqo/TRvE2dlahPHla64IuVUg2/DlWUuFkgzW3mzc643wxeREhceQ31DFbKuu9XxIkmWsBy60SiXpXqG9rqeX9q4rtq";
    equal(parseSpki(decodeBase64(p384)!), undefined);
    throws(
      () => TrustList.fromKeys(digests, [{ spki: new Uint8Array(91) }]),
      /not a P-256 or Ed25519 public key/,
    );
  });

  it("SPKI round trip and PEM parsing", () => {
    for (const name of ["p256-a.pub.pem", "ed25519-a.pub.pem"]) {
      const key = parsePublicKeyPem(publicKeys[name]!)!;
      equal(hex(spkiOf(key.algorithm, key.raw)), hex(pemBody(publicKeys[name]!, "PUBLIC KEY")!));
    }
    equal(parsePublicKeyPem("-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n"), undefined);
    equal(decodeBase64("Q"), undefined);
    equal(hex(decodeBase64("QQ==")!), "41");
    equal(hex(decodeBase64("QUJD")!), "414243");
    equal(hex(decodeBase64(" QU\nJD ")!), "414243");
  });

  it("reads versions with imgtool's grammar and field widths", () => {
    deepEqual(parseImageVersion("2"), { major: 2, minor: 0, revision: 0, build: 0 });
    deepEqual(parseImageVersion("255.255.65535+4294967295"), {
      major: 255,
      minor: 255,
      revision: 65535,
      build: 4294967295,
    });
    for (const bad of [
      "256",
      "1.256",
      "1.2.65536",
      "1.2.3+4294967296",
      "01.2",
      "1.2.3.4",
      "v1",
      "1..2",
      "",
      "1.2+3",
    ])
      equal(parseImageVersion(bad), undefined, bad);
    ok(parseImageVersion("0.0.0+0"));
  });
});

function refusal(trust: TrustList, name: string): string {
  const verdict = verifyBytes(
    fixture(name),
    { targetVersion: null, minSecurityCounter: 0 },
    { verifier: makeVerifier(trust) },
  );
  return verdict.ok ? "accepted" : verdict.reason;
}
