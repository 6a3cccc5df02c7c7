// KeyValueStore in a JSON file; every change rewrites the file atomically (temp file + fsync + rename).
import fs from "node:fs";
import path from "node:path";
import type { KeyValueStore } from "../kv.js";

export class JsonFileKeyValueStore implements KeyValueStore {
  readonly #values = new Map<string, string>();
  readonly #temporary: string;

  constructor(readonly file: string) {
    this.#temporary = `${file}.tmp`;
    // A temp file left by a crash before its rename is an unfinished change: the old file is the truth.
    fs.rmSync(this.#temporary, { force: true });
    let text: string;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new Error(`${file}: expected a JSON object of strings`);
    }
    for (const [key, value] of Object.entries(parsed)) {
      if (typeof value !== "string")
        throw new Error(`${file}: value of ${JSON.stringify(key)} is not a string`);
      this.#values.set(key, value);
    }
  }

  get(key: string): string | undefined {
    return this.#values.get(key);
  }

  set(key: string, value: string): void {
    const previous = this.#values.get(key);
    this.#values.set(key, value);
    this.#commit(() => (previous === undefined ? this.#values.delete(key) : this.#values.set(key, previous)));
  }

  delete(key: string): void {
    const previous = this.#values.get(key);
    if (previous === undefined) return;
    this.#values.delete(key);
    this.#commit(() => this.#values.set(key, previous));
  }

  /** The rename is the atomic step: a power cut leaves the whole old file or the whole new one. */
  #commit(undo: () => void): void {
    const sorted = [...this.#values.keys()].sort();
    const json = `${JSON.stringify(Object.fromEntries(sorted.map((k) => [k, this.#values.get(k)!])), null, 2)}\n`;
    try {
      const fd = fs.openSync(this.#temporary, "w");
      try {
        fs.writeFileSync(fd, json);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(this.#temporary, this.file);
      syncDirectory(path.dirname(this.file));
    } catch (error) {
      // Memory must keep matching the file, or a later write would persist a change the caller saw fail.
      undo();
      try {
        fs.rmSync(this.#temporary, { force: true });
      } catch {
        // the original error is the one worth reporting
      }
      throw error;
    }
  }
}

/** Makes the rename itself durable (the directory entry); some file systems refuse, which is harmless. */
function syncDirectory(directory: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(directory, "r");
    fs.fsyncSync(fd);
  } catch {
    // e.g. EISDIR/EINVAL on file systems that cannot fsync a directory
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
