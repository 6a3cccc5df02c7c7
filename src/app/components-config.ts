// The app's components beside its image, from the manifest's top-level `sotaComponents` (an array in
// manifest.json, a JSON string on the mcconfig command line: `mcconfig ... sotaComponents='[...]'`).

import type { ComponentConfig } from "../components/config.js";

/** One entry: `{ id, kind: "data" | "mod", version, size }`; the board names its area and backup. */
export interface AppComponent {
  id: string;
  kind: "data" | "mod";
  /** Its version until an update stores one. */
  version: string;
  /** Bytes of its area (whole 4 KiB blocks); the backup is as long. */
  size: number;
}

/** Parses the manifest value; throws an Error naming the entry and field for anything else. */
export function parseComponentsConfig(value: unknown): AppComponent[] {
  if (value === undefined || value === "") return [];
  let list: unknown = value;
  if (typeof list === "string") {
    try {
      list = JSON.parse(list) as unknown;
    } catch {
      throw new Error("sotaComponents: not JSON (give an array of { id, kind, version, size })");
    }
  }
  if (!Array.isArray(list)) throw new Error("sotaComponents: expected an array");
  return list.map((entry: unknown, i): AppComponent => {
    const where = `sotaComponents[${i}]`;
    const c = entry as Record<string, unknown>;
    if (typeof c !== "object" || c === null) throw new Error(`${where}: expected an object`);
    if (typeof c["id"] !== "string" || !/^[A-Za-z0-9._-]{1,32}$/.test(c["id"]))
      throw new Error(`${where}.id: 1-32 of A-Z a-z 0-9 . _ -`);
    if (c["kind"] !== "data" && c["kind"] !== "mod") throw new Error(`${where}.kind: "data" or "mod"`);
    const version = c["version"];
    if (typeof version !== "string" || !/^[A-Za-z0-9._-]{1,64}$/.test(version))
      throw new Error(`${where}.version: 1-64 of A-Z a-z 0-9 . _ -`);
    const size = c["size"];
    if (typeof size !== "number" || !Number.isInteger(size) || size < 4096 || size % 4096 !== 0)
      throw new Error(`${where}.size: a whole number of 4096-byte blocks`);
    return { id: c["id"], kind: c["kind"], version, size };
  });
}

/** The engine's `components` for them: each one's area is named after it, its backup `<id>.bak`. */
export function engineComponents(components: readonly AppComponent[]): ComponentConfig[] {
  return components.map((c) => ({
    id: c.id,
    kind: c.kind,
    area: c.id,
    backup: `${c.id}.bak`,
    version: c.version,
  }));
}
