// DeltaReceiver after a reset and with a slot already holding part of the target (portable): resumes from each
// checkpoint, the prefix the package digests still need, a partial of another image refused, verified output compared
// instead of rewritten; and a plain image sent as a differential package (no delta magic), with a partial reused.
import { bytesEqual, deepEqual, equal, ok } from "../../lib/assert.js";
import { firmwareV1, firmwareV2 } from "../../fixtures/delta/fixture-data.js";
import { DeltaReceiver, DeltaRefused } from "../../../src/image/delta-receiver.js";
import { UNKNOWN_MD5, type ImageDescriptor } from "../../../src/image/types.js";
import { makeDeltaPackage } from "../../../tools/delta/create.js";
import { MemTarget, caught, fakeWorld, hex, packageDescriptor } from "./delta-fakes.js";

const pkg = makeDeltaPackage(firmwareV1, firmwareV2);
const descriptor = packageDescriptor(pkg);
/** The target the package builds: its MD5 unknown, its SHA-256 the header's. */
const wanted: ImageDescriptor = {
  component: "app",
  version: "1.1.0",
  size: firmwareV2.length,
  md5: UNKNOWN_MD5,
  sha256: hex(firmwareV2, "SHA256"),
  crc: 0,
};

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

/** The checkpoints of a whole receive on 128-byte sectors: outputs 128, 256, 384 and 512. */
function checkpoints(): Uint8Array[] {
  const world = fakeWorld({ source: firmwareV1, block: 128 });
  feed(new DeltaReceiver(world.ports, descriptor), pkg, 48);
  equal(world.checkpoints.length, 4);
  return world.checkpoints;
}

function resumeWith(record: Uint8Array, prefix: number, d: ImageDescriptor = wanted) {
  const partial = new MemTarget(d, 128, firmwareV2.subarray(0, prefix));
  const world = fakeWorld({ source: firmwareV1, block: 128, partial });
  return { partial, world, receiver: DeltaReceiver.resume(world.ports, descriptor, record) };
}

describe("src/image/delta-receiver resume and partial slots", () => {
  it("resumes from each checkpoint: the output re-read for the SHA-256, then the package from its offset", () => {
    const records = checkpoints();
    const cases: [number, number, number, string[], number][] = [
      [0, 128, 101, ["readBack 0+128"], 1],
      [1, 256, 184, ["readBack 0+256"], 1],
      [2, 384, 266, ["readBack 0+256", "readBack 256+128"], 2],
      // Whole 256-byte reads go through the one scratch, no view.
      [3, 512, 303, ["readBack 0+256", "readBack 256+256"], 1],
    ];
    for (const [index, output, packageOffset, reads, buffers] of cases) {
      const { partial, world, receiver } = resumeWith(records[index]!, output);
      ok(receiver, `checkpoint ${index}`);
      equal(receiver.outputOffset, output);
      equal(receiver.received, packageOffset);
      equal(receiver.resumedAt, packageOffset);
      equal(receiver.prefixPending, packageOffset);
      equal(receiver.target, partial);
      deepEqual(partial.take(), reads);
      equal(partial.readInto.size, buffers);
      feed(receiver, pkg, 48, packageOffset);
      equal(receiver.prefixPending, 0);
      // The digests saw only the rest of the package: the built image's SHA-256 decides, as the log says.
      const verdict = receiver.finish();
      deepEqual(verdict, {
        ok: true,
        reason: "",
        md5: hex(firmwareV2, "MD5"),
        sha256: hex(firmwareV2, "SHA256"),
      });
      equal(
        world.logs[0],
        `package digests not compared: the receive resumed at package byte ${packageOffset}; the image's SHA-256 decides`,
      );
      bytesEqual(partial.data, firmwareV2);
      equal(world.targets.length, 0);
    }
  });

  it("the prefix re-read for the package digests: counted down, bounded, then the digests decide again", () => {
    const records = checkpoints();
    const { world, receiver } = resumeWith(records[1]!, 256);
    ok(receiver);
    receiver.hashPrefix(pkg.slice(0, 100), 100);
    equal(receiver.prefixPending, 84);
    const error = caught(() => receiver.hashPrefix(pkg.slice(100, 185), 85));
    ok(error instanceof RangeError, String(error));
    equal(error.message, "delta receiver: 85 prefix bytes, 84 pending");
    receiver.hashPrefix(pkg.slice(100, 184), 84);
    equal(receiver.prefixPending, 0);
    feed(receiver, pkg, 48, 184);
    deepEqual(receiver.finish(), {
      ok: true,
      reason: "",
      md5: hex(firmwareV2, "MD5"),
      sha256: hex(firmwareV2, "SHA256"),
    });
    equal(world.logs.length, 1);
    ok(world.logs[0]!.startsWith("delta: built 616 bytes"));
    // Not all of the prefix re-read: the MD5 cannot be compared, the image decides.
    const some = resumeWith(records[1]!, 256);
    some.receiver!.hashPrefix(pkg.slice(0, 10), 10);
    feed(some.receiver!, pkg, 48, 184);
    equal(some.receiver!.prefixPending, 0);
    ok(some.receiver!.finish().ok);
    equal(some.world.logs[0]!.startsWith("package digests not compared"), true);
  });

  it("a resumed receive that does not complete fails as a delta, without a word about its digests", () => {
    const records = checkpoints();
    const { world, receiver } = resumeWith(records[1]!, 256);
    ok(receiver);
    feed(receiver, pkg.subarray(0, 280), 48, 184);
    deepEqual(receiver.finish(), {
      ok: false,
      reason: "delta",
      md5: hex(pkg.subarray(184, 280), "MD5"),
      sha256: hex(pkg.subarray(184, 280), "SHA256"),
    });
    deepEqual(world.logs, []);
  });

  it("with the whole prefix re-read, a package whose MD5 is not the announced one is refused", () => {
    const records = checkpoints();
    const partial = new MemTarget(wanted, 128, firmwareV2.subarray(0, 256));
    const world = fakeWorld({ source: firmwareV1, block: 128, partial });
    const receiver = DeltaReceiver.resume(world.ports, { ...descriptor, md5: "f".repeat(32) }, records[1]!);
    ok(receiver);
    receiver.hashPrefix(pkg.slice(0, 184), 184);
    feed(receiver, pkg, 48, 184);
    deepEqual(receiver.finish(), {
      ok: false,
      reason: "md5",
      md5: hex(pkg, "MD5"),
      sha256: hex(pkg, "SHA256"),
    });
    // Without the prefix the same wrong MD5 goes unnoticed: the image's SHA-256 decides.
    const again = resumeWith(records[1]!, 256);
    const other = DeltaReceiver.resume(
      again.world.ports,
      { ...descriptor, md5: "f".repeat(32) },
      records[1]!,
    );
    ok(other);
    feed(other, pkg, 48, 184);
    equal(other.finish().ok, true);
  });

  it("no resume without a partial of the same target, with a bad record, or with less output verified", () => {
    const records = checkpoints();
    const none = fakeWorld({ source: firmwareV1, block: 128 });
    equal(DeltaReceiver.resume(none.ports, descriptor, records[1]!), undefined);
    const others: ImageDescriptor[] = [
      { ...wanted, component: "net" },
      { ...wanted, version: "1.2.0" },
      { ...wanted, size: 617 },
      { ...wanted, md5: hex(firmwareV2, "MD5") },
      { ...wanted, sha256: hex(firmwareV1, "SHA256") },
    ];
    for (const other of others) {
      const { partial, receiver } = resumeWith(records[1]!, 256, other);
      equal(receiver, undefined, JSON.stringify(other));
      deepEqual(partial.take(), []);
    }
    const record = records[1]!.slice();
    record[0] = 2;
    equal(resumeWith(record, 256).receiver, undefined);
    // The slot reads as stored past its verified bytes: the record is readable, but points past them.
    const partial = new MemTarget(wanted, 128, firmwareV2.subarray(0, 255));
    partial.readsAsStored = true;
    const world = fakeWorld({ source: firmwareV1, block: 128, partial });
    equal(DeltaReceiver.resume(world.ports, descriptor, records[1]!), undefined);
    deepEqual(partial.take(), ["readBack 0+256"]);
  });

  it("verified output past the checkpoint is compared, not rewritten; a difference is refused", () => {
    const records = checkpoints();
    const { partial, receiver } = resumeWith(records[1]!, 300);
    ok(receiver);
    partial.take();
    const steps: string[] = [];
    const buffer = new Uint8Array(48);
    for (let at = 184; at < pkg.length; at += 48) {
      const n = Math.min(48, pkg.length - at);
      while (receiver.eraseStep(at + n));
      buffer.set(pkg.subarray(at, at + n));
      receiver.write(buffer, n);
      steps.push(partial.take().join(", "));
    }
    // Bytes 256..300 are read back and compared; only 300..384 are written.
    deepEqual(steps.slice(0, 2), [
      "needsErase 384, needsErase 384",
      "needsErase 384, needsErase 384, readBack 256+44, write 84/84, needsErase 512",
    ]);
    while (receiver.needsErase(pkg.length) && receiver.eraseStep(pkg.length));
    ok(receiver.finish().ok);
    bytesEqual(partial.data, firmwareV2);
    // A verified byte that differs from the patch's output.
    const corrupt = firmwareV2.slice(0, 300);
    corrupt[290] ^= 0x40;
    const target = new MemTarget(wanted, 128, corrupt);
    const world = fakeWorld({ source: firmwareV1, block: 128, partial: target });
    const broken = DeltaReceiver.resume(world.ports, descriptor, records[1]!);
    ok(broken);
    let error: unknown;
    try {
      feed(broken, pkg, 48, 184);
    } catch (e) {
      error = e;
    }
    ok(error instanceof DeltaRefused && error.code === "corrupt", String(error));
    equal(error.message, "the slot's verified bytes differ from the patch output at 290");
    equal(target.received, 300);
  });

  it("a fresh receive over a partial of the same target compares its verified bytes; another target starts anew", () => {
    const partial = new MemTarget(wanted, 128, firmwareV2.subarray(0, 256));
    const world = fakeWorld({ source: firmwareV1, block: 128, partial });
    const receiver = new DeltaReceiver(world.ports, descriptor);
    feed(receiver, pkg, 48);
    ok(receiver.finish().ok);
    equal(world.logs[0], "delta: 256 bytes of 1.1.0 verified in the slot are compared, not rewritten");
    deepEqual(world.targets, []);
    deepEqual(world.announced, []);
    bytesEqual(partial.data, firmwareV2);
    ok(partial.log.includes("readBack 0+128") && partial.log.includes("readBack 128+128"));
    equal(partial.log.filter((l) => l.startsWith("write")).length, 3);
    // A partial of another version: the target is announced and started.
    const other = new MemTarget({ ...wanted, version: "1.0.9" }, 128, firmwareV2.subarray(0, 256));
    const world2 = fakeWorld({ source: firmwareV1, block: 128, partial: other });
    const receiver2 = new DeltaReceiver(world2.ports, descriptor);
    feed(receiver2, pkg, 48);
    ok(receiver2.finish().ok);
    deepEqual(world2.announced, [wanted]);
    equal(world2.targets.length, 1);
    deepEqual(world2.targets[0]!.descriptor, wanted);
    deepEqual(other.log, []);
  });

  it("on 512-byte sectors the verified output is compared in whole 256-byte reads through one scratch", () => {
    const partial = new MemTarget(wanted, 512, firmwareV2.subarray(0, 512));
    const world = fakeWorld({ source: firmwareV1, block: 512, partial });
    const receiver = new DeltaReceiver(world.ports, descriptor);
    feed(receiver, pkg, 48);
    ok(receiver.finish().ok);
    deepEqual(
      partial.log.filter((l) => !l.startsWith("needsErase") && !l.startsWith("eraseStep")),
      ["readBack 0+256", "readBack 256+256", "write 104/256", "finish"],
    );
    equal(partial.readInto.size, 1);
    bytesEqual(partial.data, firmwareV2);
  });
});

describe("src/image/delta-receiver plain images", () => {
  const plain = packageDescriptor(firmwareV2);

  it("a package without the delta magic is the image: its header waits in the stash, then it is written as it comes", () => {
    const world = fakeWorld({ source: firmwareV1, block: 128 });
    const receiver = new DeltaReceiver(world.ports, plain);
    const buffer = new Uint8Array(100);
    const steps: string[] = [];
    const take = () => (world.targets[0]?.take() ?? []).join(", ");
    for (let at = 0; at < firmwareV2.length; at += 100) {
      const n = Math.min(100, firmwareV2.length - at);
      // Past the bytes taken, the slot receive's own answer (sector 3 is not erased yet).
      if (at === 300) {
        equal(receiver.needsErase(400), true);
        equal(take(), "needsErase 400");
      }
      const erases: string[] = [];
      if (at === 100) {
        // The target started, its first bytes still in the stash: due, not readable, the image incomplete.
        equal(receiver.eraseStep(at + n), true);
        erases.push(take() || "-");
        equal(receiver.needsErase(1), true);
        equal(receiver.incomplete(), "bytes still wait to be written");
        const error = caught(() => receiver.readBack(0, new Uint8Array(4)));
        equal((error as Error).message, "delta receiver: bytes still wait to be written");
      }
      while (receiver.eraseStep(at + n)) erases.push(take() || "-");
      const last = take();
      buffer.set(firmwareV2.subarray(at, at + n));
      receiver.write(buffer, n);
      steps.push(JSON.stringify([at + n, erases, last, take()]));
    }
    deepEqual(steps, [
      `[100,[],"",""]`,
      `[200,["-","needsErase 100, eraseStep 100","needsErase 100, write 100/176","needsErase 200, eraseStep 200"],"needsErase 200","write 100/100"]`,
      `[300,["needsErase 300, eraseStep 300"],"needsErase 300","write 100/100"]`,
      `[400,["needsErase 400, eraseStep 400"],"needsErase 400","write 100/100"]`,
      `[500,[],"needsErase 500","write 100/100"]`,
      `[600,["needsErase 600, eraseStep 600"],"needsErase 600","write 100/100"]`,
      `[616,[],"needsErase 616","write 16/100"]`,
    ]);
    equal(receiver.needsErase(616), false);
    equal(receiver.incomplete(), "");
    equal(receiver.imageSize, 616);
    equal(receiver.header, undefined);
    const into = new Uint8Array(8);
    receiver.readBack(600, into);
    bytesEqual(into, firmwareV2.subarray(600, 608));
    deepEqual(receiver.finish(), {
      ok: true,
      reason: "",
      md5: hex(firmwareV2, "MD5"),
      sha256: hex(firmwareV2, "SHA256"),
    });
    deepEqual(world.logs, []);
    equal(world.reads.length, 0);
  });

  it("a plain image cut short: every byte written, but fewer than announced", () => {
    const world = fakeWorld({ source: firmwareV1, block: 128 });
    const receiver = new DeltaReceiver(world.ports, plain);
    feed(receiver, firmwareV2.subarray(0, 300), 100);
    equal(receiver.incomplete(), "");
    deepEqual(receiver.finish(), {
      ok: false,
      reason: "size",
      md5: hex(firmwareV2.subarray(0, 300), "MD5"),
      sha256: hex(firmwareV2.subarray(0, 300), "SHA256"),
    });
  });

  it("an untouched partial of the same image (digests in any case) is reused; a touched or other one is not", () => {
    const same: ImageDescriptor[] = [
      plain,
      { ...plain, md5: plain.md5.toUpperCase(), sha256: plain.sha256.toUpperCase() },
    ];
    for (const d of same) {
      const partial = new MemTarget(d, 128);
      const world = fakeWorld({ source: firmwareV1, block: 128, partial });
      const receiver = new DeltaReceiver(world.ports, plain);
      feed(receiver, firmwareV2, 100);
      ok(receiver.finish().ok);
      equal(world.targets.length, 0);
      bytesEqual(partial.data, firmwareV2);
    }
    const others: [ImageDescriptor, number][] = [
      [plain, 128],
      [{ ...plain, component: "net" }, 0],
      [{ ...plain, version: "1.0.9" }, 0],
      [{ ...plain, size: 617 }, 0],
      [{ ...plain, md5: hex(firmwareV1, "MD5") }, 0],
      [{ ...plain, sha256: hex(firmwareV1, "SHA256") }, 0],
    ];
    for (const [d, prefix] of others) {
      const partial = new MemTarget(d, 128, prefix ? firmwareV2.subarray(0, prefix) : undefined);
      const world = fakeWorld({ source: firmwareV1, block: 128, partial });
      const receiver = new DeltaReceiver(world.ports, plain);
      feed(receiver, firmwareV2, 100);
      ok(receiver.finish().ok);
      equal(world.targets.length, 1, JSON.stringify(d));
      deepEqual(world.targets[0]!.descriptor, plain);
      deepEqual(partial.log, []);
    }
  });
});
