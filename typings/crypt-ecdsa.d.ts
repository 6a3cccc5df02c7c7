// Moddable `crypt` elliptic-curve modules (modules/crypt/etc/ecdsa.js, curve.js, arith/ecp.js; include
// $(MODULES)/crypt/tls_common.json or name them in the manifest): only what ECDSA verification uses.
declare module "ecp" {
  export default class ECPoint {
    constructor(x: bigint, y: bigint, identity?: boolean);
    readonly X: bigint;
    readonly Y: bigint;
    isZero(): boolean;
    /** An uncompressed SEC1 point (0x04 || X || Y); throws on another format. Does not check the curve. */
    static fromOctetString(os: Uint8Array): ECPoint;
  }
}

declare module "curve" {
  import type ECPoint from "ecp";
  export default class Curve {
    /** "secp256r1" or "secp384r1"; another name leaves the object empty. */
    constructor(name: "secp256r1" | "secp384r1");
    readonly G: ECPoint;
    readonly n: bigint;
    readonly orderSize: number;
  }
}

declare module "ecdsa" {
  import type Curve from "curve";
  import type ECPoint from "ecp";
  export default class ECDSA {
    /** Verification: `key` is the public point and `priv` false. Native arithmetic (arith/ec.c, mont.c). */
    constructor(key: ECPoint | bigint, curve: Curve, priv?: boolean);
    /**
     * `H` is the hash (not hashed again), read big-endian; `sig` is DER when `asn1`, else r || s of
     * `orderSize` bytes each. Checks neither 1 <= r, s < n nor the key's curve: the caller does.
     */
    verify(H: ArrayBuffer, sig: ArrayBuffer, asn1?: boolean): boolean;
  }
}
