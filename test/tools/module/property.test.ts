// Property tests: any command sequence, noise and timing gives exactly one final code per AT line and well-framed output.

import { equal, ok } from "../../lib/assert.js";
import fc from "fast-check";
import { makeRig } from "./harness.js";
import { OtaState } from "../../../tools/module/virtual-module.js";
import { assertProperty } from "../../lib/property.js";

/** Splits module output into frames per docs/protocol.md §1/§5; returns the final codes seen, or throws on bad framing. */
function frames(output: string): { finals: number; lines: string[] } {
  let i = 0;
  let finals = 0;
  const lines: string[] = [];
  while (i < output.length) {
    if (!output.startsWith("\r\n", i))
      throw new Error(`frame does not start with CR LF at ${i}: ${JSON.stringify(output.slice(i, i + 40))}`);
    const end = output.indexOf("\r\n", i + 2);
    if (end < 0) throw new Error(`unterminated line at ${i}`);
    const line = output.slice(i + 2, end);
    lines.push(line);
    i = end + 2;
    const header = /^\+QIOTOTARD: (\d+),(\d+)$/.exec(line);
    if (header) {
      i += Number(header[2]); // counted raw payload
      if (!output.startsWith("\r\n", i)) throw new Error("payload not followed by CR LF");
      i += 2;
      continue;
    }
    if (line === "OK" || line === "ERROR") finals++;
    else if (!/^(\+[A-Z]+: .*|RDY)$/.test(line)) throw new Error(`unexpected line ${JSON.stringify(line)}`);
  }
  return { finals, lines };
}

const command = fc.oneof(
  fc.constantFrom(
    "AT",
    "AT+QIOTOTAREQ=1",
    "AT+QIOTOTAREQ=0",
    "AT+QIOTOTAREQ=2",
    "AT+QIOTUPDATE=0",
    "AT+QIOTUPDATE=1",
    "AT+QIOTUPDATE=2",
    "AT+QIOTUPDATE=3",
    "AT+QIOTUPDATE=7",
    'AT+QIOTMCUVER="MCU","2.0.0"',
    'AT+QIOTMCUVER="MCU","1.0.0"',
    "AT+QIOTMCUVER?",
    "AT+QIOTSTATE?",
    "AT+QIOTREG=1",
    "AT+QIOTREG=0",
    "AT+QIOTOTARD=?",
    "AT+CSQ",
    'AT+QIOTCFG="buffer",1',
    "AT+QIOTOTARD=0,1",
  ),
  fc
    .tuple(fc.integer({ min: -2, max: 20000 }), fc.integer({ min: -2, max: 2000 }))
    .map(([s, l]) => `AT+QIOTOTARD=${s},${l}`),
  // Garbage after AT; ATE1 (echo) and ATI (plain-text identity lines) are excluded because they change the framing.
  fc
    .string({ maxLength: 12 })
    .filter((s) => !/^\s*[EI]/i.test(s))
    .map((s) => "AT" + s.replace(/[\r\n]/g, "")),
);

describe("tools/module properties", () => {
  it("every AT line gets exactly one final code; output is always well framed; the OTA state stays a known one", () => {
    const known = new Set<number>(Object.values(OtaState));
    assertProperty(
      fc.property(
        fc.array(fc.tuple(command, fc.integer({ min: 0, max: 70_000 })), { maxLength: 25 }),
        (steps) => {
          const r = makeRig({ settings: { freeSpace: 8192 } });
          for (const [line, wait] of steps) {
            const reply = r.exchange(line + "\r");
            equal(
              frames(reply).finals,
              1,
              `one final code for ${line}: ${JSON.stringify(reply.slice(0, 80))}`,
            );
            r.advance(wait);
            equal(frames(r.take()).finals, 0, "no final code without a command");
            ok(known.has(r.module.otaState));
            if (r.module.otaState === OtaState.DOWNLOADSUCCESS)
              ok(r.module.pieceWindow, "a piece exists in DOWNLOADSUCCESS");
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it("line noise (any bytes, no terminators) never breaks the next command", () => {
    assertProperty(
      fc.property(fc.uint8Array({ maxLength: 3000 }), (noise) => {
        const r = makeRig();
        let text = "";
        for (const b of noise) text += b === 13 || b === 10 ? "" : String.fromCharCode(b);
        r.send(text + "\r");
        r.take();
        equal(r.exchange("AT+QIOTSTATE?\r"), "\r\n+QIOTSTATE: 8\r\n\r\nOK\r\n");
      }),
      { numRuns: 60 },
    );
  });
});
