// KeyValueStore over Moddable `preference` (ESP32: NVS, one key written atomically; Linux: a JSON file in /tmp).

import Preference from "preference";
import type { KeyValueStore } from "../kv.js";
import { nvsKey } from "./esp32-ota-state.js";

export class PreferenceStore implements KeyValueStore {
  readonly #domain: string;

  /** `domain` is the NVS namespace (at most 15 characters). */
  constructor(domain: string) {
    if (domain.length === 0 || domain.length > 15) throw new RangeError(`preference domain "${domain}" must have 1..15 characters`);
    this.#domain = domain;
  }

  get(key: string): string | undefined {
    const value = Preference.get(this.#domain, nvsKey(key));
    return typeof value === "string" ? value : undefined;
  }

  set(key: string, value: string): void {
    // NVS takes strings up to 4000 bytes; a longer one would be refused only on the device.
    if (value.length > 4000) throw new RangeError(`preference value for "${key}" is ${value.length} > 4000 characters`);
    Preference.set(this.#domain, nvsKey(key), value);
  }

  delete(key: string): void {
    Preference.delete(this.#domain, nvsKey(key));
  }
}
