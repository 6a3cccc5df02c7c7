// Conformance tests of the node:crypto Signature port, and agreement with noble on fresh keys and messages.
import crypto from "node:crypto";
import assert from "node:assert/strict";
import { NodeSignatureVerifier } from "../../../hal/host/node-signature.js";
import { NobleSignatureVerifier } from "../../../hal/sim/noble-signature.js";
import { signatureCases } from "../signature-cases.js";

describe("hal/host/node-signature NodeSignatureVerifier", () => {
  signatureCases(() => new NodeSignatureVerifier());

  it("agrees with noble on 100 fresh P-256 and Ed25519 signatures, valid and tampered", () => {
    const node = new NodeSignatureVerifier();
    const noble = new NobleSignatureVerifier();
    for (let i = 0; i < 50; i++) {
      const payload = crypto.randomBytes(1 + (i % 50));
      const digest = new Uint8Array(crypto.createHash("sha256").update(payload).digest());
      const ec = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
      const ecRaw = new Uint8Array(ec.publicKey.export({ format: "der", type: "spki" }).subarray(26));
      const ecSig = new Uint8Array(
        crypto.sign("sha256", payload, { key: ec.privateKey, dsaEncoding: "der" }),
      );
      const ed = crypto.generateKeyPairSync("ed25519");
      const edRaw = new Uint8Array(ed.publicKey.export({ format: "der", type: "spki" }).subarray(12));
      const edSig = new Uint8Array(crypto.sign(null, digest, ed.privateKey));
      for (const [alg, key, sig] of [
        ["ecdsa-p256", ecRaw, ecSig],
        ["ed25519", edRaw, edSig],
      ] as const) {
        assert.equal(node.verify(alg, key, digest, sig), true, `${alg} #${i}`);
        assert.equal(noble.verify(alg, key, digest, sig), true, `${alg} #${i} noble`);
        const bad = sig.slice();
        bad[bad.length - 1 - (i % 20)]! ^= 1 << (i % 8);
        assert.equal(
          node.verify(alg, key, digest, bad),
          noble.verify(alg, key, digest, bad),
          `${alg} #${i} tampered`,
        );
        assert.equal(node.verify(alg, key, digest, bad), false);
      }
    }
  });
});
