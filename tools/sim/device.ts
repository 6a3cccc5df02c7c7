// One simulated device for the demo, the tests and the benchmarks: virtual clock, a paced UART link to the module,
// NOR flash laid out in two slots with a factory image, pure-JS digests and a key-value store in RAM. Portable.

import type { FlashStatus } from "../../hal/flash.js";
import { NobleDigestFactory } from "../../hal/sim/digest.js";
import { MemoryKeyValueStore } from "../../hal/sim/memory-kv.js";
import { SimNorFlash } from "../../hal/sim/nor-flash.js";
import { createSerialLink } from "../../hal/sim/serial-link.js";
import type { SerialLink } from "../../hal/sim/serial-link.js";
import { VirtualClock } from "../../hal/sim/virtual-clock.js";
import { formatFactory } from "../../src/boot/generic-boot.js";
import { planLayout } from "../../src/flash-format/layout.js";
import type { FlashLayout } from "../../src/flash-format/layout.js";
import { HOST_FLASH_GEOMETRY, partitionSizeFor } from "../device/flash-setup.js";

/**
 * When flash work costs virtual time: "always" (also the factory format), "after-factory" (the factory state is
 * made "at the factory", then every erase and write blocks the CPU) or "never".
 */
export type FlashTime = "always" | "after-factory" | "never";

export interface SimDeviceOptions {
  baud: number;
  /** Bytes each slot holds (rounded up to whole blocks). */
  slotSize: number;
  /** The confirmed image in slot 0, as it left the factory. */
  factory: { component: string; version: string; bytes: Uint8Array };
  /** Receive FIFO of the device's UART (128 on an ESP32); undefined = unbounded. */
  fifoSize?: number;
  /** Flash geometry; default a typical serial NOR (4 KiB sectors, 4-byte program unit). */
  blockLength?: number;
  writeAlign?: number;
  /** Whole partition; default the smallest one whose layout has two slots of `slotSize`. */
  partitionSize?: number;
  /** Default "after-factory". */
  flashTime?: FlashTime;
  clock?: VirtualClock;
}

export interface SimDevice {
  clock: VirtualClock;
  digests: NobleDigestFactory;
  /** `a` is the device's UART, `b` the module's. */
  link: SerialLink;
  flash: SimNorFlash;
  layout: FlashLayout;
  kv: MemoryKeyValueStore;
}

export function createSimDevice(options: SimDeviceOptions): SimDevice {
  const clock = options.clock ?? new VirtualClock();
  const digests = new NobleDigestFactory();
  // The module reads end b: it hears bytes even while the MCU is busy.
  const link = createSerialLink({ clock, baud: options.baud, fifoSizeA: options.fifoSize, worldEnd: "b" });
  const blockLength: number = options.blockLength ?? HOST_FLASH_GEOMETRY.blockLength;
  const slotLength = Math.ceil(options.slotSize / blockLength) * blockLength;
  const geometry: FlashStatus = {
    size: options.partitionSize ?? partitionSizeFor(slotLength, blockLength),
    blockLength,
    writeAlign: options.writeAlign ?? HOST_FLASH_GEOMETRY.writeAlign,
    eraseValue: HOST_FLASH_GEOMETRY.eraseValue,
  };
  const flashTime = options.flashTime ?? "after-factory";
  const factory = new SimNorFlash({ ...geometry, ...(flashTime === "always" ? { clock } : {}) });
  const layout = planLayout(factory.status(), { slotLength });
  formatFactory(factory, layout, digests, options.factory);
  // A fresh device counts its flash work from zero.
  const flash = flashTime === "after-factory" ? SimNorFlash.from(factory, { clock }) : factory;
  flash.resetStats();
  return { clock, digests, link, flash, layout, kv: new MemoryKeyValueStore() };
}
