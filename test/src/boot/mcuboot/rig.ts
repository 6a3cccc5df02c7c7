// Shared set-up for the MCUboot backend suites: a simulated flash holding both slots and the records (portable).
import { SimNorFlash } from "../../../../hal/sim/nor-flash.js";
import { planLayout, type FlashLayout } from "../../../../src/flash-format/layout.js";
import { makeTrailer, type McubootOptions } from "../../../../src/boot/mcuboot/mcuboot-boot.js";
import type { McubootTrailer, SwapMode } from "../../../../src/boot/mcuboot/trailer.js";
import { FIXTURES, type McubootFixture } from "./fixtures.js";

export interface McubootGeometry {
  name: string;
  blockLength: number;
  writeAlign: number;
  /** Blocks per slot. */
  slotBlocks: number;
}

export const MCUBOOT_GEOMETRIES: McubootGeometry[] = [
  { name: "4K/1", blockLength: 4096, writeAlign: 1, slotBlocks: 8 },
  { name: "4K/8", blockLength: 4096, writeAlign: 8, slotBlocks: 8 },
  { name: "4K/16", blockLength: 4096, writeAlign: 16, slotBlocks: 8 },
];

export interface Rig {
  sim: SimNorFlash;
  layout: FlashLayout;
  options: McubootOptions;
  trailer: McubootTrailer;
  /** MCUboot's own bytes for this mode and alignment. */
  fixture: McubootFixture;
}

export function makeRig(mode: SwapMode, g: McubootGeometry): Rig {
  const blocks = 2 * g.slotBlocks + 3;
  const sim = new SimNorFlash({
    size: blocks * g.blockLength,
    blockLength: g.blockLength,
    writeAlign: g.writeAlign,
  });
  const layout = planLayout(sim.status(), { slotLength: g.slotBlocks * g.blockLength });
  const options: McubootOptions = { mode };
  const trailer = makeTrailer(layout, options);
  const fixture = FIXTURES.find(
    (f) => f.mode === mode && f.writeAlign === g.writeAlign && f.maxAlign === trailer.layout.maxAlign,
  );
  if (!fixture) throw new Error(`no MCUboot fixture for ${mode} write ${g.writeAlign}`);
  return { sim, layout, options, trailer, fixture };
}

/** The last `length` bytes of a slot. */
export function slotEnd(rig: Rig, slot: number, length: number): Uint8Array {
  const region = rig.layout.slots[slot]!;
  return rig.sim.inspect(region.offset + region.length - length, length);
}

/** True when `slot` starts with exactly `image` (at `at` bytes into the slot). */
export function holds(rig: Rig, slot: number, image: Uint8Array, at = 0): boolean {
  const bytes = rig.sim.inspect(rig.layout.slots[slot]!.offset + at, image.length);
  for (let i = 0; i < image.length; i++) if (bytes[i] !== image[i]) return false;
  return true;
}
