// Node-only tests of the JSON-file key-value store: persistence, exact file content, atomic replacement.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { JsonFileKeyValueStore } from "../../../hal/host/json-kv.js";

describe("hal/host JsonFileKeyValueStore", () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "json-kv-"));
    file = path.join(dir, "store.json");
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("starts empty without a file, and creates none until a change", () => {
    const store = new JsonFileKeyValueStore(file);
    assert.equal(store.get("x"), undefined);
    store.delete("x");
    assert.equal(fs.existsSync(file), false);
  });

  it("persists set and delete at once, as sorted pretty JSON, and reads them back after reopen", () => {
    const store = new JsonFileKeyValueStore(file);
    store.set("version", "7,10705");
    store.set("boot", '{"slot":1}');
    assert.equal(
      fs.readFileSync(file, "utf8"),
      '{\n  "boot": "{\\"slot\\":1}",\n  "version": "7,10705"\n}\n',
    );
    store.delete("boot");
    assert.equal(fs.readFileSync(file, "utf8"), '{\n  "version": "7,10705"\n}\n');
    const reopened = new JsonFileKeyValueStore(file);
    assert.equal(reopened.get("version"), "7,10705");
    assert.equal(reopened.get("boot"), undefined);
  });

  it("replaces the file by rename (a new inode each time), never rewriting it in place", () => {
    const store = new JsonFileKeyValueStore(file);
    store.set("a", "1");
    const first = fs.statSync(file).ino;
    store.set("a", "2");
    assert.notEqual(fs.statSync(file).ino, first);
    assert.equal(fs.existsSync(`${file}.tmp`), false);
  });

  it("ignores a temp file left by a crash before its rename: the old file is the truth", () => {
    new JsonFileKeyValueStore(file).set("state", "old");
    fs.writeFileSync(`${file}.tmp`, '{"state": "new, half writ');
    const store = new JsonFileKeyValueStore(file);
    assert.equal(store.get("state"), "old");
    assert.equal(fs.existsSync(`${file}.tmp`), false);
  });

  it("keeps memory equal to the file when a write fails", () => {
    const store = new JsonFileKeyValueStore(file);
    store.set("kept", "yes");
    // A directory in the temp file's place makes the next commit fail before the rename.
    fs.mkdirSync(`${file}.tmp`);
    assert.throws(() => store.set("kept", "no"), /EISDIR|illegal operation/i);
    assert.equal(store.get("kept"), "yes");
    assert.throws(() => store.set("added", "x"), /EISDIR|illegal operation/i);
    assert.equal(store.get("added"), undefined);
    fs.rmSync(`${file}.tmp`, { recursive: true });
    assert.deepEqual(JSON.parse(fs.readFileSync(file, "utf8")), { kept: "yes" });
  });

  it("refuses a file that is not an object of strings", () => {
    fs.writeFileSync(file, '{"n": 1}');
    assert.throws(() => new JsonFileKeyValueStore(file), /not a string/);
    fs.writeFileSync(file, "[]");
    assert.throws(() => new JsonFileKeyValueStore(file), /JSON object/);
  });
});
