// `mc/ffi`: mcconfig generates its exact typing per build from the manifest's "ffi" functions (esp32: the OTA
// helpers; zephyr: sota_reboot). This stand-in keeps `tsc -p tsconfig.json` (CI) working; each user casts the
// instance to its own interface (hal/moddable/esp32-ota.ts, zephyr-natives.ts), so one build's typing never has to
// list another target's functions.
declare module "mc/ffi" {
  export default class FFI {
    constructor();
  }
}
