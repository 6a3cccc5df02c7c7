// Lint rules for the whole repository (TypeScript via typescript-eslint), and the arrows between folders:
// each folder may import only the layers below it (test/lint/arrows.test.ts proves every rule bites).
import tseslint from "typescript-eslint";

/** A restricted import, matched on the specifier as written (relative imports name the folders they reach). */
const deny = (regex, message) => ({ regex, message });

// Node and Moddable modules: the portable core reaches the platform only through the ports in hal/*.ts.
const NODE = [
  deny("^node:|^(fs|path|os|child_process|serialport)$", "Node modules stay in hal/host, tools and tests"),
];
const MODDABLE = [
  deny(
    "^(embedded:|mc/)|^(crypt|timer|time|flash|preference|file|instrumentation)$",
    "Moddable modules stay in hal/moddable and src/app",
  ),
];
const folder = (names, message) => deny(`(^|/)(${names})/`, message);
// Nothing in the core imports the port implementations, the tools, the tests or the benchmarks.
const NO_TOOLS = folder("tools|test|bench", "src/ and the ports never import tools, tests or benchmarks");
const OUTSIDE = [
  folder("hal/(host|sim|moddable)", "the core imports ports (hal/*.ts), never their implementations"),
  NO_TOOLS,
];
const core = (...layers) => [...NODE, ...MODDABLE, ...OUTSIDE, ...layers];
const noApp = folder("app", "only the Moddable app imports src/app (it is the composition root)");
const layerRule = (files, patterns, ignores = []) => ({
  files,
  ignores,
  rules: { "no-restricted-imports": ["error", { patterns }] },
});

// The engine reaches the module only through the module client (src/quecthing), never the transport or the UART.
const SOTA_BELOW = [
  folder("at", "src/sota talks to the module through the client in src/quecthing, never src/at"),
  deny("(^|/)hal/serial(\\.js)?$", "src/sota never touches the UART port: the module client owns it"),
];

export default tseslint.config(
  { ignores: ["node_modules/**", "coverage/**", "dist/**", "**/*.d.ts", "test/xs/.build/**"] },
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-non-null-assertion": "off",
    },
  },
  // app -> sota -> quecthing -> at -> ports; sota -> boot -> image -> flash-format -> ports.
  layerRule(
    ["src/at/**/*.ts"],
    core(
      folder("quecthing|sota|image|boot|flash-format|package|delta", "src/at imports only the ports"),
      noApp,
    ),
  ),
  layerRule(
    ["src/quecthing/**/*.ts"],
    core(
      folder("sota|image|boot|flash-format|package|delta", "src/quecthing imports only src/at and the ports"),
      noApp,
    ),
  ),
  layerRule(
    ["src/flash-format/**/*.ts"],
    core(
      folder("at|quecthing|sota|image|boot|package|delta", "src/flash-format imports only the ports"),
      noApp,
    ),
  ),
  layerRule(
    ["src/image/**/*.ts"],
    core(folder("at|quecthing|sota|boot", "src/image imports only src/flash-format and the ports"), noApp),
  ),
  layerRule(
    ["src/boot/**/*.ts"],
    core(
      folder("at|quecthing|sota", "src/boot imports only src/image, src/flash-format and the ports"),
      noApp,
    ),
  ),
  // Packages (signed MCUboot images) and deltas: beside image, over flash-format and the ports.
  layerRule(
    ["src/package/**/*.ts", "src/delta/**/*.ts"],
    core(
      folder(
        "at|quecthing|sota|image|boot",
        "src/package and src/delta import only src/flash-format and the ports",
      ),
      noApp,
    ),
  ),
  layerRule(["src/sota/**/*.ts"], core(...SOTA_BELOW, noApp)),
  // The composition root: anything in src/ and the Moddable ports, nothing from Node, the simulator or the tools.
  layerRule(
    ["src/app/**/*.ts"],
    [...NODE, NO_TOOLS, folder("hal/(host|sim)", "the app runs on hal/moddable")],
  ),
  // Ports: interfaces and shared rules only, importing nothing but each other.
  layerRule(
    ["hal/*.ts"],
    [
      ...NODE,
      ...MODDABLE,
      deny("^\\.\\./", "a port imports only the other ports in hal/*.ts"),
      deny("^\\./(host|sim|moddable)/", "a port never imports an implementation"),
    ],
  ),
  // Port implementations: the ports and their own folder only (never the core, another implementation or tools).
  ...[
    ["hal/sim/**/*.ts", [...NODE, ...MODDABLE]],
    ["hal/host/**/*.ts", [...MODDABLE]],
    ["hal/moddable/**/*.ts", [...NODE]],
  ].map(([files, platform]) =>
    layerRule(
      [files],
      [
        ...platform,
        deny("^\\.\\./\\.\\./", "a port implementation imports only the ports (hal/*.ts) and its own folder"),
        deny("^\\.\\./(host|sim|moddable)/", "a port implementation never imports another implementation"),
      ],
    ),
  ),
  // Benchmarks share helpers with the tests through tools/, never by importing test/.
  // Test data (test/fixtures) is shared; test code is not.
  layerRule(
    ["bench/**/*.ts"],
    [
      deny(
        "(^|/)test/(?!fixtures/)",
        "bench imports shared helpers from tools/, not test/ (fixtures excepted)",
      ),
    ],
  ),
);
