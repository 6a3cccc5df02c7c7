// A `preference`-shaped store kept in a JSON file of the caller's choosing (Linux simulator): each run its own file.
// Moddable's lin `preference` has one fixed file (<file root>modpreferences.json) that two runs would overwrite.

import { File } from "file";
import type { KeyValueStore } from "../kv.js";
import type { PreferenceBackend } from "./kv-split.js";
import { SplitPreferenceStore } from "./kv-split.js";

/** The lin `file` module as used here (`rename`'s target is a name in the source's folder). */
interface NativeFileConstructor {
  new (
    path: string,
    write?: boolean,
  ): {
    read(type: typeof String): string;
    write(text: string): void;
    close(): void;
  };
  exists(path: string): boolean;
  delete(path: string): boolean;
  rename(from: string, to: string): boolean;
}

type Domains = Record<string, Record<string, string>>;

export class FilePreferences implements PreferenceBackend {
  readonly #path: string;
  readonly #native = File as unknown as NativeFileConstructor;
  #cache: Domains;

  constructor(path: string) {
    this.#path = path;
    this.#cache = this.#load();
  }

  get(domain: string, key: string): unknown {
    return this.#cache[domain]?.[key];
  }

  set(domain: string, key: string, value: string): void {
    (this.#cache[domain] ??= {})[key] = value;
    this.#save();
  }

  delete(domain: string, key: string): void {
    const keys = this.#cache[domain];
    if (keys?.[key] === undefined) return;
    delete keys[key];
    this.#save();
  }

  #load(): Domains {
    if (!this.#native.exists(this.#path)) return {};
    const file = new this.#native(this.#path);
    try {
      const parsed: unknown = JSON.parse(file.read(String));
      if (typeof parsed !== "object" || parsed === null) throw new Error("not an object");
      return parsed as Domains;
    } catch (error) {
      throw new Error(`preference file ${this.#path} is not a JSON object (${String(error)}): delete it`);
    } finally {
      file.close();
    }
  }

  #save(): void {
    const temporary = `${this.#path}.saving`;
    if (this.#native.exists(temporary)) this.#native.delete(temporary);
    const file = new this.#native(temporary, true);
    try {
      file.write(JSON.stringify(this.#cache));
    } finally {
      file.close();
    }
    // The rename is the atomic step: a killed run leaves the old whole file or the new one, never a torn one.
    if (!this.#native.rename(temporary, this.#path.slice(this.#path.lastIndexOf("/") + 1)))
      throw new Error(`cannot rename ${temporary} to ${this.#path}`);
  }
}

/** The power-fail-safe KeyValueStore (kv-split.ts) over a preference file of this run's own. */
export class FilePreferenceStore extends SplitPreferenceStore implements KeyValueStore {
  constructor(path: string, domain: string) {
    // The same limits as on the ESP32 (kv.ts), so the simulator splits values as the device does.
    super(new FilePreferences(path), { domain, maxValueBytes: 1024, maxKeyLength: 15 });
  }
}
