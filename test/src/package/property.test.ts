// Portable fast-check property: arbitrary headers and TLV areas (with correct hashes and trusted key hashes where
// it makes them harder to refuse), in arbitrary chunks, never make the verifier throw or accept, within its bounds.
import fc from "fast-check";
import { TLV, TLV_INFO_MAGIC, TLV_PROT_INFO_MAGIC, writeU16, writeU32 } from "../../../src/package/format.js";
import { equal, ok } from "../../lib/assert.js";
import { digests, fixture, makeVerifier, spkiOf } from "./helpers.js";

const inXs = typeof (globalThis as { process?: unknown }).process === "undefined";
const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env ?? {};

const sha = (bytes: Uint8Array): Uint8Array => {
  const d = digests.create("SHA256");
  d.write(bytes);
  return d.close();
};
const P256_KEYHASH = sha(spkiOf("p256-a.pub.pem"));
const ED25519_KEYHASH = sha(spkiOf("ed25519-a.pub.pem"));

const entryArb = fc.record({
  type: fc.oneof(
    fc.constantFrom(
      TLV.SEC_CNT,
      TLV.VERSION_STRING,
      TLV.SHA256,
      TLV.KEYHASH,
      TLV.PUBKEY,
      TLV.ECDSA_SIG,
      TLV.ED25519,
    ),
    fc.integer({ min: 0, max: 0xffff }),
  ),
  value: fc.uint8Array({ maxLength: 80 }),
  /** A length field that lies about the value, sometimes. */
  lengthDelta: fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: -4, max: 4 })),
});

const areaArb = fc.record({
  magicOk: fc.boolean(),
  sizeDelta: fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: -8, max: 8 })),
  entries: fc.array(entryArb, { maxLength: 6 }),
});

type Area = typeof areaArb extends fc.Arbitrary<infer T> ? T : never;

const packageArb = fc.record({
  magicOk: fc.oneof(fc.constant(true), fc.constant(true), fc.constant(false)),
  headerSize: fc.oneof(fc.constant(32), fc.integer({ min: 0, max: 80 })),
  imageLength: fc.integer({ min: 0, max: 96 }),
  imageSizeDelta: fc.oneof(fc.constant(0), fc.integer({ min: -8, max: 8 })),
  flags: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xfff })),
  version: fc.uint8Array({ minLength: 8, maxLength: 8 }),
  protectedArea: fc.option(areaArb),
  area: areaArb,
  /** Give the package a correct SHA256 TLV and a trusted key hash, so only the signature can stop it. */
  correctHash: fc.boolean(),
  keyHash: fc.constantFrom("p256", "ed25519", "random"),
  signature: fc.uint8Array({ minLength: 0, maxLength: 80 }),
  trailing: fc.uint8Array({ maxLength: 4 }),
  chunks: fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 8 }),
  /** Half the packages keep their structure sound, so the later checks get exercised too. */
  wellFormed: fc.boolean(),
});

type Pkg = typeof packageArb extends fc.Arbitrary<infer T> ? T : never;

const KNOWN = new Set<number>([
  TLV.SEC_CNT,
  TLV.VERSION_STRING,
  TLV.SHA256,
  TLV.KEYHASH,
  TLV.PUBKEY,
  TLV.ECDSA_SIG,
  TLV.ED25519,
]);

/** The well-formed variant: every size and magic right, only unknown TLV types among the random entries. */
function sound(p: Pkg): Pkg {
  if (!p.wellFormed) return p;
  const fix = (a: Area) => ({
    magicOk: true,
    sizeDelta: 0,
    entries: a.entries.filter((e) => !KNOWN.has(e.type)).map((e) => ({ ...e, lengthDelta: 0 })),
  });
  return {
    ...p,
    magicOk: true,
    headerSize: Math.max(32, p.headerSize),
    imageSizeDelta: 0,
    flags: p.flags & 0x1f3,
    protectedArea: p.protectedArea ? fix(p.protectedArea) : null,
    area: fix(p.area),
    trailing: new Uint8Array(0),
  };
}

function encodeArea(area: Area, magic: number, extra: Uint8Array[] = []): Uint8Array {
  const entries: Uint8Array[] = area.entries.map((e) => {
    const out = new Uint8Array(4 + e.value.length);
    writeU16(out, 0, e.type);
    writeU16(out, 2, Math.max(0, e.value.length + e.lengthDelta));
    out.set(e.value, 4);
    return out;
  });
  entries.push(...extra);
  const size = 4 + entries.reduce((n, e) => n + e.length, 0);
  const out = new Uint8Array(size);
  writeU16(out, 0, area.magicOk ? magic : magic ^ 0x100);
  writeU16(out, 2, Math.max(0, size + area.sizeDelta));
  let at = 4;
  for (const e of entries) {
    out.set(e, at);
    at += e.length;
  }
  return out;
}

function tlv(type: number, value: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + value.length);
  writeU16(out, 0, type);
  writeU16(out, 2, value.length);
  out.set(value, 4);
  return out;
}

function build(arbitrary: Pkg): Uint8Array {
  const p = sound(arbitrary);
  const headerSize = Math.max(p.headerSize, 32);
  const prot = p.protectedArea ? encodeArea(p.protectedArea, TLV_PROT_INFO_MAGIC) : new Uint8Array(0);
  const hashed = new Uint8Array(headerSize + p.imageLength + prot.length);
  writeU32(hashed, 0, p.magicOk ? 0x96f3b83d : 0x96f3b83c);
  writeU16(hashed, 8, p.headerSize);
  writeU16(hashed, 10, prot.length);
  writeU32(hashed, 12, Math.max(0, p.imageLength + p.imageSizeDelta));
  writeU32(hashed, 16, p.flags);
  hashed.set(p.version, 20);
  for (let i = headerSize; i < headerSize + p.imageLength; i++) hashed[i] = (i * 7) & 0xff;
  hashed.set(prot, headerSize + p.imageLength);
  const extra: Uint8Array[] = [];
  if (p.correctHash) {
    extra.push(tlv(TLV.SHA256, sha(hashed)));
    const keyHash =
      p.keyHash === "p256" ? P256_KEYHASH : p.keyHash === "ed25519" ? ED25519_KEYHASH : sha(p.signature);
    extra.push(tlv(TLV.KEYHASH, keyHash));
    extra.push(tlv(p.keyHash === "ed25519" ? TLV.ED25519 : TLV.ECDSA_SIG, p.signature));
  }
  const area = encodeArea(p.area, TLV_INFO_MAGIC, extra);
  const out = new Uint8Array(hashed.length + area.length + p.trailing.length);
  out.set(hashed);
  out.set(area, hashed.length);
  out.set(p.trailing, hashed.length + area.length);
  return out;
}

describe("package/verifier property: arbitrary headers and TLV areas", function () {
  this.timeout(inXs ? 600_000 : 60_000);

  it("never throws, never accepts, and keeps at most its fixed buffers", () => {
    const seed = env["PACKAGE_SEED"] !== undefined ? Number(env["PACKAGE_SEED"]) : Date.now() % 0x7fffffff;
    const verifier = makeVerifier(undefined, 4096);
    const reasons: Record<string, number> = {};
    let runs = 0;
    try {
      fc.assert(
        fc.property(packageArb, (p) => {
          const bytes = build(p);
          verifier.begin({ targetVersion: null, minSecurityCounter: 0 });
          let at = 0;
          for (let i = 0; at < bytes.length; i++) {
            const n = p.chunks[i % p.chunks.length]!;
            verifier.write(bytes.subarray(at, at + n));
            at += n;
          }
          const verdict = verifier.finish();
          runs++;
          ok(!verdict.ok, `accepted ${JSON.stringify(verdict)}`);
          reasons[verdict.reason] = (reasons[verdict.reason] ?? 0) + 1;
          ok(verifier.tlvBytes().length <= 1024, "TLV buffer bounded");
          ok(verifier.headerBytes().length === 32, "header buffer fixed");
        }),
        { numRuns: inXs ? 60 : Number(env["PACKAGE_RUNS"] ?? 400), seed },
      );
    } catch (error) {
      throw new Error(
        `seed ${seed} (replay: PACKAGE_SEED=${seed}): ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    if (!inXs) console.log(`      seed ${seed}: ${runs} packages, refusals ${JSON.stringify(reasons)}`);
    // The generator reaches the signature check: hash right, key trusted, signature random.
    ok((reasons["bad-signature"] ?? 0) + (reasons["unknown-key"] ?? 0) > 0 || inXs, JSON.stringify(reasons));
  });

  it("a real package with a random signature of the right shape is refused: bad-signature", () => {
    const bytes = fixture("imgtool-ed25519.bin").slice();
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), (sig) => {
        bytes.set(sig, bytes.length - 64);
        const verifier = makeVerifier();
        verifier.begin({ targetVersion: "2.0.0", minSecurityCounter: 0 });
        verifier.write(bytes);
        const verdict = verifier.finish();
        equal(verdict.ok ? "accepted" : verdict.reason, "bad-signature");
      }),
      { numRuns: inXs ? 3 : 20 },
    );
  });
});
