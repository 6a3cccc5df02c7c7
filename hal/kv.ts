// Key-value store port: small persistent strings (Moddable `preference`, a JSON file, or memory), and the rule
// every store with short key names follows to shorten a longer key.

export interface KeyValueStore {
  get(key: string): string | undefined;
  /** Persists at once; a power cut leaves either the old or the new value. */
  set(key: string, value: string): void;
  delete(key: string): void;
}

/** `key` itself if it has at most `max` (>= 10) characters, else a readable head, "~" and a hash of the whole. */
export function shortKey(key: string, max: number): string {
  if (key.length <= max) return key;
  if (max < 10) throw new RangeError("keys shorter than 10 characters cannot carry a hash");
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return key.slice(0, Math.min(6, max - 9)) + "~" + hash.toString(16).padStart(8, "0");
}
