// A differential package through the download phase (src/sota/download.ts) against the hand-made context and the
// Cortex-M pair (576 -> 616 bytes): the delta receiver's ports as the engine wires them (checkpoints saved, the
// target's SHA-256 recorded before its receive starts, its log lines). Portable.

import { NobleDigestFactory } from "../../../hal/sim/digest.js";
import { toHex } from "../../../hal/digest.js";
import { deepEqual, equal } from "../../lib/assert.js";
import { firmwareV1, firmwareV2 } from "../../fixtures/delta/fixture-data.js";
import { newSession, type EngineContext } from "../../../src/sota/context.js";
import { handlePiece } from "../../../src/sota/download.js";
import { makeDeltaPackage } from "../../../tools/delta/create.js";
import { FakeReceiver, downloadFake, record, type DownloadFake } from "./download-fake.js";

const digests = new NobleDigestFactory();

function hex(algorithm: "MD5" | "SHA256", bytes: Uint8Array): string {
  const d = digests.create(algorithm);
  d.write(bytes);
  return toHex(d.close());
}

describe("src/sota/download edges: a differential package", () => {
  it("is applied as it streams in: checkpoints saved, the target's SHA-256 recorded first, the built image logged", async () => {
    const pkg = makeDeltaPackage(firmwareV1, firmwareV2);
    const f = downloadFake({
      size: pkg.length,
      blockLength: 512,
      config: { acceptDifferential: true, maxReadLength: 128 },
    });
    f.data = pkg;
    const boot = f.ctx.boot as unknown as {
      readRunning: (offset: number, into: Uint8Array) => void;
      runningSlotLength: number;
      report: { running: { size: number } };
    };
    boot.readRunning = (offset, into) => {
      into.fill(0xff);
      into.set(firmwareV1.subarray(offset, offset + into.length));
    };
    boot.runningSlotLength = 4096;
    f.report.running.size = firmwareV1.length;
    const saved: number[] = [];
    const save = f.ctx.records.saveDeltaCheckpoint.bind(f.ctx.records);
    f.ctx.records.saveDeltaCheckpoint = (md5, state) => {
      saved.push(state.length);
      save(md5, state);
    };
    const ctx = { ...f.ctx, digests };
    const md5 = hex("MD5", pkg);
    ctx.records.save(record({ sourceVersion: "1.0.0", size: pkg.length, md5, sha256: hex("SHA256", pkg) }));
    let atStart = "";
    const start = ctx.boot.startReceive.bind(ctx.boot);
    (ctx.boot as { startReceive: typeof start }).startReceive = (d) => {
      atStart = ctx.records.load()?.imageSha256 ?? "";
      return start(d);
    };
    equal(await handlePiece(ctx, new Uint8Array(256), pkg.length, 0, pkg.length), "restart");
    const target = hex("SHA256", firmwareV2);
    equal(atStart, target);
    equal(saved.length > 0, true);
    deepEqual(
      f.receivers.map((r) => [r.descriptor.size, r.received]),
      [[firmwareV2.length, firmwareV2.length]],
    );
    deepEqual([...f.receivers[0]!.written], [...firmwareV2]);
    equal(
      f.logs.includes(
        `delta: built 616 bytes, SHA-256 ${SHA_OF(f)}, from a ${pkg.length}-byte package (MD5 ${md5})`,
      ),
      true,
    );
    equal(ctx.records.load()?.imageSha256, target);
    // A fresh receive owes its digests no prefix: nothing is read twice.
    equal(
      f.logs.some((l) => l.includes("read again")),
      false,
    );
    deepEqual(f.ops.filter((o) => o.startsWith("read ")).slice(0, 2), ["read 0+128", "read 128+128"]);
  });
});

/** The SHA-256 the fake receiver's verdict names (its descriptor's). */
function SHA_OF(f: ReturnType<typeof downloadFake>): string {
  return f.receivers[0]!.descriptor.sha256;
}

/** A delta's first piece of 312 bytes (its checkpoint at package byte 303, output 512), then an MCU reset. */
async function resetAfterCheckpoint(): Promise<{
  f: DownloadFake;
  ctx: EngineContext;
  target: FakeReceiver;
}> {
  const pkg = makeDeltaPackage(firmwareV1, firmwareV2);
  const f = downloadFake({
    size: pkg.length,
    blockLength: 512,
    config: { acceptDifferential: true, maxReadLength: 64 },
  });
  f.data = pkg;
  const boot = f.ctx.boot as unknown as {
    readRunning: (offset: number, into: Uint8Array) => void;
    runningSlotLength: number;
    startReceive: (d: never) => FakeReceiver;
  };
  boot.readRunning = (offset, into) => {
    into.fill(0xff);
    into.set(firmwareV1.subarray(offset, offset + into.length));
  };
  boot.runningSlotLength = 4096;
  f.report.running.size = firmwareV1.length;
  const start = boot.startReceive.bind(boot);
  boot.startReceive = (d) => {
    const r = start(d);
    r.readBack = (offset, into) => {
      for (let i = 0; i < into.length; i++) into[i] = r.written[offset + i] ?? 0xff;
    };
    return r;
  };
  const ctx = { ...f.ctx, digests };
  ctx.records.save(
    record({ sourceVersion: "1.0.0", size: pkg.length, md5: hex("MD5", pkg), sha256: hex("SHA256", pkg) }),
  );
  await handlePiece(ctx, new Uint8Array(128), pkg.length, 0, 312);
  const target = f.receivers[0]!;
  equal(target.received, 512);
  // The reset: RAM is new, the slot's journal gives back the target's verified sectors.
  ctx.records.update({ advancing: false });
  f.ops.length = 0;
  f.logs.length = 0;
  const after = { ...ctx, session: newSession() };
  after.session.receiver = target;
  return { f, ctx: after, target };
}

describe("src/sota/download edges: a differential package resumed from its checkpoint", () => {
  it("the same piece again: the package's first bytes read again for the digests only, then on from the checkpoint", async () => {
    const { f, ctx } = await resetAfterCheckpoint();
    equal(await handlePiece(ctx, new Uint8Array(128), 316, 0, 312), "next-piece");
    deepEqual(
      f.ops.filter((o) => o.startsWith("read ")),
      ["read 0+64", "read 64+64", "read 128+64", "read 192+64", "read 256+47", "read 303+9"],
    );
    deepEqual(f.logs, [
      "delta resumes at package byte 303 (image byte 512 verified in the slot)",
      "delta: the package's first 303 bytes read again for its digests",
      "downloading: next piece",
    ]);
  });

  it("a piece that starts past byte 0 reads no prefix (the module no longer holds it)", async () => {
    const { f, ctx } = await resetAfterCheckpoint();
    equal(await handlePiece(ctx, new Uint8Array(128), 316, 303, 5), "next-piece");
    deepEqual(
      f.ops.filter((o) => o.startsWith("read ")),
      ["read 303+5"],
    );
    equal(
      f.logs.some((l) => l.includes("read again")),
      false,
    );
  });
});
