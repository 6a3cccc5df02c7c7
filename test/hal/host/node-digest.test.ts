// Node-only tests of the node:crypto digests: vectors, reset, and equality with the pure-JS digests on random data.
import assert from "node:assert/strict";
import fc from "fast-check";
import { toHex } from "../../../hal/digest.js";
import { NodeDigestFactory } from "../../../hal/host/node-digest.js";
import { NobleDigestFactory } from "../../../hal/sim/digest.js";
import { assertProperty } from "../../lib/property.js";

const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);

describe("hal/host NodeDigestFactory", () => {
  it('gives the published MD5 and SHA-256 of "abc" and of nothing', () => {
    const factory = new NodeDigestFactory();
    const md5 = factory.create("MD5");
    md5.write(ascii("abc"));
    assert.equal(toHex(md5.close()), "900150983cd24fb0d6963f7d28e17f72");
    md5.reset();
    assert.equal(toHex(md5.close()), "d41d8cd98f00b204e9800998ecf8427e");
    const sha = factory.create("SHA256");
    sha.write(ascii("ab"));
    sha.write(ascii("c"));
    const digest = sha.close();
    assert.equal(digest.constructor, Uint8Array);
    assert.equal(toHex(digest), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });

  it("refuses write() and close() after close() until reset()", () => {
    const digest = new NodeDigestFactory().create("MD5");
    digest.close();
    assert.throws(() => digest.write(ascii("x")), /after close/);
    assert.throws(() => digest.close(), /closed twice/);
  });

  it("property: equals the noble digests for random data in random chunks, across resets", () => {
    const node = new NodeDigestFactory();
    const noble = new NobleDigestFactory();
    const nodeDigests = { MD5: node.create("MD5"), SHA256: node.create("SHA256") };
    assertProperty(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 700 }), { maxLength: 8 }),
        fc.constantFrom("MD5" as const, "SHA256" as const),
        (chunks, algorithm) => {
          const reused = nodeDigests[algorithm];
          reused.reset();
          const reference = noble.create(algorithm);
          for (const chunk of chunks) {
            reused.write(chunk);
            reference.write(chunk);
          }
          assert.deepEqual(reused.close(), reference.close());
        },
      ),
      { numRuns: 300 },
    );
  });
});
