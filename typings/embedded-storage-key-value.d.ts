// ECMA-419 `embedded:storage/key-value` as Moddable implements it on Zephyr (modules/io/storage/zephyr, Zephyr
// settings over NVS); npm @moddable/typings lacks it. Only what the app uses.
declare module "embedded:storage/key-value" {
  export interface KeyValueOpenOptions {
    /** The domain: a settings subtree name. */
    path: string;
    mode?: "r" | "r+";
    format?: "buffer" | "string";
  }
  export interface KeyValueStorage {
    close(): void;
    delete(key: string): void;
    /** undefined when the key is absent. */
    read(key: string): string | ArrayBuffer | undefined;
    write(key: string, value: string | ArrayBuffer): void;
  }
  const KeyValue: {
    open(options: KeyValueOpenOptions): KeyValueStorage;
  };
  export default KeyValue;
}
