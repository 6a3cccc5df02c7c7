// A simulated device with several components (image + data + mod) against the virtual module's multi-component
// plans: the rig of test/src/sota with flash areas for the data and mod components and their backups. Portable.

import { SimNorFlash } from "../../../hal/sim/nor-flash.js";
import { FlashWindow, areaSha256 } from "../../../src/components/area.js";
import type { ComponentConfig } from "../../../src/components/config.js";
import { ComponentStore } from "../../../src/components/set-store.js";
import { COMPONENT, NEW_VERSION, OLD_VERSION, Rig, imageFor } from "../sota/rig.js";
import type { RigOptions } from "../sota/rig.js";

export const BLOCK = 4096;
/** Each area is two blocks; its backup two more. */
export const AREA_BLOCKS = 2;

export interface Extra {
  id: string;
  kind: "data" | "mod";
  from: string;
  to: string;
  /** Bytes of the new contents. */
  size: number;
  /** Offered as a differential plan from `from` (a package only the image could apply). */
  diff?: boolean;
}

export const CFG: Extra = { id: "cfg", kind: "data", from: "1.0", to: "2.0", size: 5000 };
export const MOD: Extra = { id: "logic", kind: "mod", from: "1", to: "2", size: 1500 };

export interface MultiRig {
  rig: Rig;
  areaFlash: SimNorFlash;
  areas: Record<string, FlashWindow>;
  /** Old and new contents of each extra component (the old fill the whole area). */
  oldBytes: Record<string, Uint8Array>;
  newBytes: Record<string, Uint8Array>;
  extras: Extra[];
  /** Every line of the module's live trace. */
  traces: string[];
}

/** `order` lists the plan's components in the module's order ("app" is the image). */
export function multiRig(
  extras: Extra[],
  options: Partial<RigOptions> & { order?: string[]; areaFlash?: SimNorFlash } = {},
): MultiRig {
  const blocks = extras.length * 2 * AREA_BLOCKS;
  const oldBytes: Record<string, Uint8Array> = {};
  const newBytes: Record<string, Uint8Array> = {};
  const initial = new Uint8Array(blocks * BLOCK).fill(0xff);
  extras.forEach((e, i) => {
    oldBytes[e.id] = imageFor(`${e.id}-${e.from}`, AREA_BLOCKS * BLOCK);
    newBytes[e.id] = imageFor(`${e.id}-${e.to}`, e.size);
    initial.set(oldBytes[e.id]!, i * 2 * AREA_BLOCKS * BLOCK);
  });
  const areaFlash =
    options.areaFlash ??
    new SimNorFlash({ size: blocks * BLOCK, blockLength: BLOCK, writeAlign: 4, initial });
  const areas: Record<string, FlashWindow> = {};
  const components: ComponentConfig[] = [];
  extras.forEach((e, i) => {
    areas[e.id] = new FlashWindow(areaFlash, i * 2 * AREA_BLOCKS, AREA_BLOCKS);
    areas[`${e.id}.bak`] = new FlashWindow(areaFlash, i * 2 * AREA_BLOCKS + AREA_BLOCKS, AREA_BLOCKS);
    components.push({ id: e.id, kind: e.kind, area: e.id, backup: `${e.id}.bak`, version: e.from });
  });
  const planned = (id: string): Record<string, unknown> => {
    const e = extras.find((x) => x.id === id);
    // An id that is not one of the device's components: a package for another product's part.
    if (!e)
      return { id, type: "full", targetVersion: "9.9", package: "pkg.bin", minBattery: 10, minSignal: -110 };
    return {
      id,
      ...(e.diff ? { type: "diff", sourceVersion: e.from } : { type: "full" }),
      targetVersion: e.to,
      package: `${id}.bin`,
      minBattery: 10,
      minSignal: -110,
    };
  };
  const order = options.order ?? [COMPONENT, ...extras.map((e) => e.id)];
  const image = order.indexOf(COMPONENT);
  const first = image === 0 ? {} : planned(order[0]!);
  const rest = order.filter((_, i) => i !== 0).map((id) => (id === COMPONENT ? undefined : planned(id)));
  const traces: string[] = [];
  const rig = new Rig({
    onTrace: (entry) => traces.push(entry.text),
    imageSize: 6000,
    settings: { freeSpace: 4096 },
    ...options,
    component: image === 0 ? options.component : first,
    extraComponents: rest.map(
      (c) =>
        c ?? {
          id: COMPONENT,
          type: "full",
          targetVersion: NEW_VERSION,
          package: "pkg.bin",
          minBattery: 10,
          minSignal: -110,
        },
    ),
    packagesByName: Object.fromEntries(extras.map((e) => [`${e.id}.bin`, newBytes[e.id]!])),
    areas,
    engine: { components, ...options.engine },
  });
  return { rig, areaFlash, areas, oldBytes, newBytes, extras, traces };
}

/**
 * Which set runs after the last boot decision and the engine's settling: "old", "new", or "mix: ...". A data or mod
 * component's running contents are where the app reads them (ComponentSet.running): its backup while a staging set
 * has written its area.
 */
export function runningSet(m: MultiRig): string {
  const running = m.rig.boots[m.rig.boots.length - 1]!.running;
  const imageNew = running.version === NEW_VERSION;
  const parts: string[] = [];
  let news = 0;
  const store = new ComponentStore(m.rig.kv);
  for (const e of m.extras) {
    const written = store.written(e.id);
    const area = m.areas[written ? `${e.id}.bak` : e.id]!;
    const isNew =
      e.size <= area.status().size &&
      areaSha256(area, e.size, m.rig.digests) === m.rig.sha256(m.newBytes[e.id]!);
    const isOld = areaSha256(area, AREA_BLOCKS * BLOCK, m.rig.digests) === m.rig.sha256(m.oldBytes[e.id]!);
    if (!isNew && !isOld) parts.push(`${e.id} neither old nor new`);
    if (isNew) news++;
  }
  if (parts.length) return `mix: ${parts.join(", ")}`;
  if (imageNew && news === m.extras.length) return "new";
  if (!imageNew && news === 0 && running.version === OLD_VERSION) return "old";
  return `mix: image ${running.version}, ${news}/${m.extras.length} components new`;
}

/** True once the module logged `event` for each of `ids`. */
export function monitorAll(rig: Rig, ids: string[], event: string): boolean {
  return ids.every((id) => rig.module.monitor.entries.some((e) => e.component === id && e.event === event));
}
