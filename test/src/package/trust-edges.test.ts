// Portable edge tests of the key parsing, the trust list and the version rule: every boundary and every message.
import { decodeBase64, parsePublicKeyPem, parseSpki, pemBody, spkiOf } from "../../../src/package/keys.js";
import { TrustList, sameBytes, sha256 } from "../../../src/package/trust.js";
import { isVersionStringByte, parseImageVersion, versionMatches } from "../../../src/package/version.js";
import { deepEqual, equal, throws } from "../../lib/assert.js";
import { publicKeys } from "../../fixtures/signed/fixtures.js";
import { digests, hex, spkiOf as fixtureSpki } from "./helpers.js";

const P256_PEM = publicKeys["p256-a.pub.pem"]!;
const ED25519_PEM = publicKeys["ed25519-a.pub.pem"]!;
const P256_HASH = "1003a33c86bffc213bb071d83415a427db228353ccae2c7dc3e172419392745c";
const ED25519_HASH = "3a1c7412b4157361b2c0bbfebbd203414c7e283f966a68ff516a4bdace360f34";

describe("package/keys: SPKI, PEM and base64 at their edges", () => {
  it("parseSpki keeps its own copies and checks length, prefix and the point's form", () => {
    const der = fixtureSpki("p256-a.pub.pem");
    const key = parseSpki(der)!;
    equal(key.algorithm, "ecdsa-p256");
    equal(key.raw.length, 65);
    const before = hex(key.spki) + hex(key.raw);
    der.fill(0);
    equal(hex(key.spki) + hex(key.raw), before);
    const fresh = fixtureSpki("p256-a.pub.pem");
    equal(parseSpki(fresh.subarray(0, 90)), undefined);
    const longer = new Uint8Array(92);
    longer.set(fresh);
    equal(parseSpki(longer), undefined);
    const compressed = fresh.slice();
    compressed[26] = 0x02;
    equal(parseSpki(compressed), undefined);
    const otherPrefix = fresh.slice();
    otherPrefix[25] = 0x01;
    equal(parseSpki(otherPrefix), undefined);
    otherPrefix[25] = 0x00;
    otherPrefix[0] = 0x31;
    equal(parseSpki(otherPrefix), undefined);
    const ed = fixtureSpki("ed25519-a.pub.pem");
    const edKey = parseSpki(ed)!;
    deepEqual([edKey.algorithm, edKey.raw.length, hex(edKey.spki)], ["ed25519", 32, hex(ed)]);
    ed.fill(0);
    equal(hex(edKey.spki), hex(fixtureSpki("ed25519-a.pub.pem")));
    const edWrong = fixtureSpki("ed25519-a.pub.pem");
    edWrong[11] = 1;
    equal(parseSpki(edWrong), undefined);
    equal(parseSpki(fixtureSpki("ed25519-a.pub.pem").subarray(0, 43)), undefined);
    equal(parseSpki(new Uint8Array(0)), undefined);
    equal(hex(spkiOf("ed25519", edKey.raw)), hex(fixtureSpki("ed25519-a.pub.pem")));
    equal(hex(spkiOf("ecdsa-p256", key.raw)), hex(fixtureSpki("p256-a.pub.pem")));
  });

  it("decodeBase64: whitespace anywhere, padding only at the end, lengths that cannot be", () => {
    equal(hex(decodeBase64("QUI=")!), "4142");
    equal(hex(decodeBase64("QUI")!), "4142");
    equal(hex(decodeBase64("QQ=")!), "41");
    equal(hex(decodeBase64("Q\tU\r\nI  =")!), "4142");
    equal(hex(decodeBase64("+/+/")!), "fbffbf");
    equal(hex(decodeBase64("AAAA")!), "000000");
    equal(hex(decodeBase64("")!), "");
    equal(decodeBase64("QUJDR"), undefined);
    equal(decodeBase64("QQ=A"), undefined);
    equal(decodeBase64("QU-_"), undefined);
    equal(decodeBase64("QUJ."), undefined);
  });

  it("pemBody finds the labelled block, its end after its start", () => {
    const block = (label: string, body: string) =>
      `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
    equal(hex(pemBody(`junk\n${block("X", "QUJD")}`, "X")!), "414243");
    equal(hex(pemBody(block("X", "QUJD") + block("X", "QUI="), "X")!), "414243");
    equal(pemBody(block("X", "QUJD"), "Y"), undefined);
    equal(pemBody("-----BEGIN X-----\nQUJD\n", "X"), undefined);
    equal(pemBody("-----END X-----\n-----BEGIN X-----\nQUJD\n", "X"), undefined);
    equal(hex(pemBody("-----BEGIN X----------END X-----", "X")!), "");
    equal(parsePublicKeyPem(block("PRIVATE KEY", "QUJD")), undefined);
    equal(parsePublicKeyPem(block("PUBLIC KEY", "QUJD")), undefined);
    equal(parsePublicKeyPem(ED25519_PEM)?.algorithm, "ed25519");
  });
});

describe("package/trust: the list's entries, names and errors", () => {
  it("fromKeys names keys by index unless named, and says which key is wrong", () => {
    const list = TrustList.fromKeys(digests, [
      { spki: fixtureSpki("p256-a.pub.pem") },
      { spki: fixtureSpki("ed25519-a.pub.pem"), name: "ed", revoked: false },
    ]);
    deepEqual(
      list.entries.map((e) => [e.name, e.revoked, hex(e.keyHash), e.key?.algorithm]),
      [
        ["key 0", false, P256_HASH, "ecdsa-p256"],
        ["ed", false, ED25519_HASH, "ed25519"],
      ],
    );
    throws(
      () =>
        TrustList.fromKeys(digests, [{ spki: fixtureSpki("p256-a.pub.pem") }, { spki: new Uint8Array(3) }]),
      /^trust list key 1: not a P-256 or Ed25519 public key$/,
    );
    throws(
      () => TrustList.fromKeys(digests, [{ spki: new Uint8Array(3), name: "lab key" }]),
      /^trust list key lab key: not a P-256 or Ed25519 public key$/,
    );
    throws(() => TrustList.fromKeys(digests, [], [new Uint8Array(31)]), /^a revoked key hash has 32 bytes$/);
    throws(() => TrustList.fromKeys(digests, [], [new Uint8Array(33)]), /^a revoked key hash has 32 bytes$/);
  });

  it("a revoked hash marks the listed key, or stands alone as a copy named 'revoked hash'", () => {
    const hash = Uint8Array.from(ED25519_HASH.match(/../g)!, (h) => parseInt(h, 16));
    const other = new Uint8Array(32).fill(7);
    const list = TrustList.fromKeys(
      digests,
      [
        { spki: fixtureSpki("p256-a.pub.pem"), name: "p" },
        { spki: fixtureSpki("ed25519-a.pub.pem"), name: "e" },
      ],
      [hash, other],
    );
    other.fill(0);
    deepEqual(
      list.entries.map((e) => [e.name, e.revoked, hex(e.keyHash), e.key === undefined]),
      [
        ["p", false, P256_HASH, false],
        ["e", true, ED25519_HASH, false],
        ["revoked hash", true, "07".repeat(32), true],
      ],
    );
    deepEqual(list.algorithms(), ["ecdsa-p256"]);
    equal(list.find(hash)?.name, "e");
    equal(list.find(new Uint8Array(32).fill(7))?.name, "revoked hash");
    equal(list.find(new Uint8Array(32)), undefined);
    equal(list.find(hash.subarray(0, 31)), undefined);
    // A revoked key stays listed, the same list object does not change with its input.
    const input = [{ keyHash: hash, revoked: false, name: "x" }];
    const direct = new TrustList(input);
    input.push({ keyHash: other, revoked: false, name: "y" });
    equal(direct.entries.length, 1);
  });

  it("fromConfig: PEM keys named from 1, revocations as PEM or 64 hex digits (any case, spaces around)", () => {
    const list = TrustList.fromConfig(
      digests,
      [P256_PEM, ED25519_PEM, P256_PEM],
      [` ${ED25519_HASH.toUpperCase()}\n`],
    );
    deepEqual(
      list.entries.map((e) => [e.name, e.revoked]),
      [
        ["key 1", false],
        ["key 2", true],
        ["key 3", false],
      ],
    );
    deepEqual(list.algorithms(), ["ecdsa-p256"]);
    const withPem = TrustList.fromConfig(digests, [], [ED25519_PEM]);
    deepEqual(
      withPem.entries.map((e) => [e.name, e.revoked, hex(e.keyHash)]),
      [["revoked hash", true, ED25519_HASH]],
    );
    throws(
      () => TrustList.fromConfig(digests, [P256_PEM, "x"]),
      /^trusted key 2: not a PEM P-256 or Ed25519 public key$/,
    );
    throws(
      () => TrustList.fromConfig(digests, [], [ED25519_HASH, ED25519_HASH.slice(1)]),
      /^revoked key 2: not a PEM P-256 or Ed25519 public key$/,
    );
    throws(() => TrustList.fromConfig(digests, [], [`${ED25519_HASH}0`]), /^revoked key 1: not a PEM/);
    throws(() => TrustList.fromConfig(digests, [], [`x${ED25519_HASH}`]), /^revoked key 1: not a PEM/);
    throws(() => TrustList.fromConfig(digests, [], [`${"g".repeat(64)}`]), /^revoked key 1: not a PEM/);
  });

  it("sameBytes compares lengths and every byte; sha256 is the port's", () => {
    equal(sameBytes(Uint8Array.of(1, 2), Uint8Array.of(1, 2)), true);
    equal(sameBytes(Uint8Array.of(1, 2), Uint8Array.of(1, 3)), false);
    equal(sameBytes(Uint8Array.of(0, 2), Uint8Array.of(1, 2)), false);
    equal(sameBytes(Uint8Array.of(1), Uint8Array.of(1, 0)), false);
    equal(sameBytes(new Uint8Array(0), new Uint8Array(0)), true);
    equal(
      hex(sha256(digests, new TextEncoder().encode("abc"))),
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
  });
});

describe("package/version: imgtool's grammar and the matching rule at their edges", () => {
  it("fields: digits only, no leading zero, at most 10 digits, within the width", () => {
    for (const good of ["0", "9", "10", "0.0.0+0", "1.0", "4.5.6", "1.2.3+0", "1.2.3+4000000000"])
      equal(parseImageVersion(good) !== undefined, true, good);
    for (const bad of [
      "/",
      ":",
      "1/",
      "1:",
      "a",
      "1.2.3+",
      "+1",
      "1+2",
      "1.2.3+01",
      "00",
      "1.2.3+12345678901",
      "1.2.3+4294967296",
      "1.",
      ".1",
      "1.2.",
    ])
      equal(parseImageVersion(bad), undefined, bad);
    deepEqual(parseImageVersion("7.8"), { major: 7, minor: 8, revision: 0, build: 0 });
    deepEqual(parseImageVersion("1.2.3+45"), { major: 1, minor: 2, revision: 3, build: 45 });
    deepEqual(parseImageVersion("255.0.65535"), { major: 255, minor: 0, revision: 65535, build: 0 });
    equal(parseImageVersion("1.2.3+0000000001"), undefined);
  });

  it("version string bytes: printable ASCII without the space", () => {
    deepEqual([0x00, 0x20, 0x21, 0x41, 0x7e, 0x7f, 0x80, 0xff].map(isVersionStringByte), [
      false,
      false,
      true,
      true,
      true,
      false,
      false,
      false,
    ]);
  });

  it("versionMatches: the string exactly when signed, else every field of the header", () => {
    const header = { major: 2, minor: 1, revision: 3, build: 4 };
    equal(versionMatches("V2", header, "V2"), true);
    equal(versionMatches("2.1.3+4", header, "V2"), false);
    equal(versionMatches("v2", header, "V2"), false);
    equal(versionMatches("2.1.3+4", header, undefined), true);
    for (const other of ["3.1.3+4", "2.2.3+4", "2.1.4+4", "2.1.3+5", "2.1.3", "V2", ""])
      equal(versionMatches(other, header, undefined), false, other);
    equal(versionMatches("2", { major: 2, minor: 0, revision: 0, build: 0 }, undefined), true);
  });
});

describe("package/keys: a PEM end without its begin", () => {
  it("is no block, wherever the end lies", () => {
    equal(pemBody(`${"A".repeat(20)}-----END X-----`, "X"), undefined);
    equal(pemBody("QUJD-----END X-----", "X"), undefined);
  });
});
