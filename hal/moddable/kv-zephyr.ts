// KeyValueStore on Zephyr: ECMA-419 `embedded:storage/key-value` (Zephyr settings over NVS; the SDK has no
// `preference` there), behind the same two-bank split store as the other boards (kv-split.ts).

import KeyValue from "embedded:storage/key-value";
import type { KeyValueStore } from "../kv.js";
import type { PreferenceBackend } from "./kv-split.js";
import { SplitPreferenceStore } from "./kv-split.js";

/** One settings subtree per domain, opened once (the port copies the domain into each handle). */
class KeyValueBackend implements PreferenceBackend {
  readonly #domains = new Map<string, ReturnType<typeof KeyValue.open>>();

  #open(domain: string): ReturnType<typeof KeyValue.open> {
    let storage = this.#domains.get(domain);
    if (!storage) {
      storage = KeyValue.open({ path: domain, format: "string" });
      this.#domains.set(domain, storage);
    }
    return storage;
  }

  get(domain: string, key: string): unknown {
    return this.#open(domain).read(key);
  }

  set(domain: string, key: string, value: string): void {
    this.#open(domain).write(key, value);
  }

  delete(domain: string, key: string): void {
    this.#open(domain).delete(key);
  }
}

export class ZephyrKeyValueStore extends SplitPreferenceStore implements KeyValueStore {
  constructor(domain: string) {
    // Zephyr's settings keep a value in one NVS entry (at most a flash page); the port's key buffer is 64 bytes.
    super(new KeyValueBackend(), { domain, maxValueBytes: 1024, maxKeyLength: 15 });
  }
}
