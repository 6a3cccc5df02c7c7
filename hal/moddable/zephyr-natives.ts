// The Zephyr board's natives through the manifest's "ffi" (hal/moddable/zephyr/sota_zephyr.c): a real reset.

import FFI from "mc/ffi";

export class ZephyrNatives {
  readonly #natives = new FFI();

  /** sys_reboot(SYS_REBOOT_COLD): MCUboot runs and acts on the trailers. Returns only if the reset failed. */
  reboot(): void {
    this.#natives.sota_reboot();
    throw new Error("sys_reboot returned");
  }
}
