// `mc/ffi` for this app's manifest "ffi" functions (ESP32, and sota_reboot on Zephyr). mcconfig generates the exact typing in its
// own build; this copy keeps `tsc -p tsconfig.json` (CI) able to check hal/moddable/esp32-ota.ts, its only user.
declare module "mc/ffi" {
  export default class FFI {
    constructor();
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
    sota_uart_tune(
      port: number,
      rts: number,
      cts: number,
      rxThreshold: number,
      flowThreshold: number,
    ): number;
    /** Zephyr: sys_reboot(SYS_REBOOT_COLD) (hal/moddable/zephyr/sota_zephyr.c); returns only on failure */
    sota_reboot(): number;
  }
}
