// ComponentSet: the components of one device updated as one set (docs/protocol.md §7, §13.6):
// staged one after another in the module's order, activated together, trial-booted together with the image,
// confirmed together or restored together from their backups. Every step is one write of the set record.

import type { FlashPartition } from "../../hal/flash.js";
import type { DigestFactory } from "../../hal/digest.js";
import type { BootControl, BootReport } from "../boot/types.js";
import type { ImageDescriptor, ImageReceiver } from "../image/types.js";
import { AreaJournal, AreaReceiver, copyArea } from "./area.js";
import type { ComponentConfig } from "./config.js";
import { ComponentStore } from "./set-store.js";
import type { SetMember, SetRecord } from "./set-store.js";
import type { KeyValueStore } from "../../hal/kv.js";

export interface ComponentSetPorts {
  kv: KeyValueStore;
  /** The real boot control (the image's A/B slots). */
  boot: BootControl;
  areas: Readonly<Record<string, FlashPartition>>;
  digests: DigestFactory;
  /** Checked components (checkComponents), the image first or anywhere. */
  components: readonly ComponentConfig[];
  /** The image's slot size (the space gate of the image component). */
  slotSize: number;
  log: (message: string) => void;
}

/** What the engine does after a member's verified download: close its cycle and go on, or restart into the set. */
export type StagedOutcome = "close-cycle" | "activate";

export class ComponentSet {
  readonly store: ComponentStore;
  readonly components: readonly ComponentConfig[];
  /** The boot control the engine uses: image calls go to the real one, data and mod downloads to their areas. */
  readonly boot: BootControl;
  /** The member whose verified download still needs its cycle closed (its target reported), or "". */
  pendingClose = "";
  /** The component the engine works on now (its OTA record's). */
  current: string;
  readonly #ports: ComponentSetPorts;
  readonly #imageId: string;
  #areaReceiver: AreaReceiver | undefined;

  constructor(ports: ComponentSetPorts) {
    this.#ports = ports;
    this.store = new ComponentStore(ports.kv);
    this.components = ports.components;
    this.#imageId = ports.components.find((c) => c.kind === "image")!.id;
    this.current = this.#imageId;
    this.boot = this.#facade();
  }

  get imageId(): string {
    return this.#imageId;
  }

  member(id: string): ComponentConfig | undefined {
    return this.components.find((c) => c.id === id);
  }

  /** The version that runs now: the image's from its boot record, a data or mod component's from the store. */
  committed(id: string): string {
    if (id === this.#imageId) return this.#ports.boot.report.running.version;
    return this.store.load().versions[id] ?? this.member(id)?.version ?? "";
  }

  /** The version to tell the module: a staged member's cycle was closed with its target (docs/protocol.md §7). */
  reported(id: string): string {
    const staged = this.store.set?.members.find((m) => m.id === id && m.status === "staged");
    return this.store.set?.phase === "staging" && staged ? staged.target : this.committed(id);
  }

  /** Bytes a component can hold (the space gate). */
  capacity(id: string): number {
    const c = this.member(id);
    if (!c) return 0;
    return c.kind === "image" ? this.#ports.slotSize : this.#ports.areas[c.area!]!.status().size;
  }

  area(id: string): FlashPartition | undefined {
    const c = this.member(id);
    return c && c.kind !== "image" ? this.#ports.areas[c.area!] : undefined;
  }

  /**
   * Where the running set's contents of a data or mod component are: its backup while a staging set has written
   * its area (the area then holds part or all of the new contents), its area otherwise. What the app reads.
   */
  running(id: string): FlashPartition | undefined {
    const c = this.member(id);
    if (!c || c.kind === "image") return undefined;
    return this.#ports.areas[this.store.written(id) ? c.backup! : c.area!];
  }

  /** The resume journal of a data or mod component's download. */
  journal(id: string): AreaJournal {
    return new AreaJournal(this.#ports.kv, id);
  }

  /**
   * At every MCU start, before the app runs anything of a component: a set still staging is kept (the old set runs,
   * a written area's old contents from its backup, and each member's download resumes from its journal); an
   * activating set is kept if its image booted (on trial) or confirmed, restored otherwise. Returns what it did
   * ("" for nothing). `dropOta` clears the engine's OTA record (a dropped set ends its OTA too).
   */
  settle(dropOta: () => void): string {
    const set = this.store.set;
    if (!set) return "";
    const image = set.members.find((m) => m.kind === "image");
    const report = this.#ports.boot.report;
    if (set.phase === "activating") {
      if (!image) {
        this.finalize();
        return `set activated: ${describe(set)}`;
      }
      if (report.running.version === image.target) {
        if (report.trial) return `set on trial: ${describe(set)}`;
        // Confirmed before the set record said so (a cut between the two writes): the boot record decided.
        this.finalize();
        return `set confirmed: ${describe(set)}`;
      }
      this.#restore(set, dropOta);
      return `set rolled back (${report.rollbackReason || "image not running"}): ${describe(set, true)}`;
    }
    // The old set runs (written areas' old contents are whole in their backups); every download resumes.
    return `set staging, resumed: ${set.members.map((m) => `${m.id} ${m.target} ${m.status}`).join(", ")}`;
  }

  /** The set's confirmation: the stored versions become the targets and the set record goes, in one write (the commit point). */
  finalize(): void {
    const state = this.store.load();
    if (!state.set) return;
    const versions = { ...state.versions };
    for (const m of state.set.members) if (m.kind !== "image") versions[m.id] = m.target;
    // One record write: the new versions and the end of the set together; the backups are free from here on.
    this.store.save({ versions, set: undefined });
    for (const m of state.set.members) if (m.kind !== "image") this.journal(m.id).clear();
    this.#ports.log(`set confirmed: ${describe(state.set)}; backups released`);
  }

  /** A confirmed task: its members join the set (a staging set from an earlier task keeps its staged members). */
  beginTask(offers: ReadonlyArray<{ component: string; targetVersion: string }>): void {
    const previous = this.store.set;
    const members: SetMember[] = previous ? previous.members.map((m) => ({ ...m })) : [];
    for (const offer of offers) {
      const c = this.member(offer.component)!;
      const existing = members.find((m) => m.id === c.id);
      // Once backed up, never again: the area may already hold part of the new contents.
      const status =
        existing && existing.status !== "pending" && c.kind !== "image" ? "backed-up" : "pending";
      const member: SetMember = {
        id: c.id,
        kind: c.kind,
        target: offer.targetVersion,
        from: existing?.from ?? this.committed(c.id),
        status,
      };
      if (existing) members[members.indexOf(existing)] = member;
      else members.push(member);
    }
    // Written before the confirm goes out: from then on an area may be written, and a restart must find the set.
    this.store.saveSet({ phase: "staging", members, task: offers.map((o) => o.component) });
  }

  /** The next member of the task still to download after `id`, or undefined. */
  nextInTask(id: string): SetMember | undefined {
    const set = this.store.set;
    if (!set) return undefined;
    const after = set.task.slice(set.task.indexOf(id) + 1);
    return set.members.find((m) => after.includes(m.id) && m.status !== "staged");
  }

  /** The set member `id` of the task in progress (not staged yet), or undefined. */
  taskMember(id: string): SetMember | undefined {
    const set = this.store.set;
    if (!set || set.phase !== "staging" || !set.task.includes(id)) return undefined;
    return set.members.find((m) => m.id === id);
  }

  /** Drops a staging set now (no restart): used when a task is refused and a set is half staged. */
  drop(dropOta: () => void): void {
    const set = this.store.set;
    if (set?.phase === "staging") this.#restore(set, dropOta);
  }

  // ------------------------------------------------------------------------------------------------ internals

  /** Member `id` is verified: staged, and when the whole set is, activated (returns which). */
  #staged(id: string): StagedOutcome {
    const set = this.store.set;
    if (!set || set.phase !== "staging") throw new Error(`no staging set for ${id}`);
    const members = set.members.map((m) => (m.id === id ? { ...m, status: "staged" as const } : m));
    if (!members.every((m) => m.status === "staged")) {
      this.store.saveSet({ ...set, members });
      this.pendingClose = id;
      return "close-cycle";
    }
    // The set's one commit record: from this write on a restart boots the new set (the image's trial covers it).
    this.store.saveSet({ ...set, phase: "activating", members });
    this.#ports.log(`set activating: ${describe({ ...set, members })}`);
    if (members.some((m) => m.kind === "image")) this.#ports.boot.activate();
    return "activate";
  }

  /** Backs up a data or mod area before its first write in this set (the set record says it is done). */
  #backUp(member: SetMember): void {
    if (member.status !== "pending") return;
    const c = this.member(member.id)!;
    const area = this.#ports.areas[c.area!]!;
    const backup = this.#ports.areas[c.backup!]!;
    copyArea(area, backup, new Uint8Array(area.status().blockLength));
    const set = this.store.set!;
    // One record write: the backup is whole from here on, and the area may be written.
    this.store.saveSet({
      ...set,
      members: set.members.map((m) => (m.id === member.id ? { ...m, status: "backed-up" as const } : m)),
    });
  }

  /** The old set again: each written area from its backup, a staged image dropped, then the set record goes. */
  #restore(set: SetRecord, dropOta: () => void): void {
    const scratch = new Uint8Array(this.#blockLength());
    for (const m of set.members) {
      if (m.kind === "image" || m.status === "pending") continue;
      const c = this.member(m.id);
      if (!c) continue;
      // Before the copy: the journal must not vouch for sectors the old contents overwrite.
      this.journal(m.id).clear();
      copyArea(this.#ports.areas[c.backup!]!, this.#ports.areas[c.area!]!, scratch);
    }
    const boot = this.#ports.boot;
    if (
      set.phase === "staging" &&
      boot.report.slots.some((s) => s.state === "verified" || s.state === "receiving")
    )
      boot.abandonReceive("set not activated");
    dropOta();
    // Written last: until here a cut leaves the set record, and the restore runs again (it is idempotent).
    this.store.saveSet(undefined);
    this.#areaReceiver = undefined;
  }

  #blockLength(): number {
    let length = 0;
    for (const c of this.components)
      if (c.kind !== "image") length = Math.max(length, this.#ports.areas[c.area!]!.status().blockLength);
    return length || 1;
  }

  #facade(): BootControl {
    const real = this.#ports.boot;
    const isArea = (id: string) => this.member(id)?.kind === "data" || this.member(id)?.kind === "mod";
    return {
      get report(): BootReport {
        return real.report;
      },
      startReceive: (descriptor: ImageDescriptor): ImageReceiver => {
        if (!isArea(descriptor.component)) return real.startReceive(descriptor);
        const member = this.taskMember(descriptor.component);
        if (!member) throw new RangeError(`no set member ${descriptor.component} to receive`);
        this.#backUp(member);
        // A download of the same descriptor goes on after its journaled prefix (a reset, or the retried task).
        const receiver = new AreaReceiver(
          this.area(descriptor.component)!,
          descriptor,
          this.#ports.digests,
          this.journal(descriptor.component),
        );
        if (receiver.received > 0)
          this.#ports.log(
            `${descriptor.component} ${descriptor.version}: ${receiver.received} bytes resumed from its journal`,
          );
        this.#areaReceiver = receiver;
        return receiver;
      },
      resumeReceive: () => (isArea(this.current) ? this.#areaReceiver : real.resumeReceive()),
      abandonReceive: (reason: string) => {
        if (isArea(this.current)) {
          this.#areaReceiver = undefined;
          // A download that failed its checks starts over; one merely interrupted keeps its verified prefix.
          if (reason.startsWith("verification failed")) this.journal(this.current).clear();
          return;
        }
        // A staged image belongs to the set: only the set's own restore drops it.
        if (this.store.set?.members.some((m) => m.kind === "image" && m.status === "staged")) {
          this.#ports.log(`staged image kept (${reason})`);
          return;
        }
        real.abandonReceive(reason);
      },
      activate: () => {
        this.#staged(this.current);
      },
      confirm: () => real.confirm(),
      reject: (reason: string) => real.reject(reason),
    };
  }
}

function describe(set: SetRecord, old = false): string {
  return set.members.map((m) => `${m.id} ${old ? m.from : m.target}`).join(", ");
}
