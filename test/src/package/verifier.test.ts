// Portable tests of the streaming package verifier on imgtool's and sota-pack's fixtures: each accepted with its
// exact verdict, and every tampering, wrong key, revoked key, missing signature, rollback and version refused.
import {
  TLV,
  TLV_INFO_MAGIC,
  TLV_PROT_INFO_MAGIC,
  readU16,
  readU32,
  walkTlvArea,
} from "../../../src/package/format.js";
import { TrustList } from "../../../src/package/trust.js";
import type { Verdict } from "../../../src/package/verifier.js";
import { deepEqual, equal, ok, throws } from "../../lib/assert.js";
import { digests, fixture, flipped, hex, makeVerifier, spkiOf, testTrust, verifyBytes } from "./helpers.js";

const P256_HASH = "1003a33c86bffc213bb071d83415a427db228353ccae2c7dc3e172419392745c";
const ED25519_HASH = "3a1c7412b4157361b2c0bbfebbd203414c7e283f966a68ff516a4bdace360f34";
const any = { targetVersion: null, minSecurityCounter: 0 };

/** Where each TLV's value starts in a package (first of each type), from its own header. */
function tlvOffsets(b: Uint8Array): Record<number, number> {
  const found: Record<number, number> = {};
  let at = readU16(b, 8) + readU32(b, 12);
  const protectedSize = readU16(b, 10);
  const note = (type: number, value: number) => {
    found[type] ??= value;
    return true;
  };
  if (protectedSize > 0) {
    ok(walkTlvArea(b, at, protectedSize, TLV_PROT_INFO_MAGIC, note));
    at += protectedSize;
  }
  ok(walkTlvArea(b, at, readU16(b, at + 2), TLV_INFO_MAGIC, note));
  return found;
}

function refused(verdict: Verdict): string {
  return verdict.ok ? "accepted" : verdict.reason;
}

describe("package/verifier on imgtool and sota-pack fixtures", () => {
  const accepted: [string, string, number, string | undefined, string][] = [
    ["imgtool-p256.bin", "2.0.0", 5, undefined, P256_HASH],
    ["imgtool-ed25519.bin", "2.0.0", 5, undefined, ED25519_HASH],
    ["imgtool-p256-vstring.bin", "V2_0", 6, "V2_0", P256_HASH],
    ["imgtool-p256-pubkey.bin", "2.0.0", 5, undefined, P256_HASH],
    ["imgtool-p256-padsig.bin", "2.0.0", 5, undefined, P256_HASH],
    ["pack-p256.bin", "2.0.0", 5, undefined, P256_HASH],
    ["pack-ed25519.bin", "2.0.0", 5, undefined, ED25519_HASH],
    ["pack-p256-vstring.bin", "V2_0", 6, "V2_0", P256_HASH],
  ];
  for (const [name, target, counter, versionString, keyHash] of accepted) {
    it(`accepts ${name} for target "${target}" with its exact verdict, in any chunking`, () => {
      const bytes = fixture(name);
      const build = versionString === undefined ? 0 : 7;
      for (const chunk of [1, 7, 512, 1024, bytes.length]) {
        const verdict = verifyBytes(bytes, { targetVersion: target, minSecurityCounter: counter }, { chunk });
        if (!verdict.ok) throw new Error(`chunk ${chunk}: refused ${verdict.reason}: ${verdict.detail}`);
        deepEqual(
          { ...verdict, keyHash: hex(verdict.keyHash) },
          {
            ok: true,
            version: { major: 2, minor: 0, revision: 0, build },
            versionString,
            securityCounter: counter,
            keyHash,
            imageOffset: 512,
            imageSize: 3000,
          },
        );
      }
    });
  }

  it("the body sits at imageOffset: byte for byte the signed image", () => {
    const image = fixture("image.bin");
    const bytes = fixture("imgtool-p256.bin");
    deepEqual(hex(bytes.subarray(512, 512 + 3000)), hex(image));
  });

  it("sota-pack's Ed25519 package is byte-identical to imgtool's (Ed25519 is deterministic)", () => {
    equal(hex(fixture("pack-ed25519.bin")), hex(fixture("imgtool-ed25519.bin")));
  });

  for (const name of ["imgtool-p256.bin", "imgtool-ed25519.bin", "pack-p256-vstring.bin"]) {
    describe(`a flipped byte in ${name}`, () => {
      const bytes = fixture(name);
      const at = tlvOffsets(bytes);
      const sigType = name.includes("ed25519") ? TLV.ED25519 : TLV.ECDSA_SIG;
      const cases: [string, number, string][] = [
        ["the header's magic", 0, "malformed-header"],
        ["the header's version", 20, "bad-hash"],
        ["the header's padding", 100, "bad-hash"],
        ["the body's first byte", 512, "bad-hash"],
        ["the body's last byte", 512 + 2999, "bad-hash"],
        ["the security counter (protected TLV)", at[TLV.SEC_CNT]!, "bad-hash"],
        ["the protected area's magic", 512 + 3000, "malformed-header"],
        ["the SHA256 TLV", at[TLV.SHA256]! + 31, "bad-hash"],
        ["the key hash", at[TLV.KEYHASH]! + 3, "unknown-key"],
        ["the signature", at[sigType]! + 12, "bad-signature"],
        ["the signature's last byte", bytes.length - 1, "bad-signature"],
      ];
      for (const [what, offset, reason] of cases) {
        it(`in ${what} (offset ${offset}) is refused: ${reason}`, () => {
          const verdict = verifyBytes(flipped(bytes, offset), {
            targetVersion: "2.0.0",
            minSecurityCounter: 0,
          });
          equal(refused(verdict), reason, verdict.ok ? "" : verdict.detail);
        });
      }
    });
  }

  it("refuses a package signed by a key not in the trust list: unknown-key", () => {
    const verdict = verifyBytes(fixture("imgtool-p256-stranger.bin"), any);
    equal(refused(verdict), "unknown-key");
  });

  it("refuses a package signed by a revoked key: revoked-key (also when only its hash is listed)", () => {
    equal(refused(verifyBytes(fixture("imgtool-p256-revoked.bin"), any)), "revoked-key");
    const revokedHash = digests.create("SHA256");
    revokedHash.write(spkiOf("p256-revoked.pub.pem"));
    const byHash = TrustList.fromKeys(digests, [{ spki: spkiOf("p256-a.pub.pem") }], [revokedHash.close()]);
    const verdict = verifyBytes(fixture("imgtool-p256-revoked.bin"), any, { verifier: makeVerifier(byHash) });
    equal(refused(verdict), "revoked-key");
    // The revoked key stays refused even for a package that is otherwise perfect.
    equal(
      refused(verifyBytes(fixture("imgtool-p256.bin"), any, { verifier: makeVerifier(byHash) })),
      "accepted",
    );
  });

  it("refuses a package without a signature: unsigned", () => {
    equal(refused(verifyBytes(fixture("imgtool-unsigned.bin"), any)), "unsigned");
  });

  it("refuses a security counter below the stored one: rollback (equal is fine)", () => {
    const bytes = fixture("imgtool-p256.bin");
    equal(refused(verifyBytes(bytes, { targetVersion: "2.0.0", minSecurityCounter: 6 })), "rollback");
    equal(refused(verifyBytes(bytes, { targetVersion: "2.0.0", minSecurityCounter: 5 })), "accepted");
  });

  it("maps the target version: imgtool's -v grammar without the TLV, the exact string with it", () => {
    const plain = fixture("imgtool-p256.bin");
    const tagged = fixture("imgtool-p256-vstring.bin");
    const verdict = (bytes: Uint8Array, target: string) =>
      refused(verifyBytes(bytes, { targetVersion: target, minSecurityCounter: 0 }));
    for (const target of ["2.0.0", "2.0", "2", "2.0.0+0"]) equal(verdict(plain, target), "accepted", target);
    for (const target of ["2.0.1", "1.9.9", "V2_0", "2.0.0 ", "02.0.0", "2.0.0+1", ""])
      equal(verdict(plain, target), "version-mismatch", target);
    equal(verdict(tagged, "V2_0"), "accepted");
    for (const target of ["2.0.0+7", "2.0.0", "v2_0", "V2_0 "])
      equal(verdict(tagged, target), "version-mismatch", target);
  });

  it("refuses a truncated package and bytes after the TLV area: malformed-header", () => {
    const bytes = fixture("imgtool-p256.bin");
    for (const length of [0, 31, 32, 511, 3512, 3524, bytes.length - 1]) {
      equal(refused(verifyBytes(bytes.subarray(0, length), any)), "malformed-header", `length ${length}`);
    }
    const longer = new Uint8Array(bytes.length + 1).fill(0xff);
    longer.set(bytes);
    equal(refused(verifyBytes(longer, any)), "malformed-header");
  });

  it("refuses an image larger than the slot before reading it", () => {
    const verifier = makeVerifier(testTrust(), 2999);
    const verdict = verifyBytes(fixture("imgtool-p256.bin"), any, { verifier });
    equal(refused(verdict), "malformed-header");
    ok(
      !verdict.ok && /image size 3000 larger than the slot's 2999/.test(verdict.detail),
      JSON.stringify(verdict),
    );
  });

  it("refuses encrypted or compressed images (their body is not what runs)", () => {
    for (const flag of [0x4, 0x8, 0x200, 0x400]) {
      const bytes = fixture("imgtool-p256.bin").slice();
      bytes[16] = flag & 0xff;
      bytes[17] = flag >> 8;
      equal(refused(verifyBytes(bytes, any)), "malformed-header", `flag 0x${flag.toString(16)}`);
    }
  });

  it("one verifier serves many packages; header and TLV bytes are kept for the engine", () => {
    const verifier = makeVerifier();
    for (const name of ["imgtool-p256.bin", "imgtool-unsigned.bin", "imgtool-ed25519.bin"]) {
      const verdict = verifyBytes(fixture(name), any, { verifier });
      equal(refused(verdict), name === "imgtool-unsigned.bin" ? "unsigned" : "accepted", name);
    }
    const bytes = fixture("imgtool-ed25519.bin");
    equal(hex(verifier.headerBytes()), hex(bytes.subarray(0, 32)));
    equal(hex(verifier.tlvBytes()), hex(bytes.subarray(3512)));
    equal(verifier.header?.imageSize, 3000);
    equal(verifier.offset, bytes.length);
  });

  it("write() before begin() is a programming error", () => {
    throws(() => makeVerifier().write(new Uint8Array(1)));
  });
});
