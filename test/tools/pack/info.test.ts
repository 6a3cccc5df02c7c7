// Portable: `sota-pack info`'s listing never throws, whatever the bytes (fast-check, printed seed), and names problems.
import fc from "fast-check";
import { describePackage } from "../../../tools/pack/info.js";
import { equal, ok } from "../../lib/assert.js";
import { fixture } from "../../src/package/helpers.js";

const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env ?? {};

describe("tools/pack info describePackage", () => {
  it("lists arbitrary bytes and mutated packages without throwing", () => {
    const seed = env["PACKAGE_SEED"] !== undefined ? Number(env["PACKAGE_SEED"]) : Date.now() % 0x7fffffff;
    const base = fixture("imgtool-p256-vstring.bin");
    try {
      fc.assert(
        fc.property(
          fc.uint8Array({ maxLength: 200 }),
          fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
          fc.nat(base.length),
          (random, edits, cut) => {
            describePackage(random);
            const mutated = base.slice(0, cut);
            for (const [at, value] of edits) if (at < mutated.length) mutated[at] = value;
            const { lines } = describePackage(mutated);
            ok(lines.length > 0);
          },
        ),
        { numRuns: 200, seed },
      );
    } catch (error) {
      throw new Error(
        `seed ${seed} (replay: PACKAGE_SEED=${seed}): ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  });

  it("names the problem of a truncated package and of trailing bytes", () => {
    const bytes = fixture("imgtool-p256.bin");
    const short = describePackage(bytes.subarray(0, 3600));
    equal(short.ok, false);
    ok(
      short.lines.some((l) => l.includes("the area is malformed")),
      short.lines.join("\n"),
    );
    const long = new Uint8Array(bytes.length + 3);
    long.set(bytes);
    const trailing = describePackage(long);
    equal(trailing.ok, false);
    equal(trailing.lines[trailing.lines.length - 1], "problem: 3 bytes after the TLV area");
    equal(describePackage(bytes).ok, true);
  });
});
