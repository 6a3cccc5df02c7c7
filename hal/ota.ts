// OTA port: the ESP-IDF app-partition calls (esp_ota_ops.h) an A/B boot backend needs, as plain values.
// Implemented on the chip by hal/moddable/esp32-ota.ts (FFI + embedded:update); tests use a fake.

/** esp_ota_img_states_t values (esp_ota_ops.h); -1 stands for "no state" (ESP_OTA_IMG_UNDEFINED or an error). */
export const OtaImageState = {
  new: 0,
  pendingVerify: 1,
  valid: 2,
  invalid: 3,
  aborted: 4,
  undefined: -1,
} as const;

/** One app partition as the otadata sees it. */
export interface OtaPartitionView {
  /** Partition label ("ota_0", "ota_1", "factory"), "" if unknown. */
  label: string;
  /** An OtaImageState value. */
  state: number;
}

export interface OtaPort {
  /** The running app partition and its otadata state (esp_ota_get_running_partition + esp_ota_get_state_partition). */
  running(): OtaPartitionView;
  /** The partition esp_ota_get_next_update_partition() returns and its state. */
  next(): OtaPartitionView;
  /** Rewrites the next partition's first block with `firstBlock`, validates the image and sets it as boot partition. */
  selectNext(firstBlock: Uint8Array): void;
  /** esp_ota_mark_app_valid_cancel_rollback(); throws on an ESP-IDF error. */
  markValid(): void;
  /** esp_ota_mark_app_invalid_rollback_and_reboot(); returns (by throwing) only if there is nothing to roll back to. */
  markInvalidAndReboot(): void;
  /**
   * esp_ota_invalidate_inactive_ota_data_slot(): erases the otadata entry of the last partition booted before the
   * running one (so a stale ABORTED/INVALID state of the next partition is gone); a no-op when there is none.
   */
  invalidateInactive(): void;
  /**
   * The SHA-256 of the app's ELF (esp_app_desc_t.app_elf_sha256, lower-case hex) of the running image, or of the
   * image in the next partition (esp_ota_get_partition_description); "" when there is no valid app there.
   */
  appId(which: "running" | "next"): string;
}
