// Node-only: the serial tests need socat for a pty pair; without it they fail with how to install it, never skip.
import { spawnSync } from "node:child_process";

/** Throws when socat is missing: a silent skip would hide a broken CI install step. */
export function requireSocat(): void {
  if (spawnSync("socat", ["-V"]).error === undefined) return;
  throw new Error(
    "socat is not installed, and these tests need its pty pair: apt-get install socat (.ci/run does)",
  );
}
