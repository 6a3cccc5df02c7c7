// AT+QIOTMCUVER: the MCU version list the module keeps in its flash (one 512-byte `id:ver;...` string, S2), and
// the version report that ends an OTA (docs/protocol.md §2, §3, docs/protocol.md §9.9).

import { byteLength, type Arg } from "./at-port.js";
import type { ModuleContext } from "./module-context.js";
import type { ModuleFlash } from "./module-flash.js";

export const MCU_LIST_CAPACITY = 512;

/** The list exactly as the module stores it: `id:ver` joined by `;`. */
export function mcuListText(list: ReadonlyArray<readonly [string, string]>): string {
  return list.map(([id, ver]) => `${id}:${ver}`).join(";");
}

export function runningVersion(flash: ModuleFlash, id: string): string | undefined {
  const entry = flash.mcuList.find(([i]) => i === id);
  return entry ? entry[1] : undefined;
}

/** AT+QIOTMCUVER? : one line per component, in list order. */
export function listVersions(m: ModuleContext): void {
  m.port.ok(m.flash.mcuList.map(([id, ver]) => `+QIOTMCUVER: "${id}","${ver}"`));
}

/** AT+QIOTMCUVER="<id>" */
export function queryVersion(m: ModuleContext, args: Arg[]): void {
  if (!args[0]!.quoted) return m.port.error();
  const id = args[0]!.value;
  const entry = m.flash.mcuList.find(([i]) => i === id);
  if (entry) m.port.ok([`+QIOTMCUVER: "${entry[0]}","${entry[1]}"`]);
  else m.port.error();
}

/** AT+QIOTMCUVER="<id>","<ver>": stores (an empty version deletes), then compares with an active OTA's target. */
export function reportVersion(m: ModuleContext, args: Arg[]): void {
  if (!args[0]!.quoted || !args[1]!.quoted) return m.port.error();
  const flash = m.flash;
  const id = args[0]!.value;
  const version = args[1]!.value;
  const idLength = byteLength(id);
  const idValid = idLength >= 1 && idLength <= 32 && !/[:;]/.test(id);
  // S2 checks only the lengths before it compares; `:`/`;` are refused here (they would break the `id:ver;` list).
  const lengthsValid = idLength >= 1 && idLength <= 32 && byteLength(version) <= 64;
  const versionValid = lengthsValid && !/[:;]/.test(version);
  let stored = false;
  if (idValid && versionValid) {
    const running = runningVersion(flash, id);
    const unchanged = running === version || (version === "" && running === undefined);
    const list = flash.mcuList.filter(([i]) => i !== id);
    if (version !== "") list.push([id, version]); // an update moves the entry to the end; "" deletes
    if (unchanged)
      stored = true; // S2: an unchanged version is not written again, so it keeps its place
    else if (byteLength(mcuListText(list)) <= MCU_LIST_CAPACITY) {
      flash.mcuList = list;
      stored = true;
    }
  }
  if (stored) m.port.ok();
  else m.port.error();
  // docs/protocol.md §3, §9.9: the comparison fires even when the command answered ERROR (list full) or the version
  // is unchanged, but not after a length error (S2 returns before it compares).
  if (lengthsValid) m.ota.versionReported(id, version);
}
