// `npm run test:one -- [--xs] <file.test.ts ...> [more options]`: some suites on Node (mocha + tsx), or with --xs
// inside the XS engine (test/xs/run-xs.ts); every other option goes to mocha or to the XS lane as it is.
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => path.join(root, "node_modules", ".bin", name);
const args = process.argv.slice(2);
const xs = args.includes("--xs");
const rest = args.filter((arg) => arg !== "--xs");
if (!rest.some((arg) => arg.endsWith(".ts"))) {
  console.error(
    "usage: npm run test:one -- [--xs] <file.test.ts ...> [options]\n" +
      "  Node lane: mocha options (--grep <text>, ...); --xs: the XS lane's (-v, --step-timeout <ms>, ...)",
  );
  process.exit(2);
}
// No .mocharc.json (its spec is every suite): only the files named, with a generous time limit unless given one.
const timeout = rest.some((arg) => arg === "--timeout" || arg === "-t") ? [] : ["--timeout", "120000"];
const [command, commandArgs] = xs
  ? [bin("tsx"), [path.join(root, "test/xs/run-xs.ts"), ...rest]]
  : [bin("mocha"), ["--no-config", "--require", "tsx", "--extension", "ts", ...timeout, ...rest]];
const child = spawn(command, commandArgs, { stdio: "inherit" });
child.once("error", (error) => {
  console.error(`cannot run ${command}: ${error.message}`);
  process.exitCode = 1;
});
child.once("close", (code, signal) => (process.exitCode = code ?? (signal ? 1 : 0)));
