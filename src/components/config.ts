// The components of a device as its configuration declares them: id, kind, flash areas and version source.

export type ComponentKind = "image" | "data" | "mod";

export const COMPONENT_KINDS: readonly ComponentKind[] = ["image", "data", "mod"];

export interface ComponentConfig {
  /** The component id the Developer Center uses (1-32 of [A-Za-z0-9._-]). */
  id: string;
  kind: ComponentKind;
  /** data/mod: the name of the flash area holding it (a key of the engine's `areas` port). */
  area?: string;
  /** data/mod: the area that keeps its previous contents until the set is confirmed (at least as long as `area`). */
  backup?: string;
  /** data/mod: its version until an update stores one (the version it left the factory with). */
  version?: string;
}

export class ComponentConfigError extends Error {}

const ID = /^[A-Za-z0-9._-]{1,32}$/;
const VERSION = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Checks the list against the engine's own component (the image) and adds that one when it is missing; throws
 * ComponentConfigError naming the first problem.
 */
export function checkComponents(
  components: readonly ComponentConfig[],
  imageId: string,
  areas: Readonly<Record<string, { status(): { size: number } }>>,
): ComponentConfig[] {
  const seen = new Set<string>();
  const out: ComponentConfig[] = [];
  let image = false;
  components.forEach((c, i) => {
    const where = `components[${i}]`;
    if (!ID.test(c.id)) throw new ComponentConfigError(`${where}.id "${c.id}": 1-32 of A-Z a-z 0-9 . _ -`);
    if (seen.has(c.id)) throw new ComponentConfigError(`${where}.id "${c.id}" appears twice`);
    seen.add(c.id);
    if (!COMPONENT_KINDS.includes(c.kind))
      throw new ComponentConfigError(
        `${where}.kind "${String(c.kind)}": one of ${COMPONENT_KINDS.join(", ")}`,
      );
    if (c.kind === "image") {
      // Boot control holds one A/B image: the engine's own component.
      if (c.id !== imageId)
        throw new ComponentConfigError(`${where}: the image component is the engine's own ("${imageId}")`);
      image = true;
      out.push({ id: c.id, kind: "image" });
      return;
    }
    const area = c.area ? areas[c.area] : undefined;
    const backup = c.backup ? areas[c.backup] : undefined;
    if (!area)
      throw new ComponentConfigError(`${where}.area "${c.area ?? ""}" is not a flash area of this device`);
    if (!backup)
      throw new ComponentConfigError(
        `${where}.backup "${c.backup ?? ""}" is not a flash area of this device`,
      );
    if (c.backup === c.area) throw new ComponentConfigError(`${where}: the backup must be another area`);
    if (backup.status().size < area.status().size)
      throw new ComponentConfigError(`${where}: backup "${c.backup}" is smaller than area "${c.area}"`);
    if (c.version !== undefined && !VERSION.test(c.version))
      throw new ComponentConfigError(`${where}.version "${c.version}": 1-64 of A-Z a-z 0-9 . _ -`);
    out.push({ id: c.id, kind: c.kind, area: c.area, backup: c.backup, version: c.version ?? "" });
  });
  for (const c of out)
    if (c.kind !== "image" && out.some((o) => o !== c && (o.area === c.area || o.backup === c.area)))
      throw new ComponentConfigError(`component ${c.id}: area "${c.area}" is used twice`);
  if (!image) out.unshift({ id: imageId, kind: "image" });
  return out;
}

/**
 * Parses `id=kind[:area=NAME,backup=NAME,version=V]` (the `--component` form of sota-device and the app's string
 * form), e.g. `cfg=data:area=cfg,backup=cfg.bak,version=1.0`.
 */
export function parseComponentSpec(spec: string): ComponentConfig {
  const eq = spec.indexOf("=");
  if (eq <= 0) throw new ComponentConfigError(`component "${spec}": expected id=kind[:key=value,...]`);
  const id = spec.slice(0, eq);
  const rest = spec.slice(eq + 1);
  const colon = rest.indexOf(":");
  const kind = (colon < 0 ? rest : rest.slice(0, colon)) as ComponentKind;
  const config: ComponentConfig = { id, kind };
  if (colon >= 0) {
    for (const pair of rest.slice(colon + 1).split(",")) {
      const [key, value] = pair.split("=");
      if (value === undefined || !["area", "backup", "version"].includes(key!))
        throw new ComponentConfigError(`component "${spec}": "${pair}" is not area=, backup= or version=`);
      (config as unknown as Record<string, string>)[key!] = value;
    }
  }
  if (!COMPONENT_KINDS.includes(kind))
    throw new ComponentConfigError(
      `component "${spec}": kind "${kind}" is not one of ${COMPONENT_KINDS.join(", ")}`,
    );
  return config;
}
