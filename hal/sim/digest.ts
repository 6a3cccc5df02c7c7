// Pure-JS MD5 and SHA-256 (@noble/hashes) behind the Digest port, for tests, the demo and the XS lane.
import { md5 } from "@noble/hashes/legacy.js";
import { sha256 } from "@noble/hashes/sha2.js";
import {
  OneShotDigest,
  type Digest,
  type DigestAlgorithm,
  type DigestFactory,
  type OneShotHash,
} from "../digest.js";

function start(algorithm: DigestAlgorithm): OneShotHash {
  if (algorithm === "MD5") return md5.create();
  if (algorithm === "SHA256") return sha256.create();
  throw new Error(`unsupported digest algorithm ${String(algorithm)}`);
}

export class NobleDigestFactory implements DigestFactory {
  create(algorithm: DigestAlgorithm): Digest {
    return new OneShotDigest(algorithm, start);
  }
}
