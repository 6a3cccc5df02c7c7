#!/usr/bin/env node
// Bin entry of `sota-module` (the virtual QuecThing module + Developer Center): runs the TypeScript CLI through tsx.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../module/cli.ts");
process.exitCode = await main(process.argv.slice(2));
