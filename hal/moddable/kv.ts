// KeyValueStore over Moddable `preference` (ESP32: NVS; Linux: a JSON file), made power-fail safe by kv-split.ts.

import Preference from "preference";
import type { KeyValueStore } from "../kv.js";
import { SplitPreferenceStore } from "./kv-split.js";

/**
 * ESP32 NVS takes strings up to 4000 bytes, but a long one must fit a single 4 KiB NVS page; 1024 keeps each
 * write small (our records are ~300 bytes: one key per write). Keys: NVS allows 15 characters.
 */
const ESP32_LIMITS = { maxValueBytes: 1024, maxKeyLength: 15 };

export class PreferenceStore extends SplitPreferenceStore implements KeyValueStore {
  /** `domain` is the NVS namespace (at most 15 characters). */
  constructor(domain: string) {
    super(Preference, { domain, ...ESP32_LIMITS });
  }
}
