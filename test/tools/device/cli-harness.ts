// sota-device's main() in process with its output captured, and a factory flash file: shared by the CLI suites.
import { NodeDigestFactory } from "../../../hal/host/node-digest.js";
import { FileFlash } from "../../../hal/host/file-flash.js";
import { formatFactory } from "../../../src/boot/generic-boot.js";
import { main } from "../../../tools/device/cli.js";
import {
  HOST_FLASH_GEOMETRY,
  factoryImage,
  layoutOf,
  partitionSizeFor,
} from "../../../tools/device/flash-setup.js";

export async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(args, {
    stdout: { write: (t) => void (out += t) },
    stderr: { write: (t) => void (err += t) },
  });
  return { code, out, err };
}

/** A 16 KiB-slot flash file holding the factory image of component "mcu" 1.0.0. */
export function makeFactoryFlash(file: string): void {
  const flash = new FileFlash({ file, size: partitionSizeFor(16384), ...HOST_FLASH_GEOMETRY, fsync: false });
  formatFactory(flash, layoutOf(flash.status()), new NodeDigestFactory(), {
    component: "mcu",
    version: "1.0.0",
    bytes: factoryImage("mcu", "1.0.0"),
  });
  flash.close();
}
