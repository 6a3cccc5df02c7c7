// Signed packages (MCUboot format) through the ESP32 backend: the body goes to partition offset 0, the header and
// TLVs are kept apart, readBack() gives the package as received so the signature check is unchanged; resume works.

import { toHex } from "../../../../hal/digest.js";
import { bytesEqual, deepEqual, equal, ok } from "../../../lib/assert.js";
import { MemoryKeyValueStore } from "../../../../hal/sim/memory-kv.js";
import { PowerSwitch, SimEspIdf } from "../../../../hal/sim/esp-idf-otadata.js";
import {
  Esp32BootControl,
  IMAGE_RECORD_KEY,
  PACKAGE_HEAD_KEY,
  PACKAGE_TAIL_KEY,
} from "../../../../src/boot/esp32/esp32-boot.js";
import type { ImageReceiver } from "../../../../src/image/types.js";
import type { Verdict } from "../../../../src/package/verifier.js";
import { digests, fixture, flipped, makeVerifier } from "../../package/helpers.js";
import { descriptorOf as descriptor, feed } from "./fixtures.js";

const BLOCK = 1024;
const HDR = 0x200;

function rig() {
  const power = new PowerSwitch();
  const factory = new Uint8Array(BLOCK);
  factory[0] = 0xe9;
  const sim = new SimEspIdf(
    { partitionSize: 8 * BLOCK, blockLength: BLOCK, bootloaderRollback: true, appRollback: true, power },
    factory,
  );
  sim.boot();
  const kv = new MemoryKeyValueStore();
  const open = () =>
    new Esp32BootControl(
      { flash: sim.appFlash(), ota: sim.port(), digests, kv },
      { component: "mcu", version: "1.0.0" },
      // The fixtures' body is not an ESP-IDF app (no 0xE9); the simulated backend is not asked to boot it.
      { appMagic: false },
    );
  return { sim, kv, open };
}

/** What src/sota/finish.ts does: the package read back a block at a time through the verifier. */
function checkSignature(receiver: ImageReceiver): Verdict {
  const verifier = makeVerifier();
  verifier.begin({ targetVersion: "2.0.0", minSecurityCounter: 0 });
  const block = new Uint8Array(1024);
  const size = receiver.descriptor.size;
  for (let at = 0; at < size; at += block.length) {
    const view = at + block.length <= size ? block : block.subarray(0, size - at);
    receiver.readBack(at, view);
    verifier.write(view);
  }
  return verifier.finish();
}

function bodyOf(pkg: Uint8Array): { img: number; body: Uint8Array; tail: Uint8Array } {
  const img = pkg[12]! | (pkg[13]! << 8) | (pkg[14]! << 16) | (pkg[15]! << 24);
  return { img, body: pkg.subarray(HDR, HDR + img), tail: pkg.subarray(HDR + img) };
}

describe("src/boot/esp32 signed packages", () => {
  for (const name of ["imgtool-p256.bin", "pack-ed25519.bin", "imgtool-p256-pubkey.bin"]) {
    it(`${name}: body at partition offset 0, header and TLVs kept, the signature verifies over readBack`, () => {
      const { sim, kv, open } = rig();
      const pkg = fixture(name);
      const receiver = open().startReceive(descriptor(pkg));
      feed(receiver, pkg, 700);
      const verdict = checkSignature(receiver);
      ok(verdict.ok, JSON.stringify(verdict));
      equal(receiver.finish().ok, true);
      const { img, body, tail } = bodyOf(pkg);
      bytesEqual(sim.partitions[1].inspect(0, img), body);
      bytesEqual(
        sim.partitions[1].inspect(img, BLOCK - (img % BLOCK)),
        new Uint8Array(BLOCK - (img % BLOCK)).fill(0xff),
      );
      const record = JSON.parse(kv.get(IMAGE_RECORD_KEY)!);
      deepEqual([record.state, record.hdr, record.img], ["verified", HDR, img]);
      equal(kv.get(PACKAGE_TAIL_KEY), toHex(tail));
      equal(JSON.parse(kv.get(PACKAGE_HEAD_KEY)!).head, toHex(pkg.subarray(0, HDR)));
    });
  }

  it("refused: a stranger's key and a flipped body byte (the module's digests match both), nothing verified", () => {
    const { open, kv } = rig();
    const boot = open();
    const stranger = fixture("imgtool-p256-stranger.bin");
    const r1 = boot.startReceive(descriptor(stranger));
    feed(r1, stranger, 1024);
    const v1 = checkSignature(r1);
    equal(v1.ok ? "ok" : v1.reason, "unknown-key");
    const forged = flipped(fixture("imgtool-p256.bin"), HDR + 100);
    const r2 = boot.startReceive(descriptor(forged));
    feed(r2, forged, 1024);
    const v2 = checkSignature(r2);
    equal(v2.ok ? "ok" : v2.reason, "bad-hash");
    boot.abandonReceive("verification failed: bad-hash");
    equal(JSON.parse(kv.get(IMAGE_RECORD_KEY)!).state, "empty");
  });

  it("resumes after a reset from the kept header and the journaled body prefix", () => {
    const { sim, open, kv } = rig();
    const pkg = fixture("imgtool-p256.bin");
    feed(open().startReceive(descriptor(pkg)), pkg, 300, HDR + 2 * BLOCK + 100);
    const resumed = open().resumeReceive()!;
    equal(resumed.received, HDR + 2 * BLOCK);
    feed(resumed, pkg, 300);
    ok(checkSignature(resumed).ok);
    equal(resumed.finish().ok, true);
    const { img, body } = bodyOf(pkg);
    bytesEqual(sim.partitions[1].inspect(0, img), body);
    // Without the kept header the journal cannot be trusted: the download starts over.
    const again = open();
    const r = again.startReceive(descriptor(pkg));
    feed(r, pkg, 300, HDR + 2 * BLOCK + 100);
    kv.delete(PACKAGE_HEAD_KEY);
    equal(open().resumeReceive()!.received, 0);
  });

  it("a malformed header (hdr_size beyond the limit) is dropped, refused by the verifier and by finish", () => {
    const { open } = rig();
    const pkg = fixture("imgtool-p256.bin").slice();
    pkg[9] = 0x20; // hdr_size 0x2000
    const receiver = open().startReceive(descriptor(pkg));
    feed(receiver, pkg, 512);
    const verdict = checkSignature(receiver);
    equal(verdict.ok ? "ok" : verdict.reason, "malformed-header");
    equal(receiver.finish().reason, "format");
  });
});
