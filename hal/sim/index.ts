// Everything in hal/sim in one import: virtual clock, NOR flash, serial link, pure-JS digests.
export * from "./virtual-clock.js";
export * from "./nor-flash.js";
export * from "./serial-link.js";
export * from "./digest.js";
