// The Zephyr board (STM32 through the Moddable SDK's Zephyr port): the module's UART by devicetree label, MCUboot's
// slots and our records' partition from the flash map (embedded:storage/flash), Zephyr settings for key-value.

import { openMcuboot } from "../../boot/mcuboot/mcuboot-boot.js";
import type { Board, BoardConfig } from "./board.js";
import { provisionRecords, zephyrLayout } from "./zephyr-layout.js";
import { ModdableClock, msSinceReset } from "../../../hal/moddable/clock.js";
import { ModdableDigestFactory } from "../../../hal/moddable/digest.js";
import { JoinedFlash } from "../../../hal/moddable/flash-map.js";
import { ZephyrFlashPartition } from "../../../hal/moddable/flash-zephyr.js";
import { ZephyrKeyValueStore } from "../../../hal/moddable/kv-zephyr.js";
import { ModdableSerialPort } from "../../../hal/moddable/serial.js";
import { ZephyrNatives } from "../../../hal/moddable/zephyr-natives.js";

export function openZephyrBoard(config: BoardConfig): Board {
  const z = config.zephyr;
  const digests = new ModdableDigestFactory();
  const natives = new ZephyrNatives();
  const records = new ZephyrFlashPartition(z.storage);
  const slot0 = new ZephyrFlashPartition(z.slot0);
  const slot1 = new ZephyrFlashPartition(z.slot1);
  const flash = new JoinedFlash([
    { name: z.storage, flash: records },
    { name: z.slot0, flash: slot0 },
    { name: z.slot1, flash: slot1 },
  ]);
  const layout = zephyrLayout(flash);
  provisionRecords(flash, layout, config);
  const boot = openMcuboot(flash, layout, digests, { mode: z.swapMode, maxAlign: z.maxAlign });
  const serial = new ModdableSerialPort({ kind: "zephyr", port: z.serial, baud: config.baud });
  const running = boot.report.running.version;
  // After an update the image's own sotaVersion is the plan's target, so a difference means a programmer's image.
  const stale =
    running === config.version
      ? ""
      : `; the records name ${running} but this build is ${config.version} (flashed by a programmer? erase "${z.storage}")`;
  return {
    serial,
    clock: new ModdableClock(),
    digests,
    kv: new ZephyrKeyValueStore(config.prefsDomain),
    boot,
    slotSize: boot.maxImageSize,
    sinceResetMs: msSinceReset(),
    description:
      `zephyr: UART ${z.serial} @ ${config.baud}, MCUboot swap-using-${z.swapMode} (BOOT_MAX_ALIGN ${z.maxAlign}), ` +
      `slots "${z.slot0}"/"${z.slot1}" of ${layout.slots[0].length} bytes (sectors of ${layout.blockLength}), ` +
      `records in "${z.storage}", swap type at the next reset ${boot.report.swapType}${stale}`,
    // A data or mod component lives in the flash-map partition named by its id, its backup in `<id>-bak`
    // (both added to the board's overlay, docs/stm32-zephyr.md).
    openAreas: (components) => {
      const areas: Record<string, ZephyrFlashPartition> = {};
      for (const c of components) {
        areas[c.id] = new ZephyrFlashPartition(c.id);
        areas[`${c.id}.bak`] = new ZephyrFlashPartition(`${c.id}-bak`);
      }
      return areas;
    },
    // The SDK's System.restart() only waits on Zephyr: a real reset, so MCUboot swaps or reverts.
    restart: () => natives.reboot(),
    close: () => serial.close(),
  };
}
