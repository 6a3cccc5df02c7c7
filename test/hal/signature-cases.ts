// The conformance cases every Signature port implementation passes (noble in XS and Node, node:crypto): imgtool's
// own signatures, RFC 8032's vector, high and low S, padding, and malformed or forged inputs refused without throwing.
import type { SignatureVerifier } from "../../hal/signature.js";
import { P256_ORDER } from "../../hal/signature.js";
import { readU16 } from "../../src/package/format.js";
import { decodeBase64, parsePublicKeyPem } from "../../src/package/keys.js";
import { packages, publicKeys } from "../fixtures/signed/fixtures.js";
import { equal, ok } from "../lib/assert.js";

const fromHex = (text: string): Uint8Array =>
  Uint8Array.from(text.match(/../g) ?? [], (h) => parseInt(h, 16));

/** The SHA256 TLV value and the signature TLV value of a fixture (imgtool's layout: SHA256, KEYHASH, signature). */
function signed(name: string): { digest: Uint8Array; signature: Uint8Array } {
  const b = decodeBase64(packages[name]!)!;
  let at = readU16(b, 8) + (b[12]! | (b[13]! << 8)) + readU16(b, 10) + 4;
  const tlvs: Record<number, Uint8Array> = {};
  while (at < b.length) {
    const length = readU16(b, at + 2);
    tlvs[readU16(b, at)] = b.subarray(at + 4, at + 4 + length);
    at += 4 + length;
  }
  return { digest: tlvs[0x10]!, signature: tlvs[0x22] ?? tlvs[0x24]! };
}

function der(r: bigint, s: bigint): Uint8Array {
  const integer = (v: bigint): number[] => {
    let hex = v.toString(16);
    if (hex.length % 2) hex = `0${hex}`;
    const bytes = Array.from(fromHex(hex));
    if (bytes[0]! & 0x80) bytes.unshift(0);
    return [0x02, bytes.length, ...bytes];
  };
  const body = [...integer(r), ...integer(s)];
  return Uint8Array.of(0x30, body.length, ...body);
}

function rsOf(signature: Uint8Array): { r: bigint; s: bigint } {
  const read = (at: number): [bigint, number] => {
    const length = signature[at + 1]!;
    let v = 0n;
    for (let i = at + 2; i < at + 2 + length; i++) v = (v << 8n) | BigInt(signature[i]!);
    return [v, at + 2 + length];
  };
  const [r, next] = read(2);
  const [s] = read(next);
  return { r, s };
}

export function signatureCases(make: () => SignatureVerifier): void {
  const p256 = parsePublicKeyPem(publicKeys["p256-a.pub.pem"]!)!.raw;
  const ed = parsePublicKeyPem(publicKeys["ed25519-a.pub.pem"]!)!.raw;
  const stranger = parsePublicKeyPem(publicKeys["p256-stranger.pub.pem"]!)!.raw;
  const ecdsa = signed("imgtool-p256.bin");
  const eddsa = signed("imgtool-ed25519.bin");
  const tagged = signed("imgtool-p256-vstring.bin");

  it("supports both algorithms", () => {
    const v = make();
    ok(v.supports("ecdsa-p256") && v.supports("ed25519"));
  });

  it("accepts imgtool's ECDSA P-256 signatures over the image SHA-256, high S included", () => {
    const v = make();
    ok(rsOf(tagged.signature).s > P256_ORDER / 2n, "the fixture's S is high (OpenSSL does not normalise)");
    ok(v.verify("ecdsa-p256", p256, ecdsa.digest, ecdsa.signature));
    ok(v.verify("ecdsa-p256", p256, tagged.digest, tagged.signature));
    const { r, s } = rsOf(tagged.signature);
    ok(v.verify("ecdsa-p256", p256, tagged.digest, der(r, P256_ORDER - s)), "the low-S twin is valid too");
  });

  it("accepts a DER signature followed by imgtool --pad-sig zeros, not other trailing bytes", () => {
    const v = make();
    const padded = new Uint8Array(72);
    padded.set(ecdsa.signature);
    if (ecdsa.signature.length < 72) ok(v.verify("ecdsa-p256", p256, ecdsa.digest, padded));
    const junk = new Uint8Array(ecdsa.signature.length + 1);
    junk.set(ecdsa.signature);
    junk[junk.length - 1] = 1;
    equal(v.verify("ecdsa-p256", p256, ecdsa.digest, junk), false);
  });

  it("refuses ECDSA with another digest, another key, a flipped signature byte, r or s out of range", () => {
    const v = make();
    const otherDigest = ecdsa.digest.slice();
    otherDigest[0]! ^= 1;
    equal(v.verify("ecdsa-p256", p256, otherDigest, ecdsa.signature), false);
    equal(v.verify("ecdsa-p256", stranger, ecdsa.digest, ecdsa.signature), false);
    const flipped = ecdsa.signature.slice();
    flipped[10]! ^= 0x40;
    equal(v.verify("ecdsa-p256", p256, ecdsa.digest, flipped), false);
    const { r, s } = rsOf(ecdsa.signature);
    for (const [rr, ss] of [
      [0n, s],
      [r, 0n],
      [r + P256_ORDER, s],
      [r, s + P256_ORDER],
      [P256_ORDER, s],
    ] as const)
      equal(v.verify("ecdsa-p256", p256, ecdsa.digest, der(rr, ss)), false, `r ${rr}, s ${ss}`);
  });

  it("refuses malformed ECDSA inputs without throwing", () => {
    const v = make();
    const offCurve = p256.slice();
    offCurve[64]! ^= 1;
    equal(v.verify("ecdsa-p256", offCurve, ecdsa.digest, ecdsa.signature), false);
    equal(v.verify("ecdsa-p256", p256.subarray(1), ecdsa.digest, ecdsa.signature), false);
    equal(v.verify("ecdsa-p256", p256, ecdsa.digest.subarray(1), ecdsa.signature), false);
    for (const sig of [
      new Uint8Array(0),
      Uint8Array.of(0x30),
      Uint8Array.of(0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01),
      new Uint8Array(300),
    ])
      equal(v.verify("ecdsa-p256", p256, ecdsa.digest, sig), false);
    const nonMinimal = Uint8Array.of(0x30, 0x08, 0x02, 0x02, 0x00, 0x01, 0x02, 0x02, 0x00, 0x01);
    equal(v.verify("ecdsa-p256", p256, ecdsa.digest, nonMinimal), false);
  });

  it("accepts imgtool's Ed25519 signature (the 32-byte hash is the message) and RFC 8032 test 1", () => {
    const v = make();
    ok(v.verify("ed25519", ed, eddsa.digest, eddsa.signature));
    const rfcKey = fromHex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    const rfcSig = fromHex(
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    );
    ok(v.verify("ed25519", rfcKey, new Uint8Array(0), rfcSig));
  });

  it("refuses Ed25519 with another message, another key, a flipped byte, S + L (not canonical), bad lengths", () => {
    const v = make();
    const otherMessage = eddsa.digest.slice();
    otherMessage[31]! ^= 1;
    equal(v.verify("ed25519", ed, otherMessage, eddsa.signature), false);
    const otherKey = ed.slice();
    otherKey[0]! ^= 1;
    equal(v.verify("ed25519", otherKey, eddsa.digest, eddsa.signature), false);
    const flipped = eddsa.signature.slice();
    flipped[40]! ^= 1;
    equal(v.verify("ed25519", ed, eddsa.digest, flipped), false);
    // S + L verifies under a lax check; RFC 8032 (and MCUboot) require S < L.
    const L = 0x1000000000000000000000000000000014def9dea2f79cd65812631a5cf5d3edn;
    let s = 0n;
    for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(eddsa.signature[i]!);
    const big = s + L;
    if (big < 1n << 256n) {
      const malleable = eddsa.signature.slice();
      for (let i = 32, v2 = big; i < 64; i++, v2 >>= 8n) malleable[i] = Number(v2 & 0xffn);
      equal(v.verify("ed25519", ed, eddsa.digest, malleable), false);
    }
    equal(v.verify("ed25519", ed, eddsa.digest, eddsa.signature.subarray(1)), false);
    equal(v.verify("ed25519", ed.subarray(1), eddsa.digest, eddsa.signature), false);
    equal(v.verify("ed25519", new Uint8Array(32), eddsa.digest, eddsa.signature), false);
  });

  it("refuses a signature checked under the other algorithm", () => {
    const v = make();
    equal(v.verify("ed25519", ed, ecdsa.digest, ecdsa.signature), false);
    equal(v.verify("ecdsa-p256", p256, eddsa.digest, eddsa.signature), false);
  });
}
