// KeyValueStore port in RAM: tests, the demo and simulated devices (a reset of the process forgets it).
import type { KeyValueStore } from "../kv.js";

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
