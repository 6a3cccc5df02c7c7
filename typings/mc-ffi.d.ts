// `mc/ffi` for this app's manifest "ffi" functions (ESP32 only). mcconfig generates the exact typing in its
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
  }
}
