// What the virtual module keeps in its flash across reboots and power cycles (docs/protocol.md §6, §9a).

import { OtaState } from "./ota-states.js";

/** The persisted fields; everything else in the module is RAM and lost at reboot. */
export interface ModuleFlash {
  productKey: string;
  productSecret: string;
  regMode: 0 | 1 | 2;
  /** `id:ver` entries in list order (stored as one `;`-joined 512-byte string). */
  mcuList: Array<[string, string]>;
  otaComponent: string;
  otaTarget: string;
  otaType: "mcu" | "";
  otaState: number;
  shaOption: number;
  /** The first connection (1,10200) happened. */
  authenticated: boolean;
}

/** A fresh module: productinfo only when the settings say it was saved before. */
export function blankFlash(productKey: string, productSecret: string, regMode: 0 | 1 | 2): ModuleFlash {
  return {
    productKey,
    productSecret: productKey ? productSecret : "",
    regMode,
    mcuList: [],
    otaComponent: "",
    otaTarget: "",
    otaType: "",
    otaState: OtaState.NOPLAN,
    shaOption: 0,
    authenticated: false,
  };
}

export function copyFlash(flash: ModuleFlash): ModuleFlash {
  return { ...flash, mcuList: flash.mcuList.map(([a, b]) => [a, b] as [string, string]) };
}
