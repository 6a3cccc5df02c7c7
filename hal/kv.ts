// Key-value store port: small persistent strings (Moddable `preference`, a JSON file, or memory).

export interface KeyValueStore {
  get(key: string): string | undefined;
  /** Persists at once; a power cut leaves either the old or the new value. */
  set(key: string, value: string): void;
  delete(key: string): void;
}

/** A store in RAM (tests, and boards with nothing better). */
export class MemoryKeyValueStore implements KeyValueStore {
  readonly #values = new Map<string, string>();
  get(key: string): string | undefined {
    return this.#values.get(key);
  }
  set(key: string, value: string): void {
    this.#values.set(key, value);
  }
  delete(key: string): void {
    this.#values.delete(key);
  }
}
