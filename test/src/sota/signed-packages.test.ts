// Signed packages through the whole engine: the module's digests always match (the attacker owns the channel),
// so only the signature, the signed version and the security counter can stop a package; a refused one leaves
// the old image running, reported and counted. The counter is raised only once the new image confirmed.

import { NobleDigestFactory } from "../../../hal/sim/digest.js";
import { NobleSignatureVerifier } from "../../../hal/sim/noble-signature.js";
import { decodeBase64 } from "../../../src/package/keys.js";
import { TrustList } from "../../../src/package/trust.js";
import { PackageVerifier } from "../../../src/package/verifier.js";
import { packages, publicKeys } from "../../fixtures/signed/fixtures.js";
import { equal, ok } from "../../lib/assert.js";
import { OLD_VERSION, Rig } from "./rig.js";

const MINUTE = 60_000;

function fixture(name: string): Uint8Array {
  return decodeBase64(packages[name]!)!;
}

function verifier(): PackageVerifier {
  const digests = new NobleDigestFactory();
  const trust = TrustList.fromConfig(
    digests,
    [publicKeys["p256-a.pub.pem"]!, publicKeys["ed25519-a.pub.pem"]!],
    [publicKeys["p256-revoked.pub.pem"]!],
  );
  return new PackageVerifier({
    digests,
    signatures: new NobleSignatureVerifier(),
    trust,
    maxImageSize: 65536,
  });
}

/** A rig whose module serves `bytes` for a plan to `target`, the engine checking signatures. */
function signedRig(bytes: Uint8Array, target = "2.0.0", storedCounter = 0, onTrialBoot?: () => void): Rig {
  const rig: Rig = new Rig({
    imageSize: bytes.length,
    packageBytes: bytes,
    component: { targetVersion: target },
    packages: verifier(),
    onBoot: (report) => {
      if (report.trial) onTrialBoot?.();
    },
  });
  if (storedCounter > 0) rig.kv.set("sota.seccnt", String(storedCounter));
  return rig;
}

async function refusedWith(rig: Rig, reason: string): Promise<void> {
  rig.bootDevice();
  ok(
    await rig.runUntil(() => rig.states.some((s) => s.state === "failed"), 30 * MINUTE),
    JSON.stringify(rig.states.slice(-4)),
  );
  const failed = rig.states.find((s) => s.state === "failed")!;
  ok(failed.reason.startsWith(`package refused: ${reason} (`), failed.reason);
  ok(rig.monitorHas("failure"), "the module ended the OTA (the running version was reported)");
  ok(!rig.hasState("activating") && rig.restarts === 0, "nothing activated");
  equal(rig.boots[rig.boots.length - 1]!.running.version, OLD_VERSION);
  ok(/"failures":1/.test(rig.kv.get("sota.history") ?? ""), "the failure is counted");
}

describe("SOTA engine: signed packages (MCUboot format) checked before activation", () => {
  for (const name of ["imgtool-p256.bin", "imgtool-ed25519.bin", "pack-p256.bin"]) {
    it(`installs ${name} (version 2.0.0, counter 5) and raises the stored counter only after the trial confirmed`, async () => {
      let counterAtTrial: string | undefined = "no trial";
      const rig: Rig = signedRig(
        fixture(name),
        "2.0.0",
        0,
        () => (counterAtTrial = rig.kv.get("sota.seccnt")),
      );
      rig.bootDevice();
      ok(
        await rig.runUntil(() => rig.monitorHas("success") && rig.hasState("updated"), 30 * MINUTE),
        JSON.stringify(rig.states.slice(-4)),
      );
      equal(counterAtTrial, undefined, "not raised at activation");
      equal(rig.kv.get("sota.seccnt"), "5");
      equal(rig.boots[rig.boots.length - 1]!.running.version, "2.0.0");
    });
  }

  it("takes the signed version string (V2_0) for a plan whose target is V2_0", async () => {
    const rig = signedRig(fixture("imgtool-p256-vstring.bin"), "V2_0");
    rig.bootDevice();
    ok(await rig.runUntil(() => rig.monitorHas("success") && rig.hasState("updated"), 30 * MINUTE));
    equal(rig.kv.get("sota.seccnt"), "6");
  });

  it("refuses an unknown key", async () =>
    refusedWith(signedRig(fixture("imgtool-p256-stranger.bin")), "unknown-key"));
  it("refuses a revoked key", async () =>
    refusedWith(signedRig(fixture("imgtool-p256-revoked.bin")), "revoked-key"));
  it("refuses an unsigned package", async () =>
    refusedWith(signedRig(fixture("imgtool-unsigned.bin")), "unsigned"));
  it("refuses an old signed image under a new label", async () =>
    refusedWith(signedRig(fixture("imgtool-p256.bin"), "2.0.1"), "version-mismatch"));
  it("refuses a counter below the stored one", async () =>
    refusedWith(signedRig(fixture("imgtool-p256.bin"), "2.0.0", 6), "rollback"));

  for (const [where, at] of [
    ["header", 12],
    ["body", 0x200 + 100],
    ["hash TLV", -70],
    ["signature", -3],
  ] as const) {
    it(`refuses a package with one byte flipped in the ${where} (the module's digests match it)`, async () => {
      const bytes = fixture("imgtool-p256.bin").slice();
      const index = at >= 0 ? at : bytes.length + at;
      bytes[index] = bytes[index]! ^ 0x01;
      const rig = signedRig(bytes);
      rig.bootDevice();
      ok(await rig.runUntil(() => rig.hasState("failed"), 30 * MINUTE), JSON.stringify(rig.states.slice(-4)));
      const failed = rig.states.find((s) => s.state === "failed")!;
      ok(/^package refused: (bad-hash|bad-signature|malformed-header) \(/.test(failed.reason), failed.reason);
      ok(!rig.hasState("activating"));
      equal(rig.boots[rig.boots.length - 1]!.running.version, OLD_VERSION);
    });
  }

  it("a cut between the trial's confirm and the counter write: the next start raises it (never lost)", async () => {
    const rig = signedRig(fixture("imgtool-p256.bin"));
    // The MCU dies right after the boot record confirmed the trial image: the counter write never happens.
    const set = rig.kv.set.bind(rig.kv);
    let cut = false;
    rig.kv.set = (key: string, value: string) => {
      if (key === "sota.seccnt" && !cut) {
        cut = true;
        rig.powerCut();
        throw new Error("power cut");
      }
      set(key, value);
    };
    rig.bootDevice();
    ok(await rig.runUntil(() => cut, 30 * MINUTE));
    equal(rig.kv.get("sota.seccnt"), undefined);
    rig.bootDevice();
    ok(await rig.runUntil(() => rig.monitorHas("success") && rig.hasState("updated"), 30 * MINUTE));
    equal(rig.kv.get("sota.seccnt"), "5");
    equal(rig.boots[rig.boots.length - 1]!.running.version, "2.0.0");
  });
});

describe("SOTA engine: the security counter across a power cut at every flash operation of a signed update", () => {
  it("is never raised for an image that did not confirm, and never lost for one that did", async () => {
    const bytes = fixture("imgtool-p256.bin");
    const reference = signedRig(bytes);
    reference.bootDevice();
    ok(
      await reference.runUntil(
        () => reference.monitorHas("success") && reference.hasState("updated"),
        30 * MINUTE,
      ),
    );
    const total = reference.flash.stats.operations;
    ok(total > 10, `${total} flash operations`);
    for (let operation = 1; operation <= total; operation++) {
      const rig = signedRig(bytes);
      rig.flash.armPowerCut(operation, "any", operation * 7919);
      rig.bootDevice();
      ok(await rig.runUntil(() => rig.flash.cutHappened, 30 * MINUTE), `cut ${operation} happened`);
      rig.powerCut();
      rig.flash.powerOn();
      rig.bootDevice();
      // Right after the restart's boot decision: the floor is 5 only if the new image is confirmed.
      const report = rig.boots[rig.boots.length - 1]!;
      const confirmedNew = report.running.version === "2.0.0" && !report.trial;
      const stored = rig.kv.get("sota.seccnt");
      if (stored === "5")
        ok(confirmedNew, `cut ${operation}: counter raised for an image that did not confirm`);
      ok(
        await rig.runUntil(() => rig.monitorHas("success") && rig.hasState("updated"), 60 * MINUTE),
        `cut ${operation}: ${JSON.stringify(rig.states.slice(-3))}`,
      );
      equal(rig.kv.get("sota.seccnt"), "5", `cut ${operation}: the confirmed image's counter is stored`);
    }
  });
});
