// SystemPort for Moddable: restart (System.restart on ESP32, an app-level restart in the simulator), identity, trace.

import type { SystemPort } from "../system.js";

export interface ModdableSystemOptions {
  deviceId: string;
  /** Used where the runtime cannot reboot (the Linux simulator has no System.restart). */
  restartFallback: () => void;
  /** Used first when given: the board's own reset (Zephyr: the SDK's System.restart() only waits). */
  reboot?: () => void;
  batteryPercent?: () => number;
}

export class ModdableSystem implements SystemPort {
  readonly #options: ModdableSystemOptions;

  constructor(options: ModdableSystemOptions) {
    this.#options = options;
  }

  restart(): void {
    if (this.#options.reboot) return this.#options.reboot();
    const system = (globalThis as { System?: { restart?: () => void } }).System;
    if (system && typeof system.restart === "function") system.restart();
    else this.#options.restartFallback();
  }

  batteryPercent(): number {
    return this.#options.batteryPercent ? this.#options.batteryPercent() : 100;
  }

  deviceId(): string {
    return this.#options.deviceId;
  }

  log(message: string): void {
    trace(message, "\n");
  }
}
