// ECMA-419 `embedded:storage/flash` as Moddable implements it on ESP32 (modules/io/flash/esp32); npm @moddable/typings lacks it.
declare module "embedded:storage/flash" {
  export interface FlashOpenOptions {
    /** A data partition label, or "running", "nextota" (the app partitions), or "xs". */
    path: string;
    mode?: "r" | "r+";
  }
  export interface FlashStorageStatus {
    size: number;
    blockLength: number;
    blocks: number;
  }
  export interface Flash {
    close(): void;
    /** Erases blocks start up to but not including end (default start + 1). */
    eraseBlock(start: number, end?: number): void;
    read(byteLength: number, byteOffset: number): ArrayBuffer;
    /** Fills the whole buffer (or view) from byteOffset; returns its length. */
    read(buffer: ArrayBuffer | ArrayBufferView, byteOffset: number): number;
    write(buffer: ArrayBuffer | ArrayBufferView, byteOffset: number): void;
    status(): FlashStorageStatus;
    format: "buffer";
  }
  const FlashStorage: {
    open(options: FlashOpenOptions): Flash;
    [Symbol.iterator](): Iterator<string>;
  };
  export default FlashStorage;
}
