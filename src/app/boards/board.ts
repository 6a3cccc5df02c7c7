// What a board module gives the app (src/app/main.ts): the ports and boot control, wired for one Moddable target.

import type { AppSettings } from "../app-config.js";
import type { BootControl } from "../../boot/types.js";
import type { Clock } from "../../../hal/clock.js";
import type { DigestFactory } from "../../../hal/digest.js";
import type { FlashPartition } from "../../../hal/flash.js";
import type { AppComponent } from "../components-config.js";
import type { KeyValueStore } from "../../../hal/kv.js";
import type { SerialPort } from "../../../hal/serial.js";

/** The app's settings (manifest.json's top-level `sota*` config keys, parsed by ../app-config.ts). */
export type BoardConfig = AppSettings;

export interface Board {
  serial: SerialPort;
  clock: Clock;
  digests: DigestFactory;
  kv: KeyValueStore;
  boot: BootControl;
  /** Bytes the inactive slot holds (the engine's size gate). */
  slotSize: number;
  /** Milliseconds since the MCU's reset when the board opened, where the runtime counts from boot (ESP32, Zephyr). */
  sinceResetMs?: number;
  /** One line for the start-up trace. */
  description: string;
  /** A reset of the board, where the runtime's System.restart() does not reset it (Zephyr). */
  restart?: () => void;
  /** The flash areas of data and mod components: `<id>` and its backup `<id>.bak` (components-config.ts). */
  openAreas(components: readonly AppComponent[]): Record<string, FlashPartition>;
  /** Releases the serial port and files (before an in-process restart in the simulator). */
  close(): void;
}
