// The device builds without the SDK: for each manifest platform (esp32, lin, zephyr/stm32u5a9j_dk) every module
// src/app/main.ts reaches is in the manifest's module map (a missing one builds and then dies at start-up with
// "unhandled exception"), and rollup bundles main.ts with every board, type-checked (the CI check of the targets).

import { readFileSync } from "node:fs";
import { rollup } from "rollup";
import { deepEqual, equal, ok } from "../../lib/assert.js";

interface Block {
  modules?: Record<string, string>;
  ffi?: { sources: string[]; functions: Record<string, unknown> };
  zephyrOverlay?: string[];
}
const manifest = JSON.parse(readFileSync("manifest.json", "utf8")) as Block & {
  platforms: Record<string, Block>;
};

/** Where the platform's module map puts module `name` (a repo path without extension), or undefined. */
function mapped(modules: Record<string, string>, name: string): string | undefined {
  const direct = modules[name];
  if (direct) return direct.replace(/^\.\//, "");
  for (const [key, value] of Object.entries(modules)) {
    if (!key.endsWith("/*")) continue;
    const folder = key.slice(0, -1);
    const rest = name.slice(folder.length);
    if (name.startsWith(folder) && !rest.includes("/")) return value.slice(0, -1).replace(/^\.\//, "") + rest;
  }
  return undefined;
}

/** Runtime imports of a TypeScript file (type-only imports and exports are erased by the compiler). */
function imports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const found: string[] = [];
  for (const match of text.matchAll(
    /^(?:import|export)\s+(?!type\b)[^;]*?\bfrom\s+"([^"]+)"|^import\s+"([^"]+)"/gm,
  ))
    found.push(match[1] ?? match[2]!);
  return found;
}

function normalize(path: string): string {
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (part === "..") out.pop();
    else if (part !== ".") out.push(part);
  }
  return out.join("/");
}

/** Walks the import graph of src/app/main for one platform; returns the problems and the external modules. */
function walk(platform: string): { missing: string[]; files: Set<string>; external: Set<string> } {
  const modules = { ...manifest.modules, ...manifest.platforms[platform]!.modules };
  const missing: string[] = [];
  const files = new Set<string>();
  const external = new Set<string>();
  const queue = ["src/app/main"];
  while (queue.length) {
    const name = queue.shift()!;
    const file = mapped(modules, name);
    if (!file) {
      missing.push(name);
      continue;
    }
    if (files.has(file)) continue;
    files.add(file);
    const folder = file.slice(0, file.lastIndexOf("/") + 1);
    for (const specifier of imports(`${file}.ts`)) {
      if (specifier.startsWith(".")) queue.push(normalize(folder + specifier.replace(/\.js$/, "")));
      else external.add(specifier);
    }
  }
  return { missing, files, external };
}

describe("the device build (manifest.json module map, rollup bundle)", () => {
  it("every module main.ts reaches is mapped, on each platform, to its own board", () => {
    const boards: Record<string, string> = {
      esp32: "src/app/boards/board-esp32",
      lin: "src/app/boards/board-lin",
      "zephyr/stm32u5a9j_dk": "src/app/boards/board-zephyr",
    };
    for (const [platform, board] of Object.entries(boards)) {
      const { missing, files } = walk(platform);
      deepEqual(missing, [], `${platform}: modules missing from manifest.json`);
      ok(files.has(board), `${platform} builds ${board}`);
      for (const other of Object.values(boards))
        if (other !== board) equal(files.has(other), false, `${platform} must not build ${other}`);
      ok(files.has("src/app/app-config"), platform);
    }
  });

  it("no two module names of a platform share a source file (mcconfig compiles a source once: one would be missing)", () => {
    for (const platform of Object.keys(manifest.platforms).filter((name) => name !== "...")) {
      const modules = { ...manifest.modules, ...manifest.platforms[platform]!.modules };
      const sources = Object.values(modules).filter((source) => !source.endsWith("*"));
      deepEqual(
        sources.filter((source, index) => sources.indexOf(source) !== index),
        [],
        platform,
      );
    }
  });

  it("each platform imports only the SDK modules its manifest includes", () => {
    const only: Record<string, string[]> = {
      esp32: ["preference", "mc/ffi", "embedded:update", "embedded:storage/flash"],
      lin: ["file"],
      "zephyr/stm32u5a9j_dk": ["embedded:storage/key-value", "mc/ffi", "embedded:storage/flash"],
    };
    for (const [platform, own] of Object.entries(only)) {
      const { external } = walk(platform);
      for (const [other, theirs] of Object.entries(only))
        for (const name of theirs)
          if (other !== platform && !own.includes(name))
            equal(external.has(name), false, `${platform} imports ${name}`);
      for (const name of own) ok(external.has(name), `${platform} imports ${name}`);
    }
  });

  // zephyrOverlay is top-level: mcconfig resolves a relative overlay path only there (mcmanifest.js mergeManifest).
  it("zephyr/stm32u5a9j_dk: the reboot native, the overlay and the backend's modules are in its block", () => {
    const zephyr = manifest.platforms["zephyr/stm32u5a9j_dk"]!;
    deepEqual(Object.keys(zephyr.ffi!.functions), ["sota_reboot"]);
    for (const path of [...zephyr.ffi!.sources, ...manifest.zephyrOverlay!])
      ok(readFileSync(path, "utf8").length > 0, path);
    ok(walk("zephyr/stm32u5a9j_dk").files.has("src/boot/mcuboot/mcuboot-boot"));
  });

  it("the ffi functions each native module calls are exactly its platform's manifest ffi functions", () => {
    const declared = (file: string, name: string): string[] => {
      const text = readFileSync(file, "utf8");
      const body = text.slice(
        text.indexOf(`interface ${name} {`),
        text.indexOf("\n}", text.indexOf(`interface ${name} {`)),
      );
      return [...body.matchAll(/^\s+(\w+)\(/gm)].map((match) => match[1]!).sort();
    };
    const functions = (platform: string): string[] =>
      Object.keys(manifest.platforms[platform]!.ffi!.functions).sort();
    deepEqual(declared("hal/moddable/esp32-ota.ts", "Esp32Ffi"), functions("esp32"));
    deepEqual(declared("hal/moddable/zephyr-natives.ts", "ZephyrFfi"), functions("zephyr/stm32u5a9j_dk"));
  });

  it("rollup bundles main.ts with every board, type-checked (npm run build)", async function () {
    this.timeout(120_000);
    const configPath: string = "../../../rollup.config.mjs"; // untyped JavaScript: no static import
    const config = ((await import(configPath)) as { default: unknown }).default as Parameters<
      typeof rollup
    >[0] & {
      output: { file: string };
    };
    const bundle = await rollup(config);
    try {
      const { output } = await bundle.generate({ format: "es" });
      const code = output[0].code;
      for (const name of [
        "openEsp32Board",
        "openLinBoard",
        "openZephyrBoard",
        "zephyrLayout",
        "parseAppConfig",
      ])
        ok(code.includes(name), name);
      ok(output[0].imports.includes("embedded:storage/key-value"));
      ok(output[0].imports.includes("mc/ffi"));
    } finally {
      await bundle.close();
    }
  });
});
