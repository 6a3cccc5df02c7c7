// Digest port over node:crypto (MD5, SHA-256) for the host-mode device and desktop tools.
import { createHash } from "node:crypto";
import {
  OneShotDigest,
  type Digest,
  type DigestAlgorithm,
  type DigestFactory,
  type OneShotHash,
} from "../digest.js";

const nodeNames: Record<DigestAlgorithm, string> = { MD5: "md5", SHA256: "sha256" };

function start(algorithm: DigestAlgorithm): OneShotHash {
  const name = nodeNames[algorithm];
  if (!name) throw new Error(`unsupported digest algorithm ${String(algorithm)}`);
  return createHash(name);
}

export class NodeDigestFactory implements DigestFactory {
  create(algorithm: DigestAlgorithm): Digest {
    return new OneShotDigest(algorithm, start);
  }
}
