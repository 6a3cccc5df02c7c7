#!/usr/bin/env node
// Bin entry of `sota-pack` (signed packages in MCUboot's image format): runs the TypeScript CLI through tsx.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../pack/cli.ts");
process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr });
