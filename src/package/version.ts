// How a plan's target version (a free QuecThing string) maps onto what a package signs (docs/signed-packages.md).
import type { ImageVersion } from "./format.js";

/** One decimal field without leading zeros, at most `max`; undefined otherwise. */
function field(text: string, max: number): number | undefined {
  if (text.length === 0 || text.length > 10 || (text.length > 1 && text[0] === "0")) return undefined;
  let value = 0;
  for (let i = 0; i < text.length; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return undefined;
    value = value * 10 + digit;
  }
  return value <= max ? value : undefined;
}

/**
 * A version string in imgtool's `-v` grammar (scripts/imgtool/version.py: maj[.min[.rev[+build]]], no leading
 * zeros), within the header's field widths; undefined otherwise. Hand-written: XS 13's RegExp accepted "1.2.3.4"
 * for the equivalent pattern with nested optional groups.
 */
export function parseImageVersion(text: string): ImageVersion | undefined {
  const plus = text.indexOf("+");
  const dotted = plus < 0 ? text : text.slice(0, plus);
  const parts = dotted.split(".");
  if (parts.length > 3 || (plus >= 0 && parts.length !== 3)) return undefined;
  const major = field(parts[0]!, 0xff);
  const minor = parts.length > 1 ? field(parts[1]!, 0xff) : 0;
  const revision = parts.length > 2 ? field(parts[2]!, 0xffff) : 0;
  const build = plus >= 0 ? field(text.slice(plus + 1), 0xffffffff) : 0;
  if (major === undefined || minor === undefined || revision === undefined || build === undefined)
    return undefined;
  return { major, minor, revision, build };
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
