// Node-only: the embedded fixtures module (read by the portable suites) holds exactly the files of test/fixtures/signed.
import assert from "node:assert/strict";
import { embeddedSource } from "../../fixtures/signed/embed.js";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { packages, publicKeys } from "../../fixtures/signed/fixtures.js";

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../fixtures/signed");

describe("test/fixtures/signed embedded copies", () => {
  it("fixtures.ts matches the .bin and .pub.pem files (regenerate: npx tsx test/fixtures/signed/embed.ts)", () => {
    const names = fs.readdirSync(dir);
    const bins = names.filter((n) => n.endsWith(".bin")).sort();
    assert.deepEqual(Object.keys(packages).sort(), bins);
    for (const n of bins) assert.equal(packages[n], fs.readFileSync(path.join(dir, n)).toString("base64"), n);
    const pems = names.filter((n) => n.endsWith(".pub.pem")).sort();
    assert.deepEqual(Object.keys(publicKeys).sort(), pems);
    for (const n of pems) assert.equal(publicKeys[n], fs.readFileSync(path.join(dir, n), "utf8"), n);
    assert.ok(embeddedSource().includes('"imgtool-p256.bin"'));
  });
});
