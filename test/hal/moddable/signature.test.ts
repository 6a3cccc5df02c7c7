// The device's Signature port against a stand-in for the Moddable SDK's ECDSA: the same JS as the SDK's
// modules/crypt/etc/ecdsa.js `_verify` (no range checks, R.X === r), with noble's points in place of arith/ec.c.
// The typings of the SDK modules are device-side (tsconfig.json); the Node side sees them here.
// eslint-disable-next-line @typescript-eslint/triple-slash-reference
/// <reference path="../../../typings/crypt-ecdsa.d.ts" />
import { p256 } from "@noble/curves/nist.js";
import { P256_ORDER } from "../../../hal/signature.js";
import { NobleSignatureVerifier } from "../../../hal/sim/noble-signature.js";
import { ModdableSignatureVerifier, type CryptEcdsaModules } from "../../../hal/moddable/signature.js";
import { equal, ok } from "../../lib/assert.js";
import { signatureCases } from "../signature-cases.js";

const N = P256_ORDER;
const mod = (a: bigint): bigint => ((a % N) + N) % N;
function inverse(a: bigint): bigint {
  let result = 1n;
  let base = mod(a);
  for (let e = N - 2n; e > 0n; e >>= 1n, base = (base * base) % N) if (e & 1n) result = (result * base) % N;
  return result;
}
function fromBuffer(buffer: ArrayBuffer): bigint {
  // BigInt.fromArrayBuffer throws on anything but an ArrayBuffer; big-endian, unsigned.
  if (!(buffer instanceof ArrayBuffer)) throw new TypeError("argument: not an ArrayBuffer instance");
  let v = 0n;
  for (const b of new Uint8Array(buffer)) v = (v << 8n) | BigInt(b);
  return v;
}

class FakeECPoint {
  constructor(
    readonly X: bigint,
    readonly Y: bigint,
    readonly identity = false,
  ) {}
  isZero(): boolean {
    return this.identity;
  }
}

class FakeCurve {
  readonly n = N;
  readonly orderSize = 32;
  readonly G = new FakeECPoint(p256.Point.BASE.x, p256.Point.BASE.y);
}

class FakeECDSA {
  calls = 0;
  constructor(
    readonly key: FakeECPoint,
    readonly curve: FakeCurve,
  ) {}
  verify(H: ArrayBuffer, sig: ArrayBuffer, asn1?: boolean): boolean {
    if (asn1) throw new Error("the wrapper passes r || s, not DER");
    const e = fromBuffer(H);
    const r = fromBuffer(sig.slice(0, 32));
    const s = fromBuffer(sig.slice(32, 64));
    const w = inverse(s); // the SDK's mulinv: 0 for 0
    const u1 = mod(e * w);
    const u2 = mod(r * w);
    const q = p256.Point.fromAffine({ x: this.key.X, y: this.key.Y });
    const R = p256.Point.BASE.multiplyUnsafe(u1).add(q.multiplyUnsafe(u2));
    const x = R.is0() ? 0n : R.toAffine().x;
    return x === r;
  }
}

const sdk = { ECDSA: FakeECDSA, Curve: FakeCurve, ECPoint: FakeECPoint } as unknown as CryptEcdsaModules;

describe("hal/moddable/signature ModdableSignatureVerifier (stand-in SDK)", function () {
  this.timeout(120_000);
  signatureCases(() => new ModdableSignatureVerifier(sdk, new NobleSignatureVerifier()));

  it("the stand-in is as lax as the SDK: it takes r = s = 0 for any digest, the wrapper does not", () => {
    const key = new FakeECPoint(p256.Point.BASE.x, p256.Point.BASE.y);
    ok(new FakeECDSA(key, new FakeCurve()).verify(new ArrayBuffer(32), new ArrayBuffer(64)));
    const zero = Uint8Array.of(0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00);
    const raw = new Uint8Array(65);
    raw[0] = 4;
    raw.set(p256.Point.BASE.toBytes(false).subarray(1), 1);
    equal(new ModdableSignatureVerifier(sdk).verify("ecdsa-p256", raw, new Uint8Array(32), zero), false);
  });

  it("without an Ed25519 helper it says so and refuses Ed25519", () => {
    const v = new ModdableSignatureVerifier(sdk);
    equal(v.supports("ed25519"), false);
    equal(v.supports("ecdsa-p256"), true);
    equal(v.verify("ed25519", new Uint8Array(32), new Uint8Array(32), new Uint8Array(64)), false);
  });
});
