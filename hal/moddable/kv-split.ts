// KeyValueStore over a `preference`-shaped store whose single-key writes are NOT atomic: two banks, parts, a header written last.
//
// Why: Moddable's ESP32 `preference.set` erases the NVS key before it writes the new value (a workaround for
// an ESP-IDF type-change bug, modules/files/preference/esp32/modPreference.c), so a power cut between the two
// loses the key; other ports cap values (63 bytes on esp/nrf52/pico). So a logical key lives in two banks
// ("a", "b"); a write goes to the bank that does NOT hold the newest valid value, parts first, and the bank's
// header key (sequence number, part count, hash of the whole value) last. The header write is what makes it
// atomic: until it lands, the bank holding the old value is untouched and wins; a torn header, or a part from
// another generation, fails the hash and the bank reads as absent.

import { shortKey } from "../kv.js";

/** The shape of Moddable's `preference` module (static get/set/delete). */
export interface PreferenceBackend {
  get(domain: string, key: string): unknown;
  set(domain: string, key: string, value: string): void;
  delete(domain: string, key: string): void;
}

export interface SplitStoreOptions {
  /** Preference domain (ESP32: NVS namespace, at most 15 characters). */
  domain: string;
  /** Longest string one key may hold, in UTF-8 bytes (>= 32). */
  maxValueBytes: number;
  /** Longest key name (ESP32 NVS: 15; >= 13). */
  maxKeyLength: number;
}

/** Parts per value, header included: part keys end in one digit. */
export const MAX_PARTS = 10;
/** Room kept in the header for "<seq>/<parts>/<hash>/" (10 + 1 + 2 + 1 + 8 + 1 digits and slashes). */
const HEADER_RESERVE = 24;
const BANKS = ["a", "b"] as const;
type Bank = (typeof BANKS)[number];

interface BankContent {
  bank: Bank;
  seq: number;
  /** The value if every part is present and matches the header's hash, else undefined. */
  value: string | undefined;
}

export class SplitPreferenceStore {
  readonly #backend: PreferenceBackend;
  readonly #domain: string;
  readonly #maxValueBytes: number;
  readonly #maxKeyLength: number;

  constructor(backend: PreferenceBackend, options: SplitStoreOptions) {
    if (options.domain.length === 0 || options.domain.length > 15)
      throw new RangeError(`preference domain "${options.domain}" must have 1..15 characters`);
    if (options.maxValueBytes < 32) throw new RangeError("maxValueBytes must be at least 32");
    if (options.maxKeyLength < 13) throw new RangeError("maxKeyLength must be at least 13");
    this.#backend = backend;
    this.#domain = options.domain;
    this.#maxValueBytes = options.maxValueBytes;
    this.#maxKeyLength = options.maxKeyLength;
  }

  get(key: string): string | undefined {
    return this.#newest(this.#read(key))?.value;
  }

  set(key: string, value: string): void {
    const chunks = splitUtf8(value, this.#maxValueBytes - HEADER_RESERVE, this.#maxValueBytes);
    if (chunks.length > MAX_PARTS)
      throw new RangeError(
        `value for "${key}" needs ${chunks.length} > ${MAX_PARTS} parts of ${this.#maxValueBytes} bytes`,
      );
    const banks = this.#read(key);
    const live = this.#newest(banks);
    const target: Bank = live?.bank === "a" ? "b" : "a";
    const seq = Math.max(0, ...banks.map((b) => b.seq)) + 1;
    const names = this.#names(key, target);
    // Parts first: the target bank is not the newest valid one, so overwriting it cannot hide the old value.
    for (let i = 1; i < chunks.length; i++) this.#backend.set(this.#domain, names[i]!, chunks[i]!);
    // The commit: from here on this bank has the highest sequence number and a matching hash.
    this.#backend.set(this.#domain, names[0]!, `${seq}/${chunks.length}/${hashHex(value)}/${chunks[0]!}`);
  }

  delete(key: string): void {
    const live = this.#newest(this.#read(key));
    // The stale bank goes first, so a cut never lets an older value resurface.
    const order: Bank[] = live?.bank === "a" ? ["b", "a"] : ["a", "b"];
    for (const bank of order) this.#backend.delete(this.#domain, this.#names(key, bank)[0]!);
    for (const bank of order) {
      const names = this.#names(key, bank);
      for (let i = 1; i < MAX_PARTS; i++) this.#backend.delete(this.#domain, names[i]!);
    }
  }

  /** Header key first, then part keys 1..MAX_PARTS-1, of one bank. */
  #names(key: string, bank: Bank): string[] {
    const base = shortKey(key, this.#maxKeyLength - 3) + "." + bank;
    const names = [base];
    for (let i = 1; i < MAX_PARTS; i++) names.push(base + i);
    return names;
  }

  #read(key: string): BankContent[] {
    const found: BankContent[] = [];
    for (const bank of BANKS) {
      const names = this.#names(key, bank);
      const header = parseHeader(this.#backend.get(this.#domain, names[0]!));
      if (!header) continue;
      let value: string | undefined = header.first;
      for (let i = 1; i < header.parts && value !== undefined; i++) {
        const part = this.#backend.get(this.#domain, names[i]!);
        value = typeof part === "string" ? value + part : undefined;
      }
      if (value !== undefined && hashHex(value) !== header.hash) value = undefined;
      found.push({ bank, seq: header.seq, value });
    }
    return found;
  }

  #newest(banks: BankContent[]): BankContent | undefined {
    let best: BankContent | undefined;
    for (const b of banks) if (b.value !== undefined && (!best || b.seq > best.seq)) best = b;
    return best;
  }
}

function parseHeader(
  stored: unknown,
): { seq: number; parts: number; hash: string; first: string } | undefined {
  if (typeof stored !== "string") return undefined;
  const match = /^(\d{1,10})\/(\d{1,2})\/([0-9a-f]{8})\//.exec(stored);
  if (!match) return undefined;
  const parts = Number(match[2]);
  if (parts < 1 || parts > MAX_PARTS) return undefined;
  return { seq: Number(match[1]), parts, hash: match[3]!, first: stored.slice(match[0].length) };
}

/** FNV-1a over UTF-16 code units: catches a part from another generation or a torn write. */
export function hashHex(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, "0");
}

/** Splits at code point boundaries into a first chunk of at most `firstBytes` and others of at most `restBytes` UTF-8 bytes. */
export function splitUtf8(text: string, firstBytes: number, restBytes: number): string[] {
  const chunks: string[] = [];
  let start = 0;
  let bytes = 0;
  let limit = firstBytes;
  for (let i = 0; i < text.length;) {
    const code = text.codePointAt(i)!;
    const units = code > 0xffff ? 2 : 1;
    const size = code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
    if (bytes + size > limit) {
      chunks.push(text.slice(start, i));
      start = i;
      bytes = 0;
      limit = restBytes;
    }
    bytes += size;
    i += units;
  }
  chunks.push(text.slice(start));
  return chunks;
}
