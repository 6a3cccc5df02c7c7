// The OTA port (hal/ota.ts) on the ESP32: FFI (rollback calls, partition labels/states) and embedded:update.

import FFI from "mc/ffi";
import Update from "embedded:update";
import type { OtaPartitionView, OtaPort } from "../ota.js";
import type { Esp32FlashPartition } from "./flash-esp32.js";

/** The manifest's esp32 "ffi" functions (esp32/sota_ota.c); cast once: another target's build types `mc/ffi` with its own only. */
interface Esp32Ffi {
  /** esp_err_t esp_ota_mark_app_valid_cancel_rollback(void) */
  esp_ota_mark_app_valid_cancel_rollback(): number;
  /** esp_err_t esp_ota_mark_app_invalid_rollback_and_reboot(void); returns only on failure */
  esp_ota_mark_app_invalid_rollback_and_reboot(): number;
  /** esp_ota_img_states_t of the running partition, or -1 (hal/moddable/esp32/sota_ota.c) */
  sota_ota_running_state(): number;
  /** label of the running app partition, "" if unknown */
  sota_ota_running_label(): string;
  /** label of the partition esp_ota_get_next_update_partition() returns, "" if none */
  sota_ota_next_label(): string;
  /** esp_ota_img_states_t of that next partition, or -1 */
  sota_ota_next_state(): number;
  /** esp_ota_invalidate_inactive_ota_data_slot(); ESP_FAIL when there is nothing to erase */
  sota_ota_invalidate_inactive(): number;
  /** esp_app_desc_t.app_elf_sha256 (hex) of the running image */
  sota_ota_running_app_id(): string;
  /** the same for the image in the next partition, "" when none */
  sota_ota_next_app_id(): string;
  /** esp_task_wdt_add(NULL): the task watchdog watches the XS task */
  sota_wdt_subscribe(): number;
  /** esp_task_wdt_reset() */
  sota_wdt_feed(): number;
  /** RX-full threshold and optional RTS/CTS (pins < 0: none) of a UART embedded:io/serial opened */
  sota_uart_tune(port: number, rts: number, cts: number, rxThreshold: number, flowThreshold: number): number;
}

interface Updater {
  write(bytes: Uint8Array): void;
  complete(): void;
  close(): void;
}

export class Esp32OtaNatives implements OtaPort {
  readonly #natives = new FFI() as unknown as Esp32Ffi;
  readonly #nextota: Esp32FlashPartition;

  /** `nextota` must be the partition opened with path "nextota" (the one the receiver writes). */
  constructor(nextota: Esp32FlashPartition) {
    this.#nextota = nextota;
  }

  running(): OtaPartitionView {
    return { label: this.#natives.sota_ota_running_label(), state: this.#natives.sota_ota_running_state() };
  }

  next(): OtaPartitionView {
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

  invalidateInactive(): void {
    // ESP_FAIL just means there was no inactive entry to erase.
    this.#natives.sota_ota_invalidate_inactive();
  }

  appId(which: "running" | "next"): string {
    return which === "running"
      ? this.#natives.sota_ota_running_app_id()
      : this.#natives.sota_ota_next_app_id();
  }

  /** Subscribes the XS task to the task watchdog (CONFIG_ESP_TASK_WDT_INIT in the sdkconfig fragment). */
  watchdogSubscribe(): void {
    const err = this.#natives.sota_wdt_subscribe();
    if (err !== 0) throw new Error(`esp_task_wdt_add: ${err}`);
  }

  watchdogFeed(): void {
    this.#natives.sota_wdt_feed();
  }

  /** RX threshold and optional RTS/CTS (pins -1: none) on a UART embedded:io/serial has opened. */
  uartTune(port: number, rts: number, cts: number, rxThreshold: number, flowThreshold: number): void {
    const err = this.#natives.sota_uart_tune(port, rts, cts, rxThreshold, flowThreshold);
    if (err !== 0) throw new Error(`UART${port} RTS/CTS: ${err}`);
  }

  markInvalidAndReboot(): void {
    const err = this.#natives.esp_ota_mark_app_invalid_rollback_and_reboot();
    throw new Error(`esp_ota_mark_app_invalid_rollback_and_reboot: ${err}`);
  }
}
