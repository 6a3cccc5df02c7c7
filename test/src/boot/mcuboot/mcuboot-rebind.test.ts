// MCUboot backend: a provisional receive erased before the confirm is bound to the 10701's digests keeping its erases,
// and a module reboot's resume skips the blocks erased ahead (docs/protocol.md §13, decisions 82 and 84). Portable.
import { deepEqual, equal, ok, throws } from "../../../lib/assert.js";
import { formatMcuboot, openMcuboot } from "../../../../src/boot/mcuboot/mcuboot-boot.js";
import { SwapType } from "../../../../src/boot/mcuboot/trailer.js";
import { describeImage, digests, download, makeImage, md5Hex, sha256Hex } from "../fixtures.js";
import { mcubootReset } from "./mcuboot-sim.js";
import { MCUBOOT_GEOMETRIES, makeRig } from "./rig.js";

const OLD = makeImage(4096 + 777, 41);
const NEW = makeImage(3 * 4096 + 1234, 43);

function setup() {
  const rig = makeRig("move", MCUBOOT_GEOMETRIES[1]!);
  formatMcuboot(rig.sim, rig.layout, digests, { component: "app", version: "1.0", bytes: OLD });
  const boot = openMcuboot(rig.sim, rig.layout, digests, rig.options);
  const first = rig.layout.slots[1].offset / rig.layout.blockLength;
  const blocks = rig.layout.slots[1].length / rig.layout.blockLength;
  const erases = (): number[] =>
    Array.from({ length: blocks }, (_, i) => rig.sim.stats.erases[first + i] ?? 0);
  return { rig, boot, erases };
}

describe("src/boot/mcuboot rebind and module-reboot resume", () => {
  it("binds an untouched provisional receive to the real image with one record, keeping every erase", () => {
    const { rig, boot, erases } = setup();
    const real = describeImage(NEW, "2.0");
    const provisional = { ...real, md5: "0".repeat(32), sha256: "", crc: 0 };
    const rx = boot.startReceive(provisional);
    while (rx.needsErase(NEW.length)) rx.eraseStep(NEW.length);
    const before = erases();
    const bound = boot.rebindReceive!(rx, real);
    equal(boot.report.slots[1]!.md5, real.md5, "the record names the real image");
    equal(bound.needsErase(NEW.length), false, "the erased blocks stay erased");
    download(bound, NEW, 1000);
    deepEqual(bound.finish(), { ok: true, reason: "", md5: md5Hex(NEW), sha256: sha256Hex(NEW) });
    deepEqual(erases(), before, "no block erased twice");
    throws(() => boot.rebindReceive!(bound, real), /no untouched receive/);
    boot.activate();
    equal(mcubootReset(rig.sim, rig.layout, rig.trailer).swapType, SwapType.test);
  });

  it("refuses to rebind a receive something was written through, an abandoned one, or an image too large", () => {
    const { boot } = setup();
    const real = describeImage(NEW, "2.0");
    const rx = boot.startReceive({ ...real, md5: "0".repeat(32) });
    throws(() => boot.rebindReceive!(rx, { ...real, size: 1 << 20 }), /MCUboot's \d+-byte limit/);
    download(rx, NEW, 16, 16);
    throws(() => boot.rebindReceive!(rx, real), /no untouched receive/);
    const again = boot.startReceive({ ...real, md5: "0".repeat(32) });
    boot.abandonReceive("plan withdrawn");
    throws(() => boot.rebindReceive!(again, real), /no untouched receive/);
    equal(boot.resumeReceive(again), undefined, "nothing to resume after an abandon");
  });

  it("a verified image not yet activated stays verified through a reset (no request stands for it)", () => {
    const { rig, boot } = setup();
    const rx = boot.startReceive(describeImage(NEW, "2.0"));
    download(rx, NEW, 1000);
    ok(rx.finish().ok);
    equal(mcubootReset(rig.sim, rig.layout, rig.trailer).swapType, SwapType.none);
    const reopened = openMcuboot(rig.sim, rig.layout, digests, rig.options);
    equal(reopened.report.slots[1]!.state, "verified");
    equal(reopened.report.trial, false);
  });

  it("after a module reboot the resume erases again only the block it was writing", () => {
    const { boot, erases } = setup();
    const real = describeImage(NEW, "2.0");
    const base = erases();
    const rx = boot.startReceive(real);
    while (rx.needsErase(NEW.length)) rx.eraseStep(NEW.length);
    download(rx, NEW, 1000, 4096 + 1000);
    const resumed = boot.resumeReceive(rx)!;
    equal(resumed.received, 4096);
    download(resumed, NEW, 1000);
    ok(resumed.finish().ok);
    const delta = erases().map((n, i) => n - base[i]!);
    deepEqual(delta.slice(0, 4), [1, 2, 1, 1], "the image's blocks: only block 1 (half written) twice");
  });
});
