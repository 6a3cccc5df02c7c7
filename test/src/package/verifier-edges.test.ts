// Portable tests of every refusal of the package verifier with its exact reason and detail, on small packages laid
// out here byte by byte (signed with the test Ed25519 key where a verified signature must come first).
import { ed25519 } from "@noble/curves/ed25519.js";
import {
  IMAGE_FLAGS,
  IMAGE_MAGIC,
  TLV,
  TLV_INFO_MAGIC,
  TLV_NAMES,
  TLV_PROT_INFO_MAGIC,
  UNSUPPORTED_FLAGS,
  parseHeader,
  walkTlvArea,
  writeU16,
  writeU32,
} from "../../../src/package/format.js";
import { decodeBase64 } from "../../../src/package/keys.js";
import { TrustList, sha256 } from "../../../src/package/trust.js";
import { PackageVerifier, type Expectation, type Verdict } from "../../../src/package/verifier.js";
import { deepEqual, equal, throws } from "../../lib/assert.js";
import { digests, fixture, hex, signatures, spkiOf, testTrust, verifyBytes } from "./helpers.js";

const any: Expectation = { targetVersion: null, minSecurityCounter: 0 };
// test/fixtures/signed/ed25519-a.pem: its PKCS#8 DER ends with the 32-byte seed.
const ED25519_SEED = decodeBase64("MC4CAQAwBQYDK2VwBCIEIPAzMsTU3I4Hi0/r+74nZw9wyJQoAV01F1KRWayc17m/")!.slice(
  -32,
);
const ED25519_HASH = sha256(digests, spkiOf("ed25519-a.pub.pem"));
const P256_HASH = sha256(digests, spkiOf("p256-a.pub.pem"));
const REVOKED_HASH = sha256(digests, spkiOf("p256-revoked.pub.pem"));
const STRANGER_HASH = sha256(digests, spkiOf("p256-stranger.pub.pem"));

function tlv(type: number, value: Uint8Array | number[], declared = value.length): Uint8Array {
  const out = new Uint8Array(4 + value.length);
  writeU16(out, 0, type);
  writeU16(out, 2, declared);
  out.set(value, 4);
  return out;
}

function area(magic: number, entries: Uint8Array[], sizeDelta = 0): Uint8Array {
  const size = 4 + entries.reduce((n, e) => n + e.length, 0);
  const out = new Uint8Array(size);
  writeU16(out, 0, magic);
  writeU16(out, 2, size + sizeDelta);
  let at = 4;
  for (const e of entries) {
    out.set(e, at);
    at += e.length;
  }
  return out;
}

const u32 = (value: number): Uint8Array => {
  const out = new Uint8Array(4);
  writeU32(out, 0, value);
  return out;
};
const ascii = (text: string): number[] => Array.from(text, (c) => c.charCodeAt(0));

interface Layout {
  headerSize?: number;
  imageSize?: number;
  flags?: number;
  magic?: number;
  version?: [number, number, number, number];
  /** Protected TLV entries (an area is written when given). */
  protectedEntries?: Uint8Array[];
  protectedMagic?: number;
  /** Unprotected entries after the SHA256 TLV; given the digest so signatures can sign it. */
  entries?: (digest: Uint8Array) => Uint8Array[];
  /** Leave the SHA256 TLV out, or give it these bytes. */
  hash?: "none" | "wrong";
  areaMagic?: number;
  areaSizeDelta?: number;
  trailing?: number;
}

/** A package laid out as imgtool does: header, image body, protected TLVs, TLVs; its SHA256 TLV right unless told. */
function build(layout: Layout = {}): Uint8Array {
  const headerSize = layout.headerSize ?? 32;
  const imageSize = layout.imageSize ?? 16;
  const prot = layout.protectedEntries
    ? area(layout.protectedMagic ?? TLV_PROT_INFO_MAGIC, layout.protectedEntries)
    : new Uint8Array(0);
  const signed = new Uint8Array(headerSize + imageSize + prot.length);
  writeU32(signed, 0, layout.magic ?? IMAGE_MAGIC);
  writeU16(signed, 8, headerSize);
  writeU16(signed, 10, prot.length);
  writeU32(signed, 12, imageSize);
  writeU32(signed, 16, layout.flags ?? 0);
  const [major, minor, revision, buildNumber] = layout.version ?? [2, 0, 0, 0];
  signed[20] = major;
  signed[21] = minor;
  writeU16(signed, 22, revision);
  writeU32(signed, 24, buildNumber);
  for (let i = 0; i < imageSize; i++) signed[headerSize + i] = (i * 7 + 3) & 0xff;
  signed.set(prot, headerSize + imageSize);
  const digest = sha256(digests, signed);
  const hashEntry =
    layout.hash === "none"
      ? []
      : [tlv(TLV.SHA256, layout.hash === "wrong" ? digest.map((b) => b ^ 1) : digest)];
  const unprotected = area(
    layout.areaMagic ?? TLV_INFO_MAGIC,
    [...hashEntry, ...(layout.entries?.(digest) ?? [])],
    layout.areaSizeDelta ?? 0,
  );
  const out = new Uint8Array(signed.length + unprotected.length + (layout.trailing ?? 0));
  out.set(signed);
  out.set(unprotected, signed.length);
  return out;
}

const signedBy = (digest: Uint8Array): Uint8Array[] => [
  tlv(TLV.KEYHASH, ED25519_HASH),
  tlv(TLV.ED25519, ed25519.sign(digest, ED25519_SEED)),
];

function verdictOf(bytes: Uint8Array, expect = any, verifier?: PackageVerifier, chunk = 5): Verdict {
  return verifyBytes(bytes, expect, { chunk, ...(verifier ? { verifier } : {}) });
}

function refusal(bytes: Uint8Array, expect = any, verifier?: PackageVerifier, chunk = 5): string {
  const verdict = verdictOf(bytes, expect, verifier, chunk);
  return verdict.ok ? "accepted" : `${verdict.reason}: ${verdict.detail}`;
}

const verifier = (options: Partial<ConstructorParameters<typeof PackageVerifier>[0]> = {}) =>
  new PackageVerifier({ digests, signatures, trust: testTrust(), maxImageSize: 64, ...options });

describe("package/verifier: every refusal, exactly", () => {
  it("a laid-out package signed by ed25519-a is accepted with its exact verdict, in any chunking", () => {
    const bytes = build({ version: [1, 2, 3, 4], entries: signedBy });
    for (const chunk of [1, 3, 32, 47, 48, 49, bytes.length]) {
      const verdict = verdictOf(bytes, { targetVersion: "1.2.3+4", minSecurityCounter: 0 }, undefined, chunk);
      deepEqual(
        verdict.ok ? { ...verdict, keyHash: hex(verdict.keyHash) } : verdict,
        {
          ok: true,
          version: { major: 1, minor: 2, revision: 3, build: 4 },
          versionString: undefined,
          securityCounter: 0,
          keyHash: hex(ED25519_HASH),
          imageOffset: 32,
          imageSize: 16,
        },
        `chunk ${chunk}`,
      );
    }
  });

  it("write() and finish() before begin() throw, naming the call", () => {
    const v = verifier();
    throws(() => v.write(new Uint8Array(1)), /^PackageVerifier\.write\(\) before begin\(\)$/);
    throws(() => v.finish(), /^PackageVerifier\.finish\(\) before begin\(\)$/);
    v.begin(any);
    v.finish();
    throws(() => v.finish(), /^PackageVerifier\.finish\(\) before begin\(\)$/);
  });

  it("a bad header is refused at its 32nd byte, saying what is wrong", () => {
    const cases: [Layout, string, Partial<ConstructorParameters<typeof PackageVerifier>[0]>?][] = [
      [{ magic: 0x96f3b83c }, "bad magic 0x96f3b83c"],
      [{ headerSize: 31 }, "header size 31"],
      [{ headerSize: 0x1001 }, "header size 4097"],
      [{ headerSize: 0x41 }, "header size 65", { maxHeaderSize: 0x40 }],
      [{ imageSize: 65 }, "image size 65 larger than the slot's 64"],
      [{ flags: IMAGE_FLAGS.ENCRYPTED_AES128 }, "unsupported flags 0x4 (encrypted or compressed)"],
      [{ flags: IMAGE_FLAGS.COMPRESSED_ARM_THUMB | 1 }, "unsupported flags 0x801 (encrypted or compressed)"],
    ];
    for (const [layout, detail, options] of cases)
      equal(refusal(build(layout), any, verifier(options)), `malformed-header: ${detail}`, detail);
    // The header's protected size field alone: below the info header, or beyond the TLV buffer (default 1024).
    for (const [prot, tlvBytes, detail] of [
      [3, undefined, "protected TLV size 3"],
      [1021, undefined, "protected TLV size 1021"],
      [61, 64, "protected TLV size 61"],
    ] as const) {
      const bytes = build();
      writeU16(bytes, 10, prot);
      equal(
        refusal(bytes, any, verifier(tlvBytes ? { maxTlvBytes: tlvBytes } : {})),
        `malformed-header: ${detail}`,
      );
    }
    // The limits themselves are accepted.
    for (const [prot, tlvBytes] of [
      [4, undefined],
      [1020, undefined],
      [60, 64],
    ] as const) {
      const header = build().subarray(0, 32).slice();
      writeU16(header, 10, prot);
      const v = verifier(tlvBytes ? { maxTlvBytes: tlvBytes } : {});
      v.begin(any);
      v.write(header);
      equal(v.header?.protectedTlvSize, prot);
    }
    equal(
      refusal(build({ headerSize: 0x1000, imageSize: 64 }), any, verifier()),
      "unsigned: no signature TLV with a key hash before it",
    );
    equal(
      refusal(build({ headerSize: 0x40 }), any, verifier({ maxHeaderSize: 0x40 })),
      "unsigned: no signature TLV with a key hash before it",
    );
  });

  it("flags other than encryption and compression are accepted; UNSUPPORTED_FLAGS is exactly those", () => {
    equal(UNSUPPORTED_FLAGS, 0xe0c);
    for (const flag of [
      IMAGE_FLAGS.PIC,
      IMAGE_FLAGS.NON_BOOTABLE,
      IMAGE_FLAGS.RAM_LOAD,
      IMAGE_FLAGS.ROM_FIXED,
    ])
      equal(refusal(build({ flags: flag, entries: signedBy })), "accepted", `flag ${flag}`);
    for (const flag of [0x4, 0x8, 0x200, 0x400, 0x800])
      equal(
        refusal(build({ flags: flag })),
        `malformed-header: unsupported flags 0x${flag.toString(16)} (encrypted or compressed)`,
      );
  });

  it("a package that ends early says where", () => {
    const bytes = build({ entries: signedBy });
    equal(refusal(bytes.subarray(0, 0)), "malformed-header: package of 0 bytes ends inside the header");
    equal(refusal(bytes.subarray(0, 31)), "malformed-header: package of 31 bytes ends inside the header");
    equal(
      refusal(bytes.subarray(0, 48)),
      "malformed-header: package of 48 bytes ends before its TLV area does",
    );
    equal(
      refusal(bytes.subarray(0, 51)),
      "malformed-header: package of 51 bytes ends before its TLV area does",
    );
    equal(
      refusal(bytes.subarray(0, bytes.length - 1)),
      `malformed-header: package of ${bytes.length - 1} bytes ends before its TLV area does`,
    );
  });

  it("the TLV areas are bounded: bytes after the end, an area larger than the buffer, no TLV info", () => {
    const bytes = build({ entries: signedBy, trailing: 1 });
    const end = bytes.length - 1;
    equal(refusal(bytes), `malformed-header: bytes after the TLV area's end at offset ${end}`);
    equal(
      refusal(bytes, any, undefined, bytes.length),
      `malformed-header: bytes after the TLV area's end at offset ${end}`,
    );
    // The unprotected area claims more than the buffer holds: refused at its info header.
    const big = build({ entries: signedBy });
    writeU16(big, 48 + 2, 65);
    equal(
      refusal(big, any, verifier({ maxTlvBytes: 64 })),
      "malformed-header: TLV areas larger than 64 bytes",
    );
    writeU16(big, 48 + 2, 64);
    equal(
      refusal(big, any, verifier({ maxTlvBytes: 64 })),
      "malformed-header: bytes after the TLV area's end at offset 112",
    );
    // An area whose size is right but does not fit the buffer, byte by byte.
    const long = build({ entries: (d) => [...signedBy(d), tlv(0x7777, new Uint8Array(40))] });
    equal(
      refusal(long, any, verifier({ maxTlvBytes: 150 })),
      "malformed-header: TLV areas larger than 150 bytes",
    );
    equal(refusal(long, any, verifier({ maxTlvBytes: long.length - 48 })), "accepted");
    equal(
      refusal(long, any, verifier({ maxTlvBytes: long.length - 49 })),
      `malformed-header: TLV areas larger than ${long.length - 49} bytes`,
    );
    const noInfo = "malformed-header: no TLV area (magic 0x6907) after the image and protected TLVs";
    equal(refusal(build({ areaMagic: TLV_PROT_INFO_MAGIC })), noInfo);
    const small = build({ hash: "none" });
    writeU16(small, 50, 3);
    equal(refusal(small), noInfo);
    writeU16(small, 50, 4);
    equal(refusal(small), "bad-hash: no SHA256 TLV");
  });

  it("protected TLVs: one 4-byte counter and one printable version string of 1-64 bytes", () => {
    const cases: [Uint8Array[], string][] = [
      [[tlv(TLV.SEC_CNT, u32(1)), tlv(TLV.SEC_CNT, u32(1))], "bad SEC_CNT TLV"],
      [[tlv(TLV.SEC_CNT, [1, 0, 0])], "bad SEC_CNT TLV"],
      [[tlv(TLV.SEC_CNT, [1, 0, 0, 0, 0])], "bad SEC_CNT TLV"],
      [[tlv(TLV.VERSION_STRING, [])], "bad version string TLV"],
      [[tlv(TLV.VERSION_STRING, ascii("x".repeat(65)))], "bad version string TLV"],
      [
        [tlv(TLV.VERSION_STRING, ascii("V1")), tlv(TLV.VERSION_STRING, ascii("V1"))],
        "bad version string TLV",
      ],
      [[tlv(TLV.VERSION_STRING, ascii("V 1"))], "bad version string TLV"],
      [[tlv(TLV.VERSION_STRING, [0x56, 0x7f])], "bad version string TLV"],
      [[tlv(TLV.VERSION_STRING, [0x56, 0x20])], "bad version string TLV"],
      [[tlv(0x7777, [1, 2], 3)], "malformed protected TLV area"],
    ];
    for (const [protectedEntries, detail] of cases)
      equal(refusal(build({ protectedEntries, entries: signedBy })), `malformed-header: ${detail}`, detail);
    equal(
      refusal(build({ protectedEntries: [], protectedMagic: TLV_INFO_MAGIC, entries: signedBy })),
      "malformed-header: malformed protected TLV area",
    );
    // The edges that pass: 64 bytes of '!' and '~', a counter of 2^32-1, an empty protected area.
    const edge = "!~".repeat(32);
    const verdict = verdictOf(
      build({
        protectedEntries: [tlv(TLV.VERSION_STRING, ascii(edge)), tlv(TLV.SEC_CNT, u32(0xffffffff))],
        entries: signedBy,
      }),
      { targetVersion: edge, minSecurityCounter: 0xffffffff },
    );
    equal(verdict.ok && `${verdict.versionString} ${verdict.securityCounter}`, `${edge} 4294967295`);
    equal(refusal(build({ protectedEntries: [], entries: signedBy })), "accepted");
  });

  it("unprotected TLVs: one 32-byte SHA256, 32-byte key hashes, at most 4 signatures", () => {
    const sig = (d: Uint8Array) => signedBy(d);
    const cases: [Layout, string][] = [
      [{ entries: (d) => [tlv(TLV.SHA256, d), ...sig(d)] }, "malformed-header: bad SHA256 TLV"],
      [
        { hash: "none", entries: (d) => [tlv(TLV.SHA256, d.subarray(0, 31)), ...sig(d)] },
        "malformed-header: bad SHA256 TLV",
      ],
      [
        { entries: (d) => [tlv(TLV.KEYHASH, ED25519_HASH.subarray(0, 31)), ...sig(d)] },
        "malformed-header: bad KEYHASH TLV",
      ],
      [{ entries: () => [tlv(0x7777, [1], 2)] }, "malformed-header: malformed TLV area"],
      [{ areaSizeDelta: 1 }, "malformed-header: package of 88 bytes ends before its TLV area does"],
      [{ hash: "none", entries: sig }, "bad-hash: no SHA256 TLV"],
      [
        { hash: "wrong", entries: sig },
        "bad-hash: the SHA-256 of header, image and protected TLVs differs from the SHA256 TLV",
      ],
      [{}, "unsigned: no signature TLV with a key hash before it"],
      [{ entries: (d) => [sig(d)[1]!, sig(d)[0]!] }, "unsigned: no signature TLV with a key hash before it"],
      [
        { entries: () => [tlv(TLV.KEYHASH, ED25519_HASH), tlv(0x20, new Uint8Array(8))] },
        "unsigned: no signature TLV with a key hash before it",
      ],
    ];
    for (const [layout, expected] of cases) equal(refusal(build(layout)), expected, expected);
    const pairs = (n: number) => (d: Uint8Array) => {
      const out: Uint8Array[] = [];
      for (let i = 0; i < n - 1; i++)
        out.push(tlv(TLV.KEYHASH, STRANGER_HASH), tlv(TLV.ECDSA_SIG, [0x30, 0]));
      return [...out, ...signedBy(d)];
    };
    equal(refusal(build({ entries: pairs(4) })), "accepted");
    equal(refusal(build({ entries: pairs(5) })), "malformed-header: more than 4 signatures");
  });

  it("keys: unknown, revoked (by key or by hash only), of the other algorithm, unsupported, or not verifying", () => {
    const pair = (hash: Uint8Array, type: number, sig: Uint8Array | number[]) => () => [
      tlv(TLV.KEYHASH, hash),
      tlv(type, sig),
    ];
    equal(
      refusal(build({ entries: pair(STRANGER_HASH, TLV.ECDSA_SIG, [0x30, 0]) })),
      `unknown-key: key ${hex(STRANGER_HASH)} is not in the trust list`,
    );
    equal(
      refusal(build({ entries: pair(REVOKED_HASH, TLV.ECDSA_SIG, [0x30, 0]) })),
      `revoked-key: key p256-revoked (${hex(REVOKED_HASH)}) is revoked`,
    );
    const hashOnly = new PackageVerifier({
      digests,
      signatures,
      maxImageSize: 64,
      trust: TrustList.fromKeys(digests, [], [ED25519_HASH]),
    });
    equal(
      refusal(build({ entries: signedBy }), any, hashOnly),
      `revoked-key: key revoked hash (${hex(ED25519_HASH)}) is revoked`,
    );
    equal(
      refusal(build({ entries: pair(P256_HASH, TLV.ED25519, new Uint8Array(64)) })),
      "bad-signature: key p256-a is ecdsa-p256, the signature TLV is 0x24",
    );
    equal(
      refusal(
        build({
          entries: (d) => [tlv(TLV.KEYHASH, ED25519_HASH), tlv(TLV.ECDSA_SIG, ed25519.sign(d, ED25519_SEED))],
        }),
      ),
      "bad-signature: key ed25519-a is ed25519, the signature TLV is 0x22",
    );
    equal(
      refusal(build({ entries: pair(P256_HASH, TLV.ECDSA_SIG, [0x30, 0]) })),
      "bad-signature: the ecdsa-p256 signature by key p256-a does not verify",
    );
    const p256Only = new PackageVerifier({
      digests,
      maxImageSize: 64,
      trust: testTrust(),
      signatures: { supports: (a) => a === "ecdsa-p256", verify: signatures.verify.bind(signatures) },
    });
    equal(
      refusal(build({ entries: signedBy }), any, p256Only),
      "bad-signature: this device cannot check ed25519 signatures",
    );
  });

  it("among several signatures, the first that verifies decides; else the worst refusal is told", () => {
    const unknown = [tlv(TLV.KEYHASH, STRANGER_HASH), tlv(TLV.ECDSA_SIG, [0x30, 0])];
    const revoked = [tlv(TLV.KEYHASH, REVOKED_HASH), tlv(TLV.ECDSA_SIG, [0x30, 0])];
    const badSig = [tlv(TLV.KEYHASH, P256_HASH), tlv(TLV.ECDSA_SIG, [0x30, 0])];
    const unknownText = `unknown-key: key ${hex(STRANGER_HASH)} is not in the trust list`;
    const revokedText = `revoked-key: key p256-revoked (${hex(REVOKED_HASH)}) is revoked`;
    const badText = "bad-signature: the ecdsa-p256 signature by key p256-a does not verify";
    const orders: [Uint8Array[], string][] = [
      [[...unknown, ...revoked], revokedText],
      [[...revoked, ...unknown], revokedText],
      [[...badSig, ...revoked, ...unknown], badText],
      [[...unknown, ...badSig], badText],
      [[...unknown, ...revoked, ...badSig], badText],
      [[...unknown, ...unknown], unknownText],
    ];
    for (const [entries, expected] of orders) equal(refusal(build({ entries: () => entries })), expected);
    equal(refusal(build({ entries: (d) => [...badSig, ...unknown, ...signedBy(d)] })), "accepted");
    // A signature after a PUBKEY uses that key, hashed.
    const pubkey = spkiOf("ed25519-a.pub.pem");
    const viaPubkey = verdictOf(
      build({ entries: (d) => [tlv(TLV.PUBKEY, pubkey), tlv(TLV.ED25519, ed25519.sign(d, ED25519_SEED))] }),
    );
    equal(viaPubkey.ok && hex(viaPubkey.keyHash), hex(ED25519_HASH));
    // The key named last before a signature is the one used.
    equal(
      refusal(
        build({
          entries: (d) => [tlv(TLV.KEYHASH, STRANGER_HASH), tlv(TLV.KEYHASH, ED25519_HASH), signedBy(d)[1]!],
        }),
      ),
      "accepted",
    );
  });

  it("the target version and the security counter are judged after the signature, with exact details", () => {
    const plain = build({
      version: [2, 1, 3, 9],
      protectedEntries: [tlv(TLV.SEC_CNT, u32(7))],
      entries: signedBy,
    });
    equal(
      refusal(plain, { targetVersion: "2.1.3", minSecurityCounter: 0 }),
      'version-mismatch: the package is signed as 2.1.3+9, the plan\'s target is "2.1.3"',
    );
    equal(refusal(plain, { targetVersion: "2.1.3+9", minSecurityCounter: 7 }), "accepted");
    equal(
      refusal(plain, { targetVersion: null, minSecurityCounter: 8 }),
      "rollback: security counter 7 is below the stored 8",
    );
    const named = build({ protectedEntries: [tlv(TLV.VERSION_STRING, ascii("V2_0"))], entries: signedBy });
    equal(
      refusal(named, { targetVersion: "2.0.0", minSecurityCounter: 0 }),
      'version-mismatch: the package is signed as version string "V2_0", the plan\'s target is "2.0.0"',
    );
    equal(
      refusal(named, { targetVersion: null, minSecurityCounter: 1 }),
      "rollback: security counter 0 is below the stored 1",
    );
    // The version is judged before the counter.
    equal(
      refusal(plain, { targetVersion: "3", minSecurityCounter: 8 }),
      'version-mismatch: the package is signed as 2.1.3+9, the plan\'s target is "3"',
    );
  });

  it("a verifier reused after a refusal judges the next package afresh; its header and TLV bytes are the last package's", () => {
    const v = verifier();
    equal(refusal(build({ magic: 1 }), any, v), "malformed-header: bad magic 0x1");
    equal(v.header, undefined);
    const good = build({ entries: signedBy });
    equal(refusal(good, any, v, 7), "accepted");
    equal(v.offset, good.length);
    equal(hex(v.headerBytes()), hex(good.subarray(0, 32)));
    equal(hex(v.tlvBytes()), hex(good.subarray(48)));
    v.begin(any);
    equal(v.offset, 0);
    equal(v.header, undefined);
    equal(hex(v.headerBytes()), "00".repeat(32));
    equal(v.tlvBytes().length, 0);
    v.write(new Uint8Array(0));
    equal(v.offset, 0);
  });

  it("after a fault, write() takes nothing more and the offset stays where the fault was", () => {
    const v = verifier();
    const bytes = build({ entries: signedBy, trailing: 3 });
    v.begin(any);
    v.write(bytes.subarray(0, bytes.length - 2));
    equal(v.offset, bytes.length - 3);
    v.write(bytes.subarray(bytes.length - 2));
    equal(v.offset, bytes.length - 3);
    equal(
      refusal(bytes, any, v),
      `malformed-header: bytes after the TLV area's end at offset ${bytes.length - 3}`,
    );
  });

  it("format: parseHeader's limits and walkTlvArea's bounds", () => {
    const limits = { maxImageSize: 16, maxHeaderSize: 32, maxProtectedTlvSize: 8 };
    const header = build().subarray(0, 32).slice();
    deepEqual(parseHeader(header, limits), {
      loadAddress: 0,
      headerSize: 32,
      protectedTlvSize: 0,
      imageSize: 16,
      flags: 0,
      version: { major: 2, minor: 0, revision: 0, build: 0 },
    });
    equal(parseHeader(header.subarray(0, 31), limits), undefined);
    writeU16(header, 10, 8);
    equal(parseHeader(header, limits)?.protectedTlvSize, 8);
    writeU16(header, 10, 9);
    equal(parseHeader(header, limits), undefined);
    const areaBytes = area(TLV_INFO_MAGIC, [tlv(1, [9])]);
    const seen: number[] = [];
    const visit = (type: number, at: number, length: number) => (seen.push(type, at, length), true);
    equal(walkTlvArea(areaBytes, 0, 9, TLV_INFO_MAGIC, visit), true);
    deepEqual(seen, [1, 8, 1]);
    equal(walkTlvArea(areaBytes, -1, 9, TLV_INFO_MAGIC, visit), false);
    equal(walkTlvArea(areaBytes, 0, 3, TLV_INFO_MAGIC, visit), false);
    equal(walkTlvArea(areaBytes, 1, 9, TLV_INFO_MAGIC, visit), false);
    equal(
      walkTlvArea(areaBytes, 0, 9, TLV_INFO_MAGIC, () => false),
      false,
    );
    equal(walkTlvArea(area(TLV_INFO_MAGIC, [new Uint8Array(3)]), 0, 7, TLV_INFO_MAGIC, visit), false);
  });

  it("TLV names are MCUboot's (bootutil/image.h), for the tools that print a package", () => {
    deepEqual(TLV_NAMES, {
      0x01: "KEYHASH",
      0x02: "PUBKEY",
      0x10: "SHA256",
      0x11: "SHA384",
      0x12: "SHA512",
      0x20: "RSA2048",
      0x22: "ECDSASIG",
      0x23: "RSA3072",
      0x24: "ED25519",
      0x25: "SIG_PURE",
      0x30: "ENCRSA2048",
      0x31: "ENCKW",
      0x32: "ENCEC256",
      0x33: "ENCX25519",
      0x40: "DEPENDENCY",
      0x50: "SEC_CNT",
      0x60: "BOOT_RECORD",
      0x70: "DECOMP_SIZE",
      0x71: "DECOMP_SHA",
      0x72: "DECOMP_SIGNATURE",
      0x73: "COMP_DEC_SIZE",
      0x74: "UUID_VID",
      0x75: "UUID_CID",
      0x5651: "VERSION_STRING",
    });
    equal(hex(fixture("imgtool-p256.bin").subarray(0, 4)), "3db8f396");
  });
});

describe("package/verifier: where a refusal stops reading, and what it names", () => {
  it("an unknown protected TLV is skipped, not read as a version string", () => {
    const verdict = verdictOf(build({ protectedEntries: [tlv(0x7777, ascii("AB"))], entries: signedBy }));
    equal(verdict.ok && verdict.versionString, undefined);
  });

  it("a refusal at the TLV info header stops the reading there", () => {
    const v = verifier({ maxTlvBytes: 64 });
    const big = build({ entries: signedBy });
    writeU16(big, 50, 65);
    equal(refusal(big, any, v, big.length), "malformed-header: TLV areas larger than 64 bytes");
    equal(v.offset, 51);
    const noArea = build({ areaMagic: TLV_PROT_INFO_MAGIC });
    equal(
      refusal(noArea, any, v, noArea.length),
      "malformed-header: no TLV area (magic 0x6907) after the image and protected TLVs",
    );
    equal(v.offset, 51);
    // A TLV buffer smaller than an info header refuses at its last byte.
    const tiny = verifier({ maxTlvBytes: 2 });
    equal(refusal(build(), any, tiny, 200), "malformed-header: TLV areas larger than 2 bytes");
    equal(tiny.offset, 50);
  });

  it("after a refused header, later bytes are not taken: the header bytes stay the refused ones", () => {
    const v = verifier();
    v.begin(any);
    const bad = build({ magic: 5 }).subarray(0, 32);
    v.write(bad);
    v.write(build().subarray(0, 32));
    equal(hex(v.headerBytes()), hex(bad));
    equal(v.offset, 0);
    equal(v.header, undefined);
  });

  it("of several unknown keys the first is named", () => {
    const other = new Uint8Array(32).fill(0xab);
    const entries = () => [
      tlv(TLV.KEYHASH, STRANGER_HASH),
      tlv(TLV.ECDSA_SIG, [0x30, 0]),
      tlv(TLV.KEYHASH, other),
      tlv(TLV.ECDSA_SIG, [0x30, 0]),
    ];
    equal(refusal(build({ entries })), `unknown-key: key ${hex(STRANGER_HASH)} is not in the trust list`);
  });

  it("a bad header names its first fault, each limit itself being fine", () => {
    const cases: [Layout, number, string][] = [
      [{ headerSize: 0x1000, imageSize: 65 }, 0, "image size 65 larger than the slot's 64"],
      [{ imageSize: 64, flags: 4 }, 0, "unsupported flags 0x4 (encrypted or compressed)"],
      [{ flags: 4 }, 4, "unsupported flags 0x4 (encrypted or compressed)"],
      [{ flags: 4 }, 1020, "unsupported flags 0x4 (encrypted or compressed)"],
    ];
    for (const [layout, prot, detail] of cases) {
      const bytes = build(layout);
      writeU16(bytes, 10, prot);
      equal(refusal(bytes, any, verifier()), `malformed-header: ${detail}`, detail);
    }
  });

  it("walkTlvArea: inside the buffer, the size the area says, from a start that exists", () => {
    const visit = () => true;
    const one = area(TLV_INFO_MAGIC, [tlv(1, [9])]);
    equal(walkTlvArea(one.subarray(0, 8), 0, 9, TLV_INFO_MAGIC, visit), false);
    equal(walkTlvArea(Uint8Array.of(0x07, 0x69, 3, 0), 0, 3, TLV_INFO_MAGIC, visit), false);
    equal(walkTlvArea(Uint8Array.of(0x07, 4, 0), -1, 4, 0x0700, visit), false);
    equal(walkTlvArea(area(TLV_INFO_MAGIC, [tlv(1, [])]), 0, 4, TLV_INFO_MAGIC, visit), false);
    equal(walkTlvArea(area(TLV_INFO_MAGIC, [tlv(1, [])]), 0, 8, TLV_INFO_MAGIC, visit), true);
  });
});
