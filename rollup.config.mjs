// "Does the device code bundle" check: src/app/main.ts and everything it imports, type-checked with the device tsconfig.
import typescript from "@rollup/plugin-typescript";

// Modules the Moddable runtime provides; the bundle leaves them as imports.
const moddableModules = [
  "flash",
  "timer",
  "time",
  "crypt",
  "preference",
  "file",
  "instrumentation",
  "ecdsa",
  "curve",
  "ecp",
];

export default {
  input: "src/app/main.ts",
  output: { file: "dist/main.js", format: "es", sourcemap: false },
  external: (id) => moddableModules.includes(id) || id.startsWith("mc/") || id.startsWith("embedded:"),
  plugins: [
    typescript({
      tsconfig: "./tsconfig.json",
      noEmitOnError: true,
      noEmit: false,
      outDir: "dist",
      declaration: false,
    }),
  ],
  onwarn(warning, warn) {
    // A type error must fail the check, not scroll past as a warning.
    if (warning.plugin === "typescript") throw new Error(warning.message);
    warn(warning);
  },
};
