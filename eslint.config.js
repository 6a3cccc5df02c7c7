// Lint rules for the whole repository (TypeScript via typescript-eslint).
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/**", "coverage/**", "dist/**", "**/*.d.ts", "test/xs/.build/**"] },
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-non-null-assertion": "off",
    },
  },
  {
    // The portable core must not reach Node or Moddable modules directly: only the ports in hal/.
    files: ["src/**/*.ts", "hal/sim/**/*.ts", "hal/*.ts"],
    ignores: ["src/main.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            "node:*",
            "fs",
            "path",
            "serialport",
            "crypt",
            "timer",
            "flash",
            "embedded:*",
            "mc/*",
            "preference",
          ],
        },
      ],
    },
  },
);
