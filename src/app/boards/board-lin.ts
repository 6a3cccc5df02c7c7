// The Linux simulator board: a pty for the module link, the generic two-slot boot on a flash partition kept in a file,
// preferences in a file: every path from the config (sotaDevice, sotaFlashFile, sotaPrefsFile), so runs do not collide.

import { resolvePath } from "../app-config.js";
import { formatFactory, openBoot } from "../../boot/generic-boot.js";
import { planLayout } from "../../flash-format/layout.js";
import type { Board, BoardConfig } from "./board.js";
import { ModdableClock } from "../../../hal/moddable/clock.js";
import { ModdableDigestFactory } from "../../../hal/moddable/digest.js";
import { FileFlashPartition } from "../../../hal/moddable/flash-file.js";
import { FilePreferenceStore } from "../../../hal/moddable/kv-file.js";
import { ModdableSerialPort } from "../../../hal/moddable/serial.js";

const BLOCK = 4096;

export function openLinBoard(config: BoardConfig, fileRoot: string): Board {
  const { device, flashSize } = config.lin;
  if (flashSize % BLOCK !== 0)
    throw new Error(`config key sotaFlashSize: ${flashSize} is not a multiple of ${BLOCK}`);
  const flashPath = resolvePath(fileRoot, config.lin.flashFile);
  const prefsPath = resolvePath(fileRoot, config.lin.prefsFile);
  const digests = new ModdableDigestFactory();
  const layout = planLayout({ size: flashSize, blockLength: BLOCK, writeAlign: 1, eraseValue: 0xff });
  // A new flash file gets a stand-in factory image, as a device fresh from production; created atomically.
  const { flash } = FileFlashPartition.provision(flashPath, flashSize, (blank) => {
    const bytes = new Uint8Array(
      ArrayBuffer.fromString(`${config.component} ${config.version} simulator factory image`),
    );
    formatFactory(blank, layout, digests, { component: config.component, version: config.version, bytes });
  });
  const boot = openBoot(flash, layout, digests);
  if (boot.report.running.version === "") {
    flash.close();
    throw new Error(`${flashPath} holds no bootable image: delete it and start again to re-create it`);
  }
  const kv = new FilePreferenceStore(prefsPath, config.prefsDomain);
  const serial = new ModdableSerialPort({ kind: "device", device, baud: config.baud });
  const areaFiles: FileFlashPartition[] = [];
  return {
    serial,
    clock: new ModdableClock(),
    digests,
    kv,
    boot,
    slotSize: layout.slots[1].length,
    description: `lin simulator on ${device} @ ${config.baud}, flash ${flashPath} (${flashSize} bytes, slots of ${layout.slots[0].length}), preferences ${prefsPath}`,
    // Each area is a file beside the run's flash file; a mod's is the archive the simulator maps
    // (`mcsim mc.so <flash file>.<id>.xsa`), padded with 0xFF.
    openAreas: (components) => {
      const areas: Record<string, FileFlashPartition> = {};
      for (const c of components) {
        areas[c.id] = new FileFlashPartition(
          `${flashPath}.${c.id}${c.kind === "mod" ? ".xsa" : ".data"}`,
          c.size,
        );
        areas[`${c.id}.bak`] = new FileFlashPartition(`${flashPath}.${c.id}.bak`, c.size);
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
