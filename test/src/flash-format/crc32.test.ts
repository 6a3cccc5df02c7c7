// CRC-32 against the standard check value and chunking invariance (portable).
import fc from "fast-check";
import { equal } from "../../lib/assert.js";
import { CRC32_START, crc32, crc32Final, crc32Update } from "../../../src/flash-format/crc32.js";
import { assertProperty } from "../../lib/property.js";

describe("src/flash-format/crc32", () => {
  it('matches the IEEE check value of "123456789"', () => {
    const bytes = new Uint8Array([0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39]);
    equal(crc32(bytes), 0xcbf43926);
    equal(crc32(new Uint8Array(0)), 0);
  });

  it("gives the same CRC however the bytes are split", () => {
    assertProperty(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(200), (bytes, cut) => {
        const at = Math.min(cut, bytes.length);
        const split = crc32Final(
          crc32Update(crc32Update(CRC32_START, bytes, 0, at), bytes, at, bytes.length),
        );
        equal(split, crc32(bytes));
      }),
      { numRuns: 50 },
    );
  });
});
