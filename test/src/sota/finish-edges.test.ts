// The finish phase (src/sota/finish.ts) against a hand-made context (mutation-testing survivors): each verdict's exact
// states, boot calls and record, the signature read back block by block, QIOTUPDATE=3's outcomes. Portable.

import { deepEqual, equal } from "../../lib/assert.js";
import type { ComponentSet } from "../../../src/components/set.js";
import type { VerifyResult } from "../../../src/image/types.js";
import type { PackageVerifier } from "../../../src/package/verifier.js";
import type { EngineContext } from "../../../src/sota/context.js";
import { abandonVerified, failOta, finish } from "../../../src/sota/finish.js";
import {
  FakeReceiver,
  MD5,
  SHA,
  descriptor,
  downloadFake,
  record,
  type DownloadFake,
} from "./download-fake.js";

function receiver(f: DownloadFake, verdict: Partial<VerifyResult> = {}, size = 10000): FakeReceiver {
  const r = new FakeReceiver(descriptor({ size }), f.ops, f.clock, 50, 4096, size);
  r.finish = (): VerifyResult => {
    f.ops.push("finish");
    return { ok: true, reason: "", md5: MD5, sha256: SHA, ...verdict };
  };
  r.readBack = (offset: number, into: Uint8Array): void => {
    f.ops.push(`readBack ${offset}+${into.length}`);
    into.fill(offset >> 12);
  };
  f.ctx.session.receiver = r;
  return r;
}

/** A verifier that records what it is given and answers `verdict`. */
function verifier(f: DownloadFake, verdict: object): PackageVerifier {
  return {
    begin: (e: { targetVersion: string; minSecurityCounter: number }) =>
      void f.ops.push(`begin ${e.targetVersion} ${e.minSecurityCounter}`),
    write: (chunk: Uint8Array) => void f.ops.push(`verify ${chunk.length}:${chunk[0]}`),
    finish: () => verdict,
  } as unknown as PackageVerifier;
}

function withPackages(f: DownloadFake, packages: PackageVerifier): EngineContext {
  return { ...f.ctx, packages };
}

const failures = (f: DownloadFake): number => f.ctx.records.history("app", "2.0.0").failures;

describe("src/sota/finish edges", () => {
  it("a verified image: the installing record, the checkpoint dropped, QIOTUPDATE=3, 10702, activation and restart", async () => {
    const f = downloadFake();
    f.ctx.records.save(record({ securityCounter: 4 }));
    f.ctx.records.saveDeltaCheckpoint(MD5, new Uint8Array([1, 2]));
    const r = receiver(f);
    let atFinish: unknown;
    const client = f.ctx.client as { finish: () => Promise<string> };
    const send = client.finish.bind(client);
    client.finish = async () => {
      atFinish = [f.ctx.records.load()?.stage, f.ctx.records.deltaCheckpoint(MD5)];
      return send();
    };
    equal(await finish(f.ctx, r, new Uint8Array(4096)), "restart");
    deepEqual(atFinish, ["installing", undefined]);
    deepEqual(f.ops, ["finish", "QIOTUPDATE=3", "wait 5000", "activate", "restart"]);
    deepEqual(f.states, [
      "verifying: MD5 and SHA-256",
      `activating: ${SHA}`,
      "restarting: booting the new image on trial",
    ]);
    deepEqual(f.ctx.records.load(), record({ stage: "installing", securityCounter: 0 }));
    deepEqual([f.ctx.session.receiver, failures(f)], [undefined, 0]);
  });

  it("a verdict without a SHA-256 names the MD5; no 10702 within 5 s still activates", async () => {
    const f = downloadFake();
    f.ctx.records.save(record());
    f.afterFinish = undefined;
    equal(await finish(f.ctx, receiver(f, { sha256: "" }), new Uint8Array(4096)), "restart");
    deepEqual(f.states[1], `activating: ${MD5}`);
    deepEqual(f.ops, ["finish", "QIOTUPDATE=3", "wait 5000", "activate", "restart"]);
  });

  it("a set member before the last is staged: no restart", async () => {
    const f = downloadFake();
    f.ctx.records.save(record());
    const ctx = { ...f.ctx, set: { pendingClose: true } as unknown as ComponentSet };
    equal(await finish(ctx, receiver(f), new Uint8Array(4096)), "restart");
    deepEqual(f.ops, ["finish", "QIOTUPDATE=3", "wait 5000", "activate"]);
    deepEqual(f.states.slice(-1), [`activating: ${SHA}`]);
  });

  it("digests that do not match: abandoned, counted, checkpoint and record dropped, the running version reported", async () => {
    const f = downloadFake();
    f.ctx.records.save(record());
    f.ctx.records.saveDeltaCheckpoint(MD5, new Uint8Array([1]));
    equal(await finish(f.ctx, receiver(f, { ok: false, reason: "md5" }), new Uint8Array(4096)), "done");
    deepEqual(f.ops, ["finish", "abandon verification failed: md5", "report app 1.0.0"]);
    deepEqual(f.states, [
      "verifying: MD5 and SHA-256",
      "reporting: AT+QIOTMCUVER app 1.0.0",
      "failed: image rejected: md5 mismatch; keeping 1.0.0",
    ]);
    deepEqual(
      [f.ctx.records.load(), f.ctx.records.deltaCheckpoint(MD5), failures(f)],
      [undefined, undefined, 1],
    );
    equal(f.ctx.session.receiver, undefined);
  });

  it("a delta that did not build its whole target: refused before any check", async () => {
    const f = downloadFake();
    const r = receiver(f);
    r.incomplete = () => "delta stopped at 12";
    equal(await finish(f.ctx, r, new Uint8Array(4096)), "done");
    deepEqual(f.ops, ["abandon verification failed: delta", "report app 1.0.0"]);
    deepEqual(f.states.slice(-1), ["failed: delta stopped at 12; keeping 1.0.0"]);
    equal(failures(f), 0);
  });

  it("a signed package: read back in block-sized views (the last one short), its counter kept in the record", async () => {
    const f = downloadFake();
    f.ctx.records.save(record());
    f.ctx.records.raiseSecurityCounter(3);
    const ctx = withPackages(f, verifier(f, { ok: true, versionString: "V2_0", securityCounter: 5 }));
    equal(await finish(ctx, receiver(f), new Uint8Array(4096)), "restart");
    deepEqual(f.ops.slice(0, 8), [
      "begin 2.0.0 3",
      "readBack 0+4096",
      "verify 4096:0",
      "readBack 4096+4096",
      "verify 4096:1",
      "readBack 8192+1808",
      "verify 1808:2",
      "finish",
    ]);
    deepEqual(f.states[0], "verifying: signature, MD5 and SHA-256");
    equal(f.logs.includes("signed package V2_0, security counter 5"), true);
    equal(f.ctx.records.load()?.securityCounter, 5);
  });

  it("a signed delta's target is read back by its image size; without a version string the plan's version is logged", async () => {
    const f = downloadFake();
    f.ctx.records.save(record());
    const r = receiver(f);
    (r as { imageSize?: number }).imageSize = 4096;
    const ctx = withPackages(f, verifier(f, { ok: true, versionString: undefined, securityCounter: 0 }));
    await finish(ctx, r, new Uint8Array(4096));
    deepEqual(f.ops.slice(0, 4), ["begin 2.0.0 0", "readBack 0+4096", "verify 4096:0", "finish"]);
    equal(f.logs.includes("signed package 2.0.0, security counter 0"), true);
  });

  it("a refused signature: the image is not checked further, abandoned and counted", async () => {
    const f = downloadFake();
    f.ctx.records.save(record());
    const ctx = withPackages(f, verifier(f, { ok: false, reason: "bad-signature", detail: "key 1" }));
    equal(await finish(ctx, receiver(f, {}, 100), new Uint8Array(4096)), "done");
    deepEqual(f.ops, [
      "begin 2.0.0 0",
      "readBack 0+100",
      "verify 100:0",
      "abandon verification failed: bad-signature",
      "report app 1.0.0",
    ]);
    deepEqual(f.states.slice(-1), ["failed: package refused: bad-signature (key 1); keeping 1.0.0"]);
    equal(failures(f), 1);
  });

  for (const [name, answer, event, why] of [
    ["an ERROR", "ERROR", { kind: "updating" }, "QIOTUPDATE=3 answered ERROR"],
    ["a 10706", "OK", { kind: "update-failed" }, "the module reported failure (10706) at QIOTUPDATE=3"],
  ] as const) {
    it(`QIOTUPDATE=3 with ${name}: the verified image dropped after its record, counted, not activated`, async () => {
      const f = downloadFake();
      f.ctx.records.save(record());
      f.finishAnswer = answer;
      f.afterFinish = event;
      let atAbandon: unknown = "";
      const boot = f.ctx.boot as { abandonReceive: (reason: string) => void };
      const abandon = boot.abandonReceive.bind(boot);
      boot.abandonReceive = (reason) => {
        atAbandon = f.ctx.records.load();
        abandon(reason);
      };
      equal(await finish(f.ctx, receiver(f), new Uint8Array(4096)), "done");
      deepEqual(f.ops, [
        "finish",
        "QIOTUPDATE=3",
        ...(answer === "OK" ? ["wait 5000"] : []),
        `abandon ${why}`,
        "report app 1.0.0",
      ]);
      deepEqual(f.states.slice(-1), [`failed: ${why}; keeping 1.0.0`]);
      deepEqual(
        [atAbandon, f.ctx.records.load(), failures(f), f.ctx.session.receiver],
        [undefined, undefined, 1, undefined],
      );
    });
  }

  it("abandonVerified and failOta without a record count nothing", () => {
    const f = downloadFake();
    f.ctx.session.advancedFrom = 4096;
    failOta(f.ctx, "gone");
    deepEqual([f.states, f.ctx.session.advancedFrom, failures(f)], [[], -1, 0]);
    receiver(f);
    abandonVerified(f.ctx, "why");
    deepEqual([f.ops, f.ctx.session.receiver, failures(f)], [["abandon why"], undefined, 0]);
  });

  it("failOta with a record: counted, cleared, the reason emitted", () => {
    const f = downloadFake();
    f.ctx.records.save(record());
    failOta(f.ctx, "gone");
    deepEqual([f.states, f.ctx.records.load(), failures(f)], [["failed: gone"], undefined, 1]);
    failOta(f.ctx, "gone");
    equal(failures(f), 1);
  });
});
