// sota-device's data and mod components: `--component id=kind[:version=V,size=N]` or `--components file.json`,
// their flash areas (each component's area and its backup) in one file beside the flash file, and their status.

import fs from "node:fs";
import { FileFlash } from "../../hal/host/file-flash.js";
import type { FlashPartition } from "../../hal/flash.js";
import { FlashWindow } from "../../src/components/area.js";
import type { ComponentConfig } from "../../src/components/config.js";
import { ComponentStore } from "../../src/components/set-store.js";
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

/** One component as `sota-device status` shows it. */
export interface ComponentStatus {
  id: string;
  kind: "data" | "mod";
  /** The stored version (the configured one until an update stored another). */
  version: string;
  /** Byte ranges in the areas file. */
  area: { offset: number; size: number };
  backup: { offset: number; size: number };
  /** SHA-256 of the whole area, or "" when the areas file does not exist yet. */
  areaSha256: string;
  /** released (no set holds it), not-taken (pending member), old-contents (the set may restore from it). */
  backupState: "released" | "not-taken" | "old-contents";
  /** The set member's status and target, when a set is in progress. */
  member?: { status: string; target: string };
  /** Sectors of a download journaled in the area (0: none). */
  journaledSectors: number;
}

export interface ComponentsStatus {
  components: ComponentStatus[];
  /** The set record (`sota.comp`): "none", or its phase. */
  set: { phase: "none" | "staging" | "activating"; task: string[] };
}

/**
 * Reads the components' state without writing anything: the state file's `sota.comp` record and journals, and the
 * areas file's bytes (undefined when it does not exist yet).
 */
export function componentsStatus(
  components: readonly DeviceComponent[],
  state: Readonly<Record<string, string>>,
  areasBytes: Uint8Array | undefined,
  sha256: (bytes: Uint8Array) => string,
): ComponentsStatus {
  const store = new ComponentStore({
    get: (key) => state[key],
    set: () => {
      throw new Error("status is read-only");
    },
    delete: () => {
      throw new Error("status is read-only");
    },
  });
  const { versions, set } = store.load();
  let at = 0;
  const out = components.map((c): ComponentStatus => {
    const area = { offset: at, size: c.size };
    const backup = { offset: at + c.size, size: c.size };
    at += 2 * c.size;
    const member = set?.members.find((m) => m.id === c.id);
    const journal = (state[`sota.comp.j.${c.id}`] ?? "").split(":");
    const bytes = areasBytes && areasBytes.length >= area.offset + area.size ? areasBytes : undefined;
    return {
      id: c.id,
      kind: c.kind,
      version: versions[c.id] ?? c.version,
      area,
      backup,
      areaSha256: bytes ? sha256(bytes.subarray(area.offset, area.offset + area.size)) : "",
      backupState: !member ? "released" : member.status === "pending" ? "not-taken" : "old-contents",
      ...(member ? { member: { status: member.status, target: member.target } } : {}),
      journaledSectors: journal.length === 3 ? Number(journal[1]) || 0 : 0,
    };
  });
  return { components: out, set: { phase: set?.phase ?? "none", task: set?.task ?? [] } };
}

const BACKUP_TEXT: Record<ComponentStatus["backupState"], string> = {
  released: "backup released",
  "not-taken": "backup not taken yet",
  "old-contents": "backup holds the old contents",
};

/** The text lines of `sota-device status` for the components and the set record. */
export function formatComponentsStatus(status: ComponentsStatus, areasFile: string): string {
  const lines = [
    status.set.phase === "none"
      ? "set: none in progress"
      : `set: ${status.set.phase}, task ${status.set.task.join(", ")}`,
  ];
  for (const c of status.components) {
    const member = c.member ? `, ${c.member.status} for ${c.member.target}` : "";
    const journal = c.journaledSectors > 0 ? `, ${c.journaledSectors} sectors journaled` : "";
    lines.push(
      `component ${c.id} (${c.kind}) ${c.version}${member}; area ${c.area.offset}+${c.area.size}, ` +
        `backup ${c.backup.offset}+${c.backup.size} in ${areasFile}: ${BACKUP_TEXT[c.backupState]}${journal}` +
        (c.areaSha256 ? `; area sha256 ${c.areaSha256}` : "; areas file not created yet"),
    );
  }
  return `${lines.join("\n")}\n`;
}
