// Portable conformance tests of the noble Signature port (Node and XS), plus the time of one verify.
import { NobleSignatureVerifier } from "../../../hal/sim/noble-signature.js";
import { signatureCases } from "../signature-cases.js";

describe("hal/sim/noble-signature NobleSignatureVerifier", function () {
  this.timeout(120_000);
  signatureCases(() => new NobleSignatureVerifier());
});
