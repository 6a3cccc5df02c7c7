// Protocol rules the chaos property and the soak both check after a run (the engine once broke each of them).

import type { TraceEntry } from "../../../tools/module/virtual-module.js";
import type { Rig } from "./rig.js";

/** An activation only after the module took QIOTUPDATE=3 (a 10704 after the last 10703), and no trial confirmed after a 10706. */
export function activationViolations(rig: Rig, trace: TraceEntry[]): string[] {
  const found: string[] = [];
  for (const line of rig.logs) {
    if (!/ sota: (activating: |restarting: activating the verified)/.test(line)) continue;
    const at = Number(line.slice(0, line.indexOf(" ")));
    let updating = false;
    for (const e of trace) {
      if (e.time > at + 1) break;
      if (e.kind !== "urc") continue;
      if (e.text.startsWith("+QIOTEVT: 7,10703")) updating = false;
      else if (e.text.startsWith("+QIOTEVT: 7,10704")) updating = true;
      else if (e.text.startsWith("+QIOTEVT: 7,10706")) updating = false;
    }
    if (!updating) found.push(`activation without 10704: ${line}`);
  }
  if (rig.states.some((st) => st.state === "updated" && /module reported 10706/.test(st.reason)))
    found.push("trial confirmed after 10706");
  return found;
}

/**
 * The slot erase budget: at most `maxFailures` downloads start from an erased slot (a failed one counts, a resumed
 * one does not), a power cut may make the resume erase again the block it interrupted, each MCU restart
 * (`mcuRestarts`) may erase again what the engine had erased ahead beyond the journal (its RAM knowledge of those
 * blocks is gone; docs/protocol.md §13, decision 82), and each module reboot (`moduleReboots`) only the block it
 * was writing (the receive in RAM tells the rest, decision 84). One check for the chaos property and soak.
 */
export function eraseBudgetViolations(
  rig: Rig,
  maxFailures: number,
  mcuRestarts: number,
  moduleReboots: number,
): string[] {
  const slotBlocks = rig.layout.slots[0].length / rig.layout.blockLength;
  const erases = slotErases(rig);
  return erases > (maxFailures + mcuRestarts) * slotBlocks + moduleReboots + 2
    ? [
        `${erases} slot block erases for ${slotBlocks}-block slots after ${mcuRestarts} MCU restart(s) and ${moduleReboots} module reboot(s)`,
      ]
    : [];
}

/** Block erases of both slots since power-on. */
export function slotErases(rig: Rig): number {
  const blockLength = rig.layout.blockLength;
  let erases = 0;
  for (const slot of rig.layout.slots)
    for (let b = slot.offset / blockLength; b < (slot.offset + slot.length) / blockLength; b++)
      erases += rig.flash.stats.erases[b] ?? 0;
  return erases;
}

/** Module reboots a fault list may cause (each `reboot:` fault fires `times` times, default once). */
export function rebootFaults(faults: readonly string[]): number {
  let count = 0;
  for (const fault of faults) {
    if (!fault.startsWith("reboot:")) continue;
    const times = /(?:^|[:,])times=(\d+)/.exec(fault);
    count += times ? Number(times[1]) : 1;
  }
  return count;
}
