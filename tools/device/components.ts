// sota-device's data and mod components: `--component id=kind[:version=V,size=N]` or `--components file.json`,
// and their flash areas (each component's area and its backup) in one file beside the flash file.

import fs from "node:fs";
import { FileFlash } from "../../hal/host/file-flash.js";
import type { FlashPartition } from "../../hal/flash.js";
import { FlashWindow } from "../../src/components/area.js";
import type { ComponentConfig } from "../../src/components/config.js";
import { HOST_FLASH_GEOMETRY } from "./flash-setup.js";

export interface DeviceComponent {
  id: string;
  kind: "data" | "mod";
  /** Its version until an update stores one (the areas file starts erased). */
  version: string;
  /** Bytes of its area (a whole number of 4 KiB blocks); its backup is as long. */
  size: number;
}

export const DEFAULT_AREA_SIZE = 65_536;

export class ComponentSpecError extends Error {}

/** `id=kind[:version=V,size=N]`, e.g. `cfg=data:version=1.0,size=8192`. */
export function parseDeviceComponent(spec: string): DeviceComponent {
  const match = /^([^=]+)=(data|mod)(?::(.*))?$/.exec(spec);
  if (!match)
    throw new ComponentSpecError(
      `--component ${spec}: expected id=data or id=mod, with :version=V,size=N after it if needed`,
    );
  const fields: Record<string, unknown> = { id: match[1], kind: match[2] };
  for (const pair of match[3] ? match[3].split(",") : []) {
    const [key, value] = pair.split("=");
    if (key !== "version" && key !== "size")
      throw new ComponentSpecError(`--component ${spec}: "${pair}" is not version=V or size=N`);
    fields[key] = key === "size" ? Number(value) : value;
  }
  return checkDeviceComponent(fields, `--component ${spec}`);
}

/** A JSON array of { id, kind, version?, size? }. */
export function readComponentsFile(file: string): DeviceComponent[] {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (error) {
    throw new ComponentSpecError(
      `--components ${file}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  if (!Array.isArray(raw)) throw new ComponentSpecError(`--components ${file}: expected a JSON array`);
  return raw.map((entry, i) => checkDeviceComponent(entry, `--components ${file}: [${i}]`));
}

function checkDeviceComponent(input: unknown, where: string): DeviceComponent {
  const c = input as Record<string, unknown>;
  if (typeof c !== "object" || c === null) throw new ComponentSpecError(`${where}: expected an object`);
  for (const key of Object.keys(c))
    if (!["id", "kind", "version", "size"].includes(key))
      throw new ComponentSpecError(`${where}: unknown field "${key}"`);
  if (typeof c["id"] !== "string" || !/^[A-Za-z0-9._-]{1,32}$/.test(c["id"]))
    throw new ComponentSpecError(`${where}: id must be 1-32 of A-Z a-z 0-9 . _ -`);
  if (c["kind"] !== "data" && c["kind"] !== "mod")
    throw new ComponentSpecError(`${where}: kind is data or mod`);
  const version = c["version"] ?? "0";
  if (typeof version !== "string" || !/^[A-Za-z0-9._-]{1,64}$/.test(version))
    throw new ComponentSpecError(`${where}: version must be 1-64 of A-Z a-z 0-9 . _ -`);
  const size = c["size"] ?? DEFAULT_AREA_SIZE;
  const block = HOST_FLASH_GEOMETRY.blockLength;
  if (typeof size !== "number" || !Number.isInteger(size) || size < block || size % block !== 0)
    throw new ComponentSpecError(`${where}: size must be a whole number of ${block}-byte blocks`);
  return { id: c["id"], kind: c["kind"], version, size };
}

export interface OpenedAreas {
  flash: FileFlash;
  areas: Record<string, FlashPartition>;
  /** The engine's `components` (areas named `<id>` and `<id>.bak`). */
  configs: ComponentConfig[];
}

/** Opens (or creates, erased) the areas file: each component's area, then its backup, in the order given. */
export function openAreas(file: string, components: readonly DeviceComponent[]): OpenedAreas {
  const block = HOST_FLASH_GEOMETRY.blockLength;
  const size = components.reduce((sum, c) => sum + 2 * c.size, 0);
  const flash = new FileFlash({ file, size, ...HOST_FLASH_GEOMETRY });
  const areas: Record<string, FlashPartition> = {};
  const configs: ComponentConfig[] = [];
  let at = 0;
  for (const c of components) {
    const blocks = c.size / block;
    areas[c.id] = new FlashWindow(flash, at, blocks);
    areas[`${c.id}.bak`] = new FlashWindow(flash, at + blocks, blocks);
    at += 2 * blocks;
    configs.push({ id: c.id, kind: c.kind, area: c.id, backup: `${c.id}.bak`, version: c.version });
  }
  return { flash, areas, configs };
}
