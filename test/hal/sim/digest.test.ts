// Portable tests of the pure-JS digests: published vectors, and streaming in any chunking equals one shot.
import fc from "fast-check";
import { md5 } from "@noble/hashes/legacy.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { toHex } from "../../../hal/digest.js";
import { NobleDigestFactory } from "../../../hal/sim/digest.js";
import { bytesEqual, equal, throws } from "../../lib/assert.js";
import { assertProperty } from "../../lib/property.js";

const ascii = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0));
const onXs = typeof (globalThis as { process?: unknown }).process === "undefined";

function digestOf(algorithm: "MD5" | "SHA256", data: Uint8Array): string {
  const digest = new NobleDigestFactory().create(algorithm);
  digest.write(data);
  return toHex(digest.close());
}

/** A deterministic pattern that no chunk size divides evenly. */
function pattern(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 131 + (i >> 8)) & 0xff;
  return bytes;
}

describe("hal/sim/digest NobleDigestFactory", () => {
  it("MD5 matches the RFC 1321 vectors", () => {
    equal(digestOf("MD5", ascii("")), "d41d8cd98f00b204e9800998ecf8427e");
    equal(digestOf("MD5", ascii("abc")), "900150983cd24fb0d6963f7d28e17f72");
    equal(digestOf("MD5", ascii("message digest")), "f96b697d7cb7938d525a2f31aaf161d0");
  });

  it("SHA-256 matches the FIPS 180-2 vectors", () => {
    equal(digestOf("SHA256", ascii("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    equal(
      digestOf("SHA256", ascii("abc")),
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
    equal(
      digestOf("SHA256", ascii("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    );
  });

  it("returns 16 and 32 bytes", () => {
    equal(new NobleDigestFactory().create("MD5").close().length, 16);
    equal(new NobleDigestFactory().create("SHA256").close().length, 32);
  });

  it("reset() starts a fresh digest on the same object", () => {
    const digest = new NobleDigestFactory().create("SHA256");
    digest.write(ascii("something else entirely"));
    digest.close();
    digest.reset();
    digest.write(ascii("abc"));
    equal(toHex(digest.close()), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    digest.reset();
    equal(toHex(digest.close()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  });

  it("reset() before close() discards what was written", () => {
    const digest = new NobleDigestFactory().create("MD5");
    digest.write(ascii("discard me"));
    digest.reset();
    digest.write(ascii("abc"));
    equal(toHex(digest.close()), "900150983cd24fb0d6963f7d28e17f72");
  });

  it("refuses write() and close() after close() until reset()", () => {
    const digest = new NobleDigestFactory().create("MD5");
    digest.close();
    throws(() => digest.write(ascii("x")), /after close/);
    throws(() => digest.close(), /closed twice/);
  });

  // 1 MiB on Node; XS interprets about 50x slower, so it streams 64 KiB there.
  const bigLength = onXs ? 64 * 1024 : 1024 * 1024;
  const big = pattern(bigLength);
  const oneShotMd5 = md5(big);
  const oneShotSha = sha256(big);

  it(`streaming ${bigLength} bytes in random chunks equals the one-shot digest`, () => {
    const factory = new NobleDigestFactory();
    const streamedMd5 = factory.create("MD5");
    const streamedSha = factory.create("SHA256");
    assertProperty(
      fc.property(
        fc.array(fc.integer({ min: 1, max: bigLength }), { minLength: 1, maxLength: 12 }),
        (cuts) => {
          streamedMd5.reset();
          streamedSha.reset();
          const boundaries = [...new Set(cuts)].sort((a, b) => a - b);
          let start = 0;
          for (const end of [...boundaries, bigLength]) {
            streamedMd5.write(big.subarray(start, end));
            streamedSha.write(big.subarray(start, end));
            start = end;
          }
          bytesEqual(streamedMd5.close(), oneShotMd5, "MD5");
          bytesEqual(streamedSha.close(), oneShotSha, "SHA-256");
        },
      ),
      { numRuns: onXs ? 3 : 5 },
    );
  });

  it("small random inputs split anywhere equal the one-shot digest", () => {
    const factory = new NobleDigestFactory();
    assertProperty(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), (data, cutSeed) => {
        const cut = data.length === 0 ? 0 : cutSeed % (data.length + 1);
        for (const algorithm of ["MD5", "SHA256"] as const) {
          const streamed = factory.create(algorithm);
          streamed.write(data.subarray(0, cut));
          streamed.write(data.subarray(cut));
          bytesEqual(streamed.close(), algorithm === "MD5" ? md5(data) : sha256(data), algorithm);
        }
      }),
      { numRuns: onXs ? 20 : 200 },
    );
  });
});
