#!/usr/bin/env node
// Bin entry of `sota-device` (the host-mode device CLI): runs the TypeScript sources through tsx.
import { register } from "tsx/esm/api";

register();
const { cliMain } = await import("../device/cli.ts");
await cliMain();
