// digestMismatch: the one digest rule of every receiver, including a delta target's (MD5 unknown, SHA-256 decides).
import { equal } from "../../lib/assert.js";
import { UNKNOWN_MD5, digestMismatch } from "../../../src/image/types.js";
import type { ImageDescriptor } from "../../../src/image/types.js";

const MD5 = "0123456789abcdef0123456789abcdef";
const SHA = "ab".repeat(32);
const describe_ = (md5: string, sha256: string): ImageDescriptor => ({
  component: "app",
  version: "2",
  size: 10,
  md5,
  sha256,
  crc: 0,
});

describe("src/image digestMismatch", () => {
  it("MD5 and SHA-256 announced: both must match, MD5 first; upper-case digests are the same digests", () => {
    equal(digestMismatch(describe_(MD5, SHA), MD5, SHA), "");
    equal(digestMismatch(describe_(MD5.toUpperCase(), SHA.toUpperCase()), MD5, SHA), "");
    equal(digestMismatch(describe_(MD5, SHA), "f".repeat(32), SHA), "md5");
    equal(digestMismatch(describe_(MD5, SHA), "f".repeat(32), "cd".repeat(32)), "md5");
    equal(digestMismatch(describe_(MD5, SHA), MD5, "cd".repeat(32)), "sha256");
  });

  it("no SHA-256 announced: the MD5 alone decides", () => {
    equal(digestMismatch(describe_(MD5, ""), MD5, "cd".repeat(32)), "");
    equal(digestMismatch(describe_(MD5, ""), "f".repeat(32), SHA), "md5");
  });

  it("MD5 unknown (a delta's target): the SHA-256 decides, and a missing one never matches", () => {
    equal(digestMismatch(describe_(UNKNOWN_MD5, SHA), "f".repeat(32), SHA), "");
    equal(digestMismatch(describe_(UNKNOWN_MD5, SHA), "f".repeat(32), "cd".repeat(32)), "sha256");
    equal(digestMismatch(describe_(UNKNOWN_MD5, ""), "f".repeat(32), SHA), "sha256");
    // The value on record: 32 zeros (what the delta receiver's target descriptor and the boot record carry).
    equal(digestMismatch(describe_("0".repeat(32), SHA), "f".repeat(32), SHA), "");
  });
});
