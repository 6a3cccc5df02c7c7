// The ESP-IDF side of the ESP32 boot backend: FFI (rollback calls, partition labels/states) and embedded:update.

import FFI from "mc/ffi";
import Update from "embedded:update";
import type { Esp32Ota } from "./esp32-boot.js";
import type { PartitionView } from "./esp32-ota-state.js";
import type { Esp32FlashPartition } from "./flash-esp32.js";

/** The manifest's esp32 "ffi" functions (the generated mc/ffi typing has exactly these). */
interface OtaNatives {
  esp_ota_mark_app_valid_cancel_rollback(): number;
  esp_ota_mark_app_invalid_rollback_and_reboot(): number;
  sota_ota_running_state(): number;
  sota_ota_running_label(): string;
  sota_ota_next_label(): string;
  sota_ota_next_state(): number;
}

interface Updater {
  write(bytes: Uint8Array): void;
  complete(): void;
  close(): void;
}

export class Esp32OtaNatives implements Esp32Ota {
  readonly #natives = new FFI() as unknown as OtaNatives;
  readonly #nextota: Esp32FlashPartition;

  /** `nextota` must be the partition opened with path "nextota" (the one the receiver writes). */
  constructor(nextota: Esp32FlashPartition) {
    this.#nextota = nextota;
  }

  running(): PartitionView {
    return { label: this.#natives.sota_ota_running_label(), state: this.#natives.sota_ota_running_state() };
  }

  next(): PartitionView {
    return { label: this.#natives.sota_ota_next_label(), state: this.#natives.sota_ota_next_state() };
  }

  selectNext(firstBlock: Uint8Array): void {
    // Mode "a" = OTA_WITH_SEQUENTIAL_WRITES: esp_ota_begin erases nothing; this write erases block 0 only.
    const open = Update.open as unknown as (options: { partition: unknown; mode: "a" }) => Updater;
    const update = open({ partition: this.#nextota.native, mode: "a" });
    try {
      update.write(firstBlock);
      update.complete();
    } finally {
      update.close();
    }
  }

  markValid(): void {
    const err = this.#natives.esp_ota_mark_app_valid_cancel_rollback();
    if (err !== 0) throw new Error(`esp_ota_mark_app_valid_cancel_rollback: ${err}`);
  }

  markInvalidAndReboot(): void {
    const err = this.#natives.esp_ota_mark_app_invalid_rollback_and_reboot();
    throw new Error(`esp_ota_mark_app_invalid_rollback_and_reboot: ${err}`);
  }
}
