// What a board module gives the app (src/app/main.ts): the ports and boot control, wired for one Moddable target.

import type { BootControl } from "../../boot/types.js";
import type { Clock } from "../../../hal/clock.js";
import type { DigestFactory } from "../../../hal/digest.js";
import type { FlashPartition } from "../../../hal/flash.js";
import type { AppComponent } from "../components-config.js";
import type { KeyValueStore } from "../../../hal/kv.js";
import type { SerialPort } from "../../../hal/serial.js";

/** The manifest's `config.sota` (see manifest.json). */
export interface BoardConfig {
  component: string;
  /** The version of this build: what runs once this image is confirmed. */
  version: string;
  baud: number;
  /** ESP32 UART number and GPIOs of the module link. */
  uart: { port: number; transmit: number; receive: number };
  /** Linux simulator: the tty/pty of the module (sota-module --pty). */
  device: string;
  /** Linux simulator: the file that plays the flash partition, and its size. */
  flashFile: string;
  flashSize: number;
  /** Preference domain (NVS namespace, at most 15 characters). */
  domain: string;
}

export interface Board {
  serial: SerialPort;
  clock: Clock;
  digests: DigestFactory;
  kv: KeyValueStore;
  boot: BootControl;
  /** Bytes the inactive slot holds (the engine's size gate). */
  slotSize: number;
  /** One line for the start-up trace. */
  description: string;
  /** The flash areas of data and mod components: `<id>` and its backup `<id>.bak` (components-config.ts). */
  openAreas(components: readonly AppComponent[]): Record<string, FlashPartition>;
  /** Releases the serial port and files (before an in-process restart in the simulator). */
  close(): void;
}
