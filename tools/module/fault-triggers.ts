// When the configured faults fire: the uses each one has left, the per-command counts of ERROR faults, and the
// byte faults of the output stream. faults.ts holds their grammar; the sections ask here at their trigger points.

import { applyByteFaults, type Fault } from "./faults.js";

export class FaultTriggers {
  readonly all: readonly Fault[];
  /** Byte faults of the whole module→device stream (those without `read`). */
  private readonly stream: Fault[];
  private readonly uses = new Map<Fault, number>();
  private readonly commandCounts = new Map<Fault, number>();

  constructor(faults: Fault[]) {
    this.all = faults;
    this.stream = faults.filter(
      (f) => (f.kind === "drop" || f.kind === "corrupt" || f.kind === "dup") && f.read === undefined,
    );
    for (const fault of faults) this.uses.set(fault, fault.times ?? 1);
  }

  /** Spends one use of the fault; false when it has none left. */
  use(fault: Fault): boolean {
    const left = this.uses.get(fault) ?? 0;
    if (left <= 0) return false;
    this.uses.set(fault, left - 1);
    return true;
  }

  /** The first matching fault with a use left (spending it). */
  take(predicate: (fault: Fault) => boolean): Fault | undefined {
    for (const fault of this.all) if (predicate(fault) && this.use(fault)) return fault;
    return undefined;
  }

  /** The ERROR fault this command triggers, if any (each fault counts the commands starting with its `cmd`). */
  injectedError(command: string): Fault | undefined {
    const name = command.slice(2).replace(/^\+/, "").toUpperCase();
    for (const fault of this.all) {
      if (fault.kind !== "error" || !name.startsWith(fault.cmd!)) continue;
      const seen = (this.commandCounts.get(fault) ?? 0) + 1;
      this.commandCounts.set(fault, seen);
      const first = fault.nth ?? 1;
      if (seen >= first && seen < first + (fault.times ?? 1)) return fault;
    }
    return undefined;
  }

  /** The stream's byte faults applied to bytes starting at `position`; the same array when none applies. */
  applyStreamFaults(bytes: Uint8Array, position: number): Uint8Array {
    return this.stream.length ? applyByteFaults(bytes, position, this.stream) : bytes;
  }
}
