// The components' persistent state in one key-value record: the stored versions of data and mod components and
// the set in progress. Every step of a set is one write of this record, so a power cut leaves the old or the new.

import type { KeyValueStore } from "../../hal/kv.js";
import type { ComponentKind } from "./config.js";

/** pending: nothing written yet; backed-up: the backup holds the old contents, the area may hold part of the new; staged: verified. */
export type MemberStatus = "pending" | "backed-up" | "staged";

export interface SetMember {
  id: string;
  kind: ComponentKind;
  target: string;
  /** The version it ran before the set (reported again if the set is dropped). */
  from: string;
  status: MemberStatus;
}

export interface SetRecord {
  /** staging: the old set runs; activating: the new set boots (the image on trial), until confirmed or rolled back. */
  phase: "staging" | "activating";
  members: SetMember[];
  /** The component ids of the task being downloaded, in the module's order (its last one activates the set). */
  task: string[];
}

export interface ComponentState {
  /** Stored versions of data and mod components (an image's version is its boot record's). */
  versions: Record<string, string>;
  set: SetRecord | undefined;
}

const KEY = "sota.comp";

export class ComponentStore {
  readonly #kv: KeyValueStore;
  #cached: ComponentState | undefined;

  constructor(kv: KeyValueStore) {
    this.#kv = kv;
  }

  load(): ComponentState {
    this.#cached ??= parse(this.#kv.get(KEY));
    return this.#cached;
  }

  /** One key-value write (atomic in the store): versions and set change together or not at all. */
  save(state: ComponentState): void {
    this.#kv.set(KEY, JSON.stringify(state));
    this.#cached = JSON.parse(JSON.stringify(state)) as ComponentState;
  }

  get set(): SetRecord | undefined {
    return this.load().set;
  }

  /**
   * True while a staging set has written `id`'s area (it holds part or all of the new contents, and the old
   * ones are in its backup): the app must then not run a mod from it, nor read data from it (ComponentSet.running).
   */
  written(id: string): boolean {
    const set = this.set;
    return set?.phase === "staging" && set.members.some((m) => m.id === id && m.status !== "pending");
  }

  /** A new set record (or none), the versions unchanged: one write. */
  saveSet(set: SetRecord | undefined): void {
    this.save({ versions: this.load().versions, set });
  }
}

function parse(text: string | undefined): ComponentState {
  if (text === undefined) return { versions: {}, set: undefined };
  try {
    const value = JSON.parse(text) as Partial<ComponentState>;
    const versions: Record<string, string> = {};
    for (const [id, version] of Object.entries(value.versions ?? {})) versions[id] = String(version);
    const set = value.set;
    const ok =
      set !== undefined &&
      set !== null &&
      (set.phase === "staging" || set.phase === "activating") &&
      Array.isArray(set.members) &&
      Array.isArray(set.task);
    return { versions, set: ok ? set : undefined };
  } catch {
    // Unreadable: the factory versions; a set it held is lost, and settle() finds no set to restore.
    return { versions: {}, set: undefined };
  }
}
