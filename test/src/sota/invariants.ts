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
