// `sota-pack`: makes and checks signed packages in MCUboot's image format (imgtool-compatible both ways).
// Exit codes: 0 done / verified, 11 package refused or malformed (reason printed), 1 usage or I/O error.
import fs from "node:fs";
import { parseArgs } from "node:util";
import { toHex } from "../../hal/digest.js";
import { NodeDigestFactory } from "../../hal/host/node-digest.js";
import { NobleSignatureVerifier } from "../../hal/sim/noble-signature.js";
import { formatImageVersion } from "../../src/package/format.js";
import { TrustList, sha256 } from "../../src/package/trust.js";
import { PackageVerifier } from "../../src/package/verifier.js";
import { parseImageVersion } from "../../src/package/version.js";
import { makeDeltaPackage } from "../delta/create.js";
import { describePackage } from "./info.js";
import { generateKeyPem, loadKeyPem, publicPem } from "./keys.js";
import { PackError, pack } from "./pack.js";

export const USAGE = `usage:
  sota-pack keygen --type ecdsa-p256|ed25519 -o <key.pem>
  sota-pack getpub --key <key.pem> [-o <pub.pem>]
  sota-pack sign --key <key.pem> --version <maj.min.rev+build> [--security-counter <n>]
                 [--header-size 0x200] [--pad-header] [--align 4] [--version-string <V>]
                 [--load-addr <addr>] <in.bin> <out.bin>
  sota-pack verify --key <pub.pem> [--key ...] [--revoked <pub.pem> ...] [--target <version>]
                   [--min-security-counter <n>] <file>
  sota-pack delta --from <old.bin> --to <new.bin> -o <delta.bin>
  sota-pack info <file>
exit codes: 0 done or verified, 11 package refused or malformed (reason printed), 1 usage or I/O error`;

export const EXIT = { ok: 0, refused: 11, error: 1 } as const;

export interface PackIo {
  stdout: { write(text: string): void };
  stderr: { write(text: string): void };
}

class UsageError extends Error {}

function number(value: string | undefined, name: string, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^(0x[0-9a-f]+|\d+)$/i.test(value)) throw new UsageError(`--${name} expects a number, got "${value}"`);
  const n = Number(value);
  if (n > max) throw new UsageError(`--${name} must be at most ${max}, got ${n}`);
  return n;
}

function readText(file: string): string {
  return fs.readFileSync(file, "utf8");
}

/** Runs the CLI with `args` (without node and the script); resolves with the exit code. */
export async function main(args: string[], io: PackIo): Promise<number> {
  const [command, ...rest] = args;
  try {
    switch (command) {
      case "keygen":
        return keygen(rest, io);
      case "getpub":
        return getpub(rest, io);
      case "sign":
        return sign(rest, io);
      case "verify":
        return verify(rest, io);
      case "info":
        return info(rest, io);
      case "delta":
        return delta(rest, io);
      case "help":
      case "--help":
      case "-h":
        io.stdout.write(`${USAGE}\n`);
        return EXIT.ok;
      default:
        throw new UsageError(
          command === undefined
            ? "a command is required (keygen, getpub, sign, verify, delta or info)"
            : `unknown command "${command}"`,
        );
    }
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    const usage =
      error instanceof UsageError ||
      (error instanceof TypeError && "code" in error && String(error.code).startsWith("ERR_PARSE_ARGS"));
    io.stderr.write(usage ? `sota-pack: ${text}\n${USAGE}\n` : `sota-pack: error: ${text}\n`);
    return EXIT.error;
  }
}

function keygen(args: string[], io: PackIo): number {
  const { values } = parseArgs({
    args,
    options: { type: { type: "string", short: "t" }, output: { type: "string", short: "o" } },
  });
  const type = values.type;
  if (type !== "ecdsa-p256" && type !== "ed25519")
    throw new UsageError(`--type must be ecdsa-p256 or ed25519${type ? `, got "${type}"` : ""}`);
  if (!values.output) throw new UsageError("-o <key.pem> is required");
  if (fs.existsSync(values.output)) throw new Error(`${values.output} exists; not overwriting a key`);
  const pem = generateKeyPem(type);
  fs.writeFileSync(values.output, pem, { mode: 0o600 });
  const key = loadKeyPem(pem, values.output);
  io.stdout.write(
    `wrote ${type} private key ${values.output}; key hash ${toHex(sha256(new NodeDigestFactory(), key.spki))}\n`,
  );
  return EXIT.ok;
}

function getpub(args: string[], io: PackIo): number {
  const { values } = parseArgs({
    args,
    options: { key: { type: "string", short: "k" }, output: { type: "string", short: "o" } },
  });
  if (!values.key) throw new UsageError("--key is required");
  const key = loadKeyPem(readText(values.key), values.key);
  const pem = publicPem(key.spki);
  if (values.output) fs.writeFileSync(values.output, pem);
  else io.stdout.write(pem);
  return EXIT.ok;
}

function sign(args: string[], io: PackIo): number {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      key: { type: "string", short: "k" },
      version: { type: "string", short: "v" },
      "security-counter": { type: "string" },
      "header-size": { type: "string", short: "H" },
      "pad-header": { type: "boolean" },
      align: { type: "string" },
      "version-string": { type: "string" },
      "load-addr": { type: "string" },
    },
  });
  if (positionals.length !== 2) throw new UsageError("sign takes <in.bin> <out.bin>");
  if (!values.key) throw new UsageError("--key is required");
  if (!values.version) throw new UsageError("--version is required");
  const version = parseImageVersion(values.version);
  if (!version)
    throw new UsageError(
      `--version must be maj.min.rev+build (0-255.0-255.0-65535+0-4294967295), got "${values.version}"`,
    );
  const key = loadKeyPem(readText(values.key), values.key);
  if (!key.sign) throw new UsageError(`${values.key} is a public key; sign needs the private key`);
  const [input, output] = positionals as [string, string];
  const digests = new NodeDigestFactory();
  try {
    const bytes = pack(
      {
        image: new Uint8Array(fs.readFileSync(input)),
        version,
        headerSize: number(values["header-size"], "header-size", 0xffff) ?? 0x200,
        padHeader: values["pad-header"] ?? false,
        align: number(values.align, "align", 32) ?? 1,
        securityCounter: number(values["security-counter"], "security-counter", 0xffffffff),
        versionString: values["version-string"],
        loadAddress: number(values["load-addr"], "load-addr", 0xffffffff),
        signer: { algorithm: key.algorithm, spki: key.spki, sign: key.sign },
      },
      digests,
    );
    fs.writeFileSync(output, bytes);
    io.stdout.write(
      `wrote ${output}: ${bytes.length} bytes, version ${formatImageVersion(version)}` +
        `${values["version-string"] ? ` ("${values["version-string"]}")` : ""}, ${key.algorithm} key hash ${toHex(sha256(digests, key.spki))}\n`,
    );
    return EXIT.ok;
  } catch (error) {
    if (error instanceof PackError) throw new UsageError(error.message);
    throw error;
  }
}

function verify(args: string[], io: PackIo): number {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      key: { type: "string", short: "k", multiple: true },
      revoked: { type: "string", multiple: true },
      target: { type: "string" },
      "min-security-counter": { type: "string" },
    },
  });
  if (positionals.length !== 1) throw new UsageError("verify takes one <file>");
  const keys = values.key ?? [];
  if (keys.length === 0) throw new UsageError("at least one --key is required");
  const digests = new NodeDigestFactory();
  const load = (file: string, revoked: boolean) => ({
    spki: loadKeyPem(readText(file), file).spki,
    revoked,
    name: file,
  });
  const trust = TrustList.fromKeys(digests, [
    ...keys.map((f) => load(f, false)),
    ...(values.revoked ?? []).map((f) => load(f, true)),
  ]);
  const bytes = new Uint8Array(fs.readFileSync(positionals[0]!));
  const verifier = new PackageVerifier({
    digests,
    signatures: new NobleSignatureVerifier(),
    trust,
    maxImageSize: bytes.length,
    maxHeaderSize: 0xffff,
  });
  verifier.begin({
    targetVersion: values.target ?? null,
    minSecurityCounter: number(values["min-security-counter"], "min-security-counter", 0xffffffff) ?? 0,
  });
  for (let at = 0; at < bytes.length; at += 1024) verifier.write(bytes.subarray(at, at + 1024));
  const verdict = verifier.finish();
  if (!verdict.ok) {
    io.stdout.write(`refused (${verdict.reason}): ${verdict.detail}\n`);
    return EXIT.refused;
  }
  const entry = trust.find(verdict.keyHash)!;
  io.stdout.write(
    `verified: version ${formatImageVersion(verdict.version)}` +
      `${verdict.versionString !== undefined ? ` ("${verdict.versionString}")` : ""}, security counter ${verdict.securityCounter}, ` +
      `${entry.key!.algorithm} key ${entry.name} (hash ${toHex(verdict.keyHash)}), body at offset ${verdict.imageOffset}, ${verdict.imageSize} bytes\n`,
  );
  return EXIT.ok;
}

/** A differential package from the running image to the new one (docs/delta-packages.md); sign it like an image. */
function delta(args: string[], io: PackIo): number {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      from: { type: "string" },
      to: { type: "string" },
      output: { type: "string", short: "o" },
    },
  });
  if (positionals.length > 0)
    throw new UsageError(`delta takes no positional argument ("${positionals[0]}")`);
  if (!values.from || !values.to || !values.output)
    throw new UsageError("delta needs --from <old.bin> --to <new.bin> -o <delta.bin>");
  const source = new Uint8Array(fs.readFileSync(values.from));
  const target = new Uint8Array(fs.readFileSync(values.to));
  if (source.length === 0 || target.length === 0) throw new UsageError("--from and --to must not be empty");
  const bytes = makeDeltaPackage(source, target);
  fs.writeFileSync(values.output, bytes);
  io.stdout.write(
    `wrote ${values.output}: ${bytes.length} bytes, ${((100 * bytes.length) / target.length).toFixed(1)} % of the ${target.length}-byte target (source ${source.length} bytes)\n`,
  );
  return EXIT.ok;
}

function info(args: string[], io: PackIo): number {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  if (positionals.length !== 1) throw new UsageError("info takes one <file>");
  const { ok, lines } = describePackage(new Uint8Array(fs.readFileSync(positionals[0]!)));
  io.stdout.write(`${lines.join("\n")}\n`);
  return ok ? EXIT.ok : EXIT.refused;
}
