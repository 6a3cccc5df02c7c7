// DeltaReceiver's edges (portable), against an in-memory target that logs every call: the exact erase, write and
// checkpoint sequence of the engine's pattern, running image reads, the stash, argument and header refusals, the
// base check's steps, flash errors in the sink, the verdicts of finish(), and zero-allocation views.
import { bytesEqual, deepEqual, equal, ok } from "../../lib/assert.js";
import { firmwareV1, firmwareV2 } from "../../fixtures/delta/fixture-data.js";
import { FlashError } from "../../../hal/flash.js";
import { DeltaReceiver, DeltaRefused } from "../../../src/image/delta-receiver.js";
import { encodeDeltaHeader, DELTA_FORMAT_SEQUENTIAL_HEATSHRINK } from "../../../src/delta/index.js";
import type { ImageDescriptor } from "../../../src/image/types.js";
import { makeDeltaPackage } from "../../../tools/delta/create.js";
import {
  caught,
  fakeWorld,
  hex,
  packageDescriptor,
  type FakeWorld,
  type WorldOptions,
} from "./delta-fakes.js";

const pkg = makeDeltaPackage(firmwareV1, firmwareV2);
const descriptor = packageDescriptor(pkg);

function setUp(options: Partial<WorldOptions> = {}, d: ImageDescriptor = descriptor) {
  const world = fakeWorld({ source: firmwareV1, block: 128, ...options });
  return { world, receiver: new DeltaReceiver(world.ports, d) };
}

/** The engine's pattern: erase steps until none, then one read's write; then steps for the whole package. */
function feed(receiver: DeltaReceiver, bytes: Uint8Array, block: number, from = 0): void {
  const buffer = new Uint8Array(block);
  for (let at = from; at < bytes.length; at += block) {
    const n = Math.min(block, bytes.length - at);
    while (receiver.eraseStep(at + n));
    buffer.set(bytes.subarray(at, at + n));
    receiver.write(buffer, n);
  }
  while (receiver.needsErase(bytes.length) && receiver.eraseStep(bytes.length));
}

function refusal(fn: () => unknown): DeltaRefused {
  const error = caught(fn);
  ok(error instanceof DeltaRefused, `not a refusal: ${String(error)}`);
  return error;
}

/** Writes the header (88 bytes) and steps through the base check and the start: the receiver runs. */
function started(world: FakeWorld, receiver: DeltaReceiver): void {
  receiver.write(pkg.slice(0, 88), 88);
  equal(receiver.needsErase(88), true);
  equal(receiver.eraseStep(88), true);
  equal(receiver.eraseStep(88), true);
  equal(world.targets.length, 1);
}

describe("src/image/delta-receiver edges", () => {
  it("the engine's pattern on 128-byte sectors: each sector erased just before the output reaches it", () => {
    const { world, receiver } = setUp();
    const buffer = new Uint8Array(48);
    const steps: string[] = [];
    const take = () => (world.targets[0]?.take() ?? []).join(", ");
    for (let at = 0; at < pkg.length; at += 48) {
      const n = Math.min(48, pkg.length - at);
      const erases: string[] = [];
      while (receiver.eraseStep(at + n)) erases.push(take() || `${world.checkpoints.length} checkpoints`);
      take();
      buffer.set(pkg.subarray(at, at + n));
      receiver.write(buffer, n);
      steps.push(JSON.stringify([at + n, erases, take(), receiver.outputOffset]));
    }
    // Every target call: erases only for the sector after the output (the whole image at the last read), no
    // write while one is due, a checkpoint saved by the step after its sector was written.
    deepEqual(steps, [
      `[48,[],"",0]`,
      `[96,[],"",0]`,
      `[144,["0 checkpoints","0 checkpoints","needsErase 128, eraseStep 128","needsErase 128, needsErase 128"],"needsErase 128, write 128/256, needsErase 256",128]`,
      `[192,["needsErase 256, eraseStep 256","needsErase 256, needsErase 256","needsErase 256"],"needsErase 256, write 128/256, needsErase 384",256]`,
      `[240,["needsErase 384, eraseStep 384","needsErase 384, needsErase 384","needsErase 384"],"needsErase 384",325]`,
      `[288,[],"needsErase 384, write 128/256, needsErase 512",384]`,
      `[316,["needsErase 512, eraseStep 512","needsErase 512, needsErase 512","needsErase 616, eraseStep 616","needsErase 616"],"needsErase 512, write 128/256, needsErase 616, write 104/256",616]`,
    ]);
    equal(world.checkpoints.length, 3);
    equal(receiver.needsErase(pkg.length), true);
    equal(receiver.eraseStep(pkg.length), true);
    equal(world.checkpoints.length, 4);
    equal(receiver.needsErase(pkg.length), false);
    equal(receiver.eraseStep(pkg.length), false);
    // Each checkpoint is a record of the applier (version 1) at its own boundary.
    ok(world.checkpoints.every((c) => c.length === 392 && c[0] === 1));
    equal(new Set(world.checkpoints.map((c) => hex(c, "SHA256"))).size, 4);
    equal(receiver.incomplete(), "");
    const verdict = receiver.finish();
    deepEqual(verdict, {
      ok: true,
      reason: "",
      md5: hex(firmwareV2, "MD5"),
      sha256: hex(firmwareV2, "SHA256"),
    });
    bytesEqual(world.targets[0]!.data, firmwareV2);
    deepEqual(world.logs, [
      `delta: built 616 bytes, SHA-256 ${hex(firmwareV2, "SHA256")}, from a 316-byte package (MD5 ${hex(pkg, "MD5")})`,
    ]);
    // The base check reads through its scratch (one view for the last 64 bytes), the applier through its buffer.
    deepEqual(world.reads, ["0+256", "256+256", "512+64", "0+256", "256+256", "512+64"]);
  });

  it("reads the running image through the whole buffer while it stays inside the slot, a view past it", () => {
    // The slot ends exactly where the applier's last read of its buffer would: the whole buffer is read.
    const inside = setUp({ runningSlotLength: 768 });
    feed(inside.receiver, pkg, 48);
    deepEqual(inside.world.reads.slice(3), ["0+256", "256+256", "512+256"]);
    ok(inside.receiver.finish().ok);
    // One byte less: the last read is a view of the bytes wanted.
    const past = setUp({ runningSlotLength: 767 });
    feed(past.receiver, pkg, 48);
    deepEqual(past.world.reads.slice(3), ["0+256", "256+256", "512+64"]);
    ok(past.receiver.finish().ok);
    // The base check reads through its scratch and one view of it, the applier through its buffer and one view.
    equal(past.world.readInto.size, 4);
  });

  it("the whole base check in steps of 4096 bytes, nothing erased before it passes", () => {
    const source = new Uint8Array(4096 + 100).map((_, i) => (i * 7) & 0xff);
    const header = encodeDeltaHeader({
      format: DELTA_FORMAT_SEQUENTIAL_HEATSHRINK,
      sourceSize: source.length,
      targetSize: 10,
      patchSize: 4,
      sourceSha256: Uint8Array.from(
        hex(source, "SHA256")
          .match(/../g)!
          .map((h) => parseInt(h, 16)),
      ),
      targetSha256: new Uint8Array(32),
    });
    const world = fakeWorld({ source, block: 128 });
    const receiver = new DeltaReceiver(world.ports, { ...descriptor, size: 92 });
    receiver.write(header, 88);
    equal(receiver.eraseStep(92), true);
    equal(world.reads.length, 16);
    equal(world.reads[15], "3840+256");
    equal(receiver.needsErase(92), true);
    equal(world.targets.length, 0);
    equal(receiver.eraseStep(92), true);
    deepEqual(world.reads.slice(16), ["4096+100"]);
    equal(world.targets.length, 0);
    // The base matched: the next step starts the target.
    equal(receiver.eraseStep(92), true);
    equal(world.targets.length, 1);
    // A one-byte difference in the last step is a wrong base.
    const other = source.slice();
    other[4100] ^= 1;
    const world2 = fakeWorld({ source: other, block: 128 });
    const receiver2 = new DeltaReceiver(world2.ports, { ...descriptor, size: 92 });
    receiver2.write(header, 88);
    equal(receiver2.eraseStep(92), true);
    const wrong = refusal(() => receiver2.eraseStep(92));
    equal(wrong.code, "wrong-base");
    equal(world2.targets.length, 0);
  });

  it("needsErase and eraseStep forward the next output sector, only for bytes past those taken", () => {
    const { world, receiver } = setUp();
    equal(receiver.needsErase(88), false);
    equal(receiver.eraseStep(88), false);
    started(world, receiver);
    const target = world.targets[0]!;
    target.take();
    // Nothing past the bytes taken: no erase is needed, none is made, no checkpoint is due.
    equal(receiver.needsErase(88), false);
    equal(receiver.eraseStep(88), false);
    deepEqual(target.take(), []);
    equal(receiver.needsErase(89), true);
    equal(receiver.needsErase(pkg.length - 1), true);
    equal(receiver.needsErase(pkg.length), true);
    deepEqual(target.take(), [`needsErase 128`, `needsErase 128`, `needsErase 616`]);
    equal(receiver.eraseStep(89), true);
    deepEqual(target.take(), [`needsErase 128`, `eraseStep 128`]);
    equal(receiver.needsErase(89), false);
    equal(receiver.eraseStep(89), false);
    deepEqual(target.erased, [true, false, false, false, false]);
    equal(world.checkpoints.length, 0);
  });

  it("bytes written while the stash waits go behind it, in order; the stash is flushed by a step that says so", () => {
    const { world, receiver } = setUp();
    started(world, receiver);
    while (receiver.eraseStep(88 + 48));
    // Written without steps: the first write fills sector 0 and stashes what needs sector 1.
    receiver.write(pkg.slice(88, 136), 48);
    receiver.write(pkg.slice(136, 184), 48);
    equal(receiver.outputOffset, 128);
    equal(receiver.incomplete(), "the delta package is not applied yet");
    // The slot's bytes are readable while package bytes wait (not a plain image).
    const into = new Uint8Array(16);
    receiver.readBack(0, into);
    bytesEqual(into, firmwareV2.subarray(0, 16));
    equal(receiver.needsErase(184), true);
    equal(receiver.eraseStep(184), true);
    deepEqual(world.targets[0]!.erased, [true, true, false, false, false]);
    // Sector 1 is erased now, but the next read still goes behind the stash.
    receiver.write(pkg.slice(184, 232), 48);
    equal(receiver.outputOffset, 128);
    // This step applies the stash and says it did.
    equal(receiver.eraseStep(232), true);
    feed(receiver, pkg, 48, 232);
    ok(receiver.finish().ok);
    bytesEqual(world.targets[0]!.data, firmwareV2);
  });

  it("the stash holds two reads: one byte more is an unerased-flash error", () => {
    const { receiver } = setUp({ maxWrite: 64 });
    receiver.write(pkg.slice(0, 88), 88);
    receiver.write(pkg.slice(88, 152), 64);
    receiver.write(pkg.slice(152, 216), 64);
    // 48 bytes of a 64-byte buffer fill the 176-byte stash exactly.
    const buffer = pkg.slice(216, 280);
    receiver.write(buffer, 48);
    equal(receiver.received, 264);
    const error = caught(() => receiver.write(pkg.slice(264, 265), 1));
    ok(error instanceof FlashError && error.code === "unerased", String(error));
    equal((error as Error).message, "delta receiver: the next output sector is not erased yet");
  });

  it("checks write()'s arguments: the length inside the buffer, not past the package, 0 takes nothing", () => {
    const { world, receiver } = setUp();
    const buffer = new Uint8Array(16);
    for (const length of [-1, 1.5, 17]) {
      const error = caught(() => receiver.write(buffer, length));
      ok(error instanceof RangeError, String(error));
      equal(error.message, `delta receiver: length ${length} outside the 16-byte buffer`);
    }
    receiver.write(buffer, 0);
    equal(receiver.received, 0);
    equal(world.hashed.length, 0);
    feed(receiver, pkg, 48);
    const past = caught(() => receiver.write(buffer, 1));
    ok(past instanceof RangeError, String(past));
    equal(past.message, "delta receiver: write up to 317 past the package size 316");
    equal(receiver.received, 316);
    ok(receiver.finish().ok);
  });

  it("hands the package digests the caller's buffer, or one cached view per buffer and length", () => {
    const { world, receiver } = setUp();
    const a = new Uint8Array(64);
    const b = new Uint8Array(64);
    const whole = new Uint8Array(16);
    const c = new Uint8Array(64);
    const chunks = [a, b, a, b, a, a, a, c, whole];
    const lengths = [40, 40, 40, 40, 30, 30, 30, 40, 16];
    let at = 0;
    for (let i = 0; i < chunks.length; i++) {
      chunks[i]!.set(pkg.subarray(at, at + lengths[i]!));
      while (receiver.eraseStep(at + lengths[i]!));
      receiver.write(chunks[i]!, lengths[i]!);
      at += lengths[i]!;
    }
    const seen = world.hashed;
    deepEqual(
      seen.map((c) => c.length),
      lengths,
    );
    ok(
      seen[2] === seen[0] && seen[3] === seen[1] && seen[0] !== seen[1],
      "alternating buffers reuse their views",
    );
    ok(seen[4] !== seen[0] && seen[5] === seen[4] && seen[6] === seen[4], "a new length gets one new view");
    ok(seen[7] !== seen[1], "a third buffer does not take the view of the one before it in its slot");
    ok(seen[8] === whole, "a whole buffer is passed as it is");
    ok(seen.every((c, i) => c.buffer === chunks[i]!.buffer && c.byteOffset === 0));
  });

  it("a flash error in the target's write is thrown as such, and the receiver is unusable after it", () => {
    const { world, receiver } = setUp();
    started(world, receiver);
    const boom = new FlashError("mem target: program failed", "io");
    world.targets[0]!.failWrite = { index: 1, error: boom };
    let thrown: unknown;
    try {
      feed(receiver, pkg, 48, 88);
    } catch (error) {
      thrown = error;
    }
    equal(thrown, boom);
    for (const call of [
      () => receiver.write(pkg, 1),
      () => receiver.eraseStep(316),
      () => receiver.finish(),
    ]) {
      const error = caught(call);
      ok(!(error instanceof DeltaRefused), String(error));
      equal((error as Error).message, "delta receiver: unusable after a flash error");
    }
  });

  it("refuses headers it cannot apply, at the write that completes the header, with the reason", () => {
    const cases: [Partial<WorldOptions>, string, string][] = [
      [{ noReadRunning: true }, "unsupported", "this device's boot control cannot read the running image"],
      [
        { runningSlotLength: 575, runningSize: 0 },
        "wrong-base",
        "the delta is for a 576-byte image, the running one has 0 bytes",
      ],
      [
        { runningSize: 577 },
        "wrong-base",
        "the delta is for a 576-byte image, the running one has 577 bytes",
      ],
      [
        { runningSize: 575 },
        "wrong-base",
        "the delta is for a 576-byte image, the running one has 575 bytes",
      ],
    ];
    for (const [options, code, message] of cases) {
      const { world, receiver } = setUp(options);
      receiver.write(pkg.slice(0, 87), 87);
      const error = refusal(() => receiver.write(pkg.slice(87, 100), 13));
      equal(error.code, code);
      equal(error.message, `delta package refused (${code}): ${message}`);
      equal(receiver.incomplete(), error.message);
      equal(world.reads.length, 0);
      // Sticky: every later call throws the same refusal.
      equal(
        caught(() => receiver.eraseStep(316)),
        error,
      );
      equal(
        caught(() => receiver.finish()),
        error,
      );
    }
    // A slot exactly the source's size, and an unknown running size (0), are accepted.
    for (const options of [{ runningSlotLength: 576, runningSize: 0 }, { runningSize: 0 }]) {
      const { receiver } = setUp(options);
      feed(receiver, pkg, 48);
      ok(receiver.finish().ok);
    }
  });

  it("finish(): reasons for a package cut short, wrong package digests, a slot that fails; finished once", () => {
    const cut = setUp();
    feed(cut.receiver, pkg.subarray(0, 200), 48);
    equal(
      cut.receiver.incomplete(),
      "delta package refused (truncated): the package ended at byte 200 of 316",
    );
    const short = setUp();
    short.receiver.write(pkg.slice(0, 40), 40);
    equal(short.receiver.incomplete(), "the delta package is not applied yet");
    deepEqual(short.receiver.finish(), {
      ok: false,
      reason: "delta",
      md5: hex(pkg.subarray(0, 40), "MD5"),
      sha256: hex(pkg.subarray(0, 40), "SHA256"),
    });
    const md5 = setUp({}, { ...descriptor, md5: "0".repeat(31) + "1" });
    feed(md5.receiver, pkg, 48);
    deepEqual(md5.receiver.finish(), {
      ok: false,
      reason: "md5",
      md5: hex(pkg, "MD5"),
      sha256: hex(pkg, "SHA256"),
    });
    // Upper-case digests are the same digests; a wrong SHA-256 is refused; none announced: the MD5 decides.
    const upper = setUp(
      {},
      { ...descriptor, md5: descriptor.md5.toUpperCase(), sha256: descriptor.sha256.toUpperCase() },
    );
    feed(upper.receiver, pkg, 48);
    equal(upper.receiver.finish().reason, "");
    const sha = setUp({}, { ...descriptor, sha256: "0".repeat(64) });
    feed(sha.receiver, pkg, 48);
    equal(sha.receiver.finish().reason, "sha256");
    const none = setUp({}, { ...descriptor, sha256: "" });
    feed(none.receiver, pkg, 48);
    equal(none.receiver.finish().reason, "");
    // The slot's own check fails (it reads back other bytes): the package is not the image.
    const bad = setUp();
    feed(bad.receiver, pkg, 48);
    bad.world.targets[0]!.verdict = { ok: false, reason: "sha256", md5: "x", sha256: "y" };
    deepEqual(bad.receiver.finish(), {
      ok: false,
      reason: "image sha256",
      md5: hex(pkg, "MD5"),
      sha256: hex(pkg, "SHA256"),
    });
    deepEqual(bad.world.logs, []);
    const error = caught(() => bad.receiver.finish());
    equal((error as Error).message, "delta receiver: already finished");
    ok(!(error instanceof DeltaRefused));
  });

  it("readBack() before the target exists is an error", () => {
    const { receiver } = setUp();
    const error = caught(() => receiver.readBack(0, new Uint8Array(4)));
    ok(error instanceof RangeError, String(error));
    equal(error.message, "delta receiver: no image in the slot yet");
  });
});
