// The Linux simulator board: a pty for the module link, the generic two-slot boot on a flash partition kept in a file.

import { formatFactory, openBoot } from "../../boot/generic-boot.js";
import { planLayout } from "../../flash-format/layout.js";
import type { Board, BoardConfig } from "./board.js";
import { ModdableClock } from "../../../hal/moddable/clock.js";
import { ModdableDigestFactory } from "../../../hal/moddable/digest.js";
import { FileFlashPartition } from "../../../hal/moddable/flash-file.js";
import { PreferenceStore } from "../../../hal/moddable/kv.js";
import { ModdableSerialPort } from "../../../hal/moddable/serial.js";

export function openLinBoard(config: BoardConfig, fileRoot: string): Board {
  const digests = new ModdableDigestFactory();
  const layout = planLayout({ size: config.flashSize, blockLength: 4096, writeAlign: 1, eraseValue: 0xff });
  // A new flash file gets a stand-in factory image, as a device fresh from production; created atomically.
  const { flash } = FileFlashPartition.provision(fileRoot + config.flashFile, config.flashSize, (blank) => {
    const bytes = new Uint8Array(
      ArrayBuffer.fromString(`${config.component} ${config.version} simulator factory image`),
    );
    formatFactory(blank, layout, digests, { component: config.component, version: config.version, bytes });
  });
  const boot = openBoot(flash, layout, digests);
  if (boot.report.running.version === "") {
    flash.close();
    throw new Error(
      `${fileRoot + config.flashFile} holds no bootable image: delete it and start again to re-create it`,
    );
  }
  const serial = new ModdableSerialPort({ kind: "device", device: config.device, baud: config.baud });
  const areaFiles: FileFlashPartition[] = [];
  return {
    serial,
    clock: new ModdableClock(),
    digests,
    kv: new PreferenceStore(config.domain),
    boot,
    slotSize: layout.slots[1].length,
    description: `lin simulator on ${config.device} @ ${config.baud}, flash ${fileRoot + config.flashFile} (${config.flashSize} bytes, slots of ${layout.slots[0].length})`,
    // Each area is a file; a mod's is the archive the simulator maps (`mcsim mc.so <root><id>.xsa`), padded with 0xFF.
    openAreas: (components) => {
      const areas: Record<string, FileFlashPartition> = {};
      for (const c of components) {
        areas[c.id] = new FileFlashPartition(
          `${fileRoot}${c.id}${c.kind === "mod" ? ".xsa" : ".data"}`,
          c.size,
        );
        areas[`${c.id}.bak`] = new FileFlashPartition(`${fileRoot}${c.id}.bak`, c.size);
        areaFiles.push(areas[c.id]!, areas[`${c.id}.bak`]!);
      }
      return areas;
    },
    close: () => {
      serial.close();
      flash.close();
      for (const area of areaFiles.splice(0)) area.close();
    },
  };
}
