// How a plan's target version (a free QuecThing string) maps onto what a package signs (docs/signed-packages.md).
import type { ImageVersion } from "./format.js";

// imgtool's grammar (scripts/imgtool/version.py): maj[.min[.rev[+build]]], no leading zeros.
const SEMI_SEMVER = /^(0|[1-9]\d*)(?:\.(0|[1-9]\d*)(?:\.(0|[1-9]\d*)(?:\+(0|[1-9]\d*))?)?)?$/;

/** A version string in imgtool's `-v` grammar, within the header's field widths; undefined otherwise. */
export function parseImageVersion(text: string): ImageVersion | undefined {
  const m = SEMI_SEMVER.exec(text);
  if (!m) return undefined;
  const version = {
    major: Number(m[1]),
    minor: Number(m[2] ?? 0),
    revision: Number(m[3] ?? 0),
    build: Number(m[4] ?? 0),
  };
  if (version.major > 0xff || version.minor > 0xff || version.revision > 0xffff || version.build > 0xffffffff)
    return undefined;
  return version;
}

/** A version string TLV's bytes are printable ASCII without spaces, 1-64 of them. */
export const MAX_VERSION_STRING = 64;

export function isVersionStringByte(byte: number): boolean {
  return byte > 0x20 && byte < 0x7f;
}

/**
 * The rule: a package carrying the (signed) version string TLV is for exactly that string; one without it is
 * for every target that imgtool's `-v` grammar reads as the header's version ("2.0.0", "2.0" and "2" all read
 * as 2.0.0+0). Any other target (such as "V2_0") needs the TLV.
 */
export function versionMatches(
  target: string,
  header: ImageVersion,
  versionString: string | undefined,
): boolean {
  if (versionString !== undefined) return target === versionString;
  const wanted = parseImageVersion(target);
  return (
    wanted !== undefined &&
    wanted.major === header.major &&
    wanted.minor === header.minor &&
    wanted.revision === header.revision &&
    wanted.build === header.build
  );
}
