// ECMA-419 `embedded:update` as Moddable implements it on ESP32 (modules/io/update/esp32); npm @moddable/typings lacks it.
declare module "embedded:update" {
  import type { Flash } from "embedded:storage/flash";
  export interface UpdateOpenOptions {
    /** The target app partition, normally flash.open({path: "nextota"}). */
    partition: Flash;
    /** "a" (default): esp_ota_begin(OTA_WITH_SEQUENTIAL_WRITES), erases sector by sector as writes arrive.
     *  "w": esp_ota_begin(byteLength), erases byteLength (the WHOLE partition if omitted) at once. */
    mode?: "a" | "w";
    byteLength?: number;
  }
  export interface Updater {
    /** Aborts (esp_ota_abort) unless complete() succeeded. */
    close(): void;
    /** esp_ota_end (validates the image) then esp_ota_set_boot_partition. */
    complete(): void;
    write(bytes: ArrayBuffer | ArrayBufferView): void;
    write(bytes: ArrayBuffer | ArrayBufferView, byteOffset: number): void;
    format: "buffer";
  }
  const Update: {
    open(options: UpdateOpenOptions): Updater;
  };
  export default Update;
}
