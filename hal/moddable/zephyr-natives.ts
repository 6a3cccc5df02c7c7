// The Zephyr board's natives through the manifest's "ffi" (hal/moddable/zephyr/sota_zephyr.c): a real reset.

import FFI from "mc/ffi";

/** The manifest's zephyr "ffi" function; cast once (another target's build types `mc/ffi` with its own functions). */
interface ZephyrFfi {
  /** sys_reboot(SYS_REBOOT_COLD); returns only on failure. */
  sota_reboot(): number;
}

export class ZephyrNatives {
  readonly #natives = new FFI() as unknown as ZephyrFfi;

  /** sys_reboot(SYS_REBOOT_COLD): MCUboot runs and acts on the trailers. Returns only if the reset failed. */
  reboot(): void {
    this.#natives.sota_reboot();
    throw new Error("sys_reboot returned");
  }
}
