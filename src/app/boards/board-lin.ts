// The Linux simulator board: a pty for the module link, the generic two-slot boot on a flash partition kept in a file.

import { formatFactory, inspectBoot, openBoot } from "../../boot/generic-boot.js";
import { planLayout } from "../../flash-format/layout.js";
import type { Board, BoardConfig } from "./board.js";
import { ModdableClock } from "../../../hal/moddable/clock.js";
import { ModdableDigestFactory } from "../../../hal/moddable/digest.js";
import { FileFlashPartition } from "../../../hal/moddable/flash-file.js";
import { PreferenceStore } from "../../../hal/moddable/kv.js";
import { ModdableSerialPort } from "../../../hal/moddable/serial.js";

export function openLinBoard(config: BoardConfig, fileRoot: string): Board {
  const digests = new ModdableDigestFactory();
  const flash = new FileFlashPartition(fileRoot + config.flashFile, config.flashSize);
  const layout = planLayout(flash.status());
  if (!inspectBoot(flash, layout).record) {
    // A new flash file: a stand-in factory image so the simulator starts as a device fresh from production would.
    const bytes = new Uint8Array(
      ArrayBuffer.fromString(`${config.component} ${config.version} simulator factory image`),
    );
    formatFactory(flash, layout, digests, { component: config.component, version: config.version, bytes });
  }
  const boot = openBoot(flash, layout, digests);
  const serial = new ModdableSerialPort({ kind: "device", device: config.device, baud: config.baud });
  return {
    serial,
    clock: new ModdableClock(),
    digests,
    kv: new PreferenceStore(config.domain),
    boot,
    slotSize: layout.slots[1].length,
    description: `lin simulator on ${config.device} @ ${config.baud}, flash ${fileRoot + config.flashFile} (${config.flashSize} bytes, slots of ${layout.slots[0].length})`,
    close: () => {
      serial.close();
      flash.close();
    },
  };
}
