// sota-pack's command line (Node, in-process main): keygen, getpub, sign (imgtool's exact layout), verify, info,
// usage errors and exit codes.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { EXIT, USAGE, main } from "../../../tools/pack/cli.js";

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../fixtures/signed");
const f = (name: string): string => path.join(fixtures, name);

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(args, {
    stdout: { write: (t) => void (out += t) },
    stderr: { write: (t) => void (err += t) },
  });
  return { code, out, err };
}

const P256_HASH = "1003a33c86bffc213bb071d83415a427db228353ccae2c7dc3e172419392745c";

describe("tools/pack cli (sota-pack)", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sota-pack-"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const d = (name: string): string => path.join(dir, name);

  it("Ed25519: sign with imgtool's options makes imgtool's exact bytes", async () => {
    const r = await cli(
      "sign", "--key", f("ed25519-a.pem"), "--version", "2.0.0", "--security-counter", "5",
      "--header-size", "0x200", "--pad-header", "--align", "4", f("image.bin"), d("out.bin"),
    ); // prettier-ignore
    assert.equal(r.code, EXIT.ok, r.err);
    assert.deepEqual(fs.readFileSync(d("out.bin")), fs.readFileSync(f("imgtool-ed25519.bin")));
    assert.match(r.out, /^wrote .*out\.bin: 3668 bytes, version 2\.0\.0\+0, ed25519 key hash 3a1c7412/);
  });

  it("P-256: everything but the (randomised) signature equals imgtool's package; verify accepts it", async () => {
    const r = await cli(
      "sign", "--key", f("p256-a.pem"), "--version", "2.0.0+7", "--security-counter", "6", "--pad-header",
      "--version-string", "V2_0", f("image.bin"), d("out.bin"),
    ); // prettier-ignore
    assert.equal(r.code, EXIT.ok, r.err);
    const ours = fs.readFileSync(d("out.bin"));
    const theirs = fs.readFileSync(f("imgtool-p256-vstring.bin"));
    const signatureAt = 3512 + 20 + 4 + 36 + 36 + 4; // protected area, TLV info, SHA256, KEYHASH, sig TLV header
    // Same hashed bytes, same SHA256 and KEYHASH TLVs; the TLV area's size and the signature's length vary (DER).
    assert.deepEqual(ours.subarray(0, 3534), theirs.subarray(0, 3534));
    assert.deepEqual(ours.subarray(3536, signatureAt - 2), theirs.subarray(3536, signatureAt - 2));
    const v = await cli(
      "verify",
      "--key",
      f("p256-a.pub.pem"),
      "--target",
      "V2_0",
      "--min-security-counter",
      "6",
      d("out.bin"),
    );
    assert.equal(v.code, EXIT.ok, v.out + v.err);
    assert.match(
      v.out,
      new RegExp(
        `^verified: version 2\\.0\\.0\\+7 \\("V2_0"\\), security counter 6, ecdsa-p256 key .*p256-a\\.pub\\.pem \\(hash ${P256_HASH}\\), body at offset 512, 3000 bytes\\n$`,
      ),
    );
  });

  it("keygen makes keys that sign and verify; getpub prints the public key; no key is overwritten", async () => {
    for (const type of ["ecdsa-p256", "ed25519"]) {
      const key = d(`${type}.pem`);
      const k = await cli("keygen", "--type", type, "-o", key);
      assert.equal(k.code, EXIT.ok, k.err);
      assert.match(k.out, new RegExp(`^wrote ${type} private key .* key hash [0-9a-f]{64}\\n$`));
      assert.match(fs.readFileSync(key, "utf8"), /^-----BEGIN PRIVATE KEY-----/);
      const p = await cli("getpub", "--key", key, "-o", d(`${type}.pub.pem`));
      assert.equal(p.code, EXIT.ok, p.err);
      assert.equal(
        (await cli("sign", "--key", key, "--version", "1.2.3", "--pad-header", f("image.bin"), d("p.bin")))
          .code,
        0,
      );
      const v = await cli("verify", "--key", d(`${type}.pub.pem`), "--target", "1.2.3", d("p.bin"));
      assert.equal(v.code, EXIT.ok, v.out);
      assert.match(v.out, /security counter 0/);
      const again = await cli("keygen", "--type", type, "-o", key);
      assert.equal(again.code, EXIT.error);
      assert.match(again.err, /exists; not overwriting a key/);
    }
  });

  it("verify refuses with the reason and exit 11", async () => {
    const cases: [string[], string][] = [
      [["--key", f("p256-a.pub.pem"), f("imgtool-p256-stranger.bin")], "refused (unknown-key)"],
      [
        ["--key", f("p256-a.pub.pem"), "--revoked", f("p256-revoked.pub.pem"), f("imgtool-p256-revoked.bin")],
        "refused (revoked-key)",
      ],
      [["--key", f("p256-a.pub.pem"), f("imgtool-unsigned.bin")], "refused (unsigned)"],
      [
        ["--key", f("p256-a.pub.pem"), "--min-security-counter", "6", f("imgtool-p256.bin")],
        "refused (rollback)",
      ],
      [
        ["--key", f("p256-a.pub.pem"), "--target", "V2_0", f("imgtool-p256.bin")],
        "refused (version-mismatch)",
      ],
      [["--key", f("p256-a.pub.pem"), f("image.bin")], "refused (malformed-header)"],
    ];
    for (const [args, expected] of cases) {
      const r = await cli("verify", ...args);
      assert.equal(r.code, EXIT.refused, `${args.join(" ")}: ${r.out}${r.err}`);
      assert.ok(r.out.startsWith(`${expected}: `), r.out);
    }
    const tampered = fs.readFileSync(f("imgtool-p256.bin"));
    tampered[600]! ^= 1;
    fs.writeFileSync(d("t.bin"), tampered);
    const r = await cli("verify", "--key", f("p256-a.pub.pem"), d("t.bin"));
    assert.equal(
      r.out,
      "refused (bad-hash): the SHA-256 of header, image and protected TLVs differs from the SHA256 TLV\n",
    );
  });

  it("info prints every header field and TLV", async () => {
    const r = await cli("info", f("imgtool-p256-vstring.bin"));
    assert.equal(r.code, EXIT.ok);
    const lines = r.out.split("\n");
    assert.deepEqual(lines.slice(0, 14), [
      "file size:          3684 bytes",
      "magic:              0x96f3b83d",
      "load_addr:          0x0",
      "hdr_size:           0x200 (512)",
      "protected_tlv_size: 0x14 (20)",
      "img_size:           0xbb8 (3000)",
      "flags:              0x0",
      "version:            2.0.0+7",
      "image body:         offset 0x200, 3000 bytes",
      "protected TLV area at 0xdb8: magic 0x6908, size 20",
      "  SEC_CNT (0x50), 4 bytes: 6",
      '  VERSION_STRING (0x5651), 4 bytes: "V2_0"',
      "TLV area at 0xdcc: magic 0x6907, size 152",
      "  SHA256 (0x10), 32 bytes: f95f70f240cc753e6e1da4e4553b78dbfbe383763f9f9bd75e8e5ca69966bfae",
    ]);
    assert.equal(lines[14], `  KEYHASH (0x01), 32 bytes: ${P256_HASH}`);
    assert.match(lines[15]!, /^ {2}ECDSASIG \(0x22\), 72 bytes: 3046022100d8f6a858/);
    const bad = await cli("info", f("image.bin"));
    assert.equal(bad.code, EXIT.refused);
    assert.match(bad.out, /problem: bad magic/);
  });

  it("delta makes the package of the Cortex-M pair (the creator's exact bytes); info shows its metadata", async () => {
    const pairs = path.resolve(fixtures, "../delta");
    const r = await cli(
      "delta", "--from", path.join(pairs, "firmware-libc-v1.bin"), "--to", path.join(pairs, "firmware-libc-v2.bin"),
      "-o", d("delta.bin"),
    ); // prettier-ignore
    assert.equal(r.code, EXIT.ok, r.err);
    assert.match(
      r.out,
      /^wrote .*delta\.bin: 1382 bytes, 3\.3 % of the 42373-byte target \(source 42309 bytes\)\n$/,
    );
    const bytes = fs.readFileSync(d("delta.bin"));
    // Our header, then exactly the committed patch of this pair.
    assert.deepEqual(bytes.subarray(88), fs.readFileSync(path.join(pairs, "firmware-libc.sota.patch")));
    const info = await cli("info", d("delta.bin"));
    assert.equal(info.code, EXIT.ok);
    assert.deepEqual(info.out.split("\n").slice(0, 5), [
      "file size:          1382 bytes (a delta package, unsigned)",
      "delta:              header version 1, patch format 1 (detools sequential, heatshrink 8/7)",
      "delta source:       42309 bytes, SHA-256 17792d7ee9f0da56bdad7ad0d3070eaab4b94ff884ed709daa9fe6598eab577d",
      "delta target:       42373 bytes, SHA-256 c2b54ddc46e3eb0909c730a4510f56f60191c89c592e22a7eb7a09ddf87e1f7e",
      "delta patch:        1294 bytes after the 88-byte header (3.3 % of the target)",
    ]);
    fs.writeFileSync(d("short.bin"), bytes.subarray(0, bytes.length - 5));
    const short = await cli("info", d("short.bin"));
    assert.equal(short.code, EXIT.refused);
    assert.match(short.out, /problem: 1377 bytes of delta package, the header declares 1382/);
    const usage = await cli("delta", "--from", path.join(pairs, "firmware-v1.bin"), "-o", d("x.bin"));
    assert.equal(usage.code, EXIT.error);
    assert.match(usage.err, /^sota-pack: delta needs --from <old\.bin> --to <new\.bin> -o <delta\.bin>\n/);
  });

  it("usage errors: exit 1, one line saying what is wrong, then the usage", async () => {
    const cases: [string[], string][] = [
      [[], "sota-pack: a command is required (keygen, getpub, sign, verify, delta or info)"],
      [["pack"], 'sota-pack: unknown command "pack"'],
      [["keygen", "-o", "k.pem"], "sota-pack: --type must be ecdsa-p256 or ed25519"],
      [
        ["keygen", "--type", "rsa", "-o", "k.pem"],
        'sota-pack: --type must be ecdsa-p256 or ed25519, got "rsa"',
      ],
      [
        ["sign", "--key", f("p256-a.pem"), "--version", "2.0.0", f("image.bin")],
        "sota-pack: sign takes <in.bin> <out.bin>",
      ],
      [
        ["sign", "--key", f("p256-a.pem"), "--version", "V2_0", "a", "b"],
        'sota-pack: --version must be maj.min.rev+build (0-255.0-255.0-65535+0-4294967295), got "V2_0"',
      ],
      [
        ["sign", "--key", f("p256-a.pub.pem"), "--version", "2.0.0", f("image.bin"), "b"],
        `sota-pack: ${f("p256-a.pub.pem")} is a public key; sign needs the private key`,
      ],
      [
        ["sign", "--key", f("p256-a.pem"), "--version", "2.0.0", f("image.bin"), "b"],
        "sota-pack: the input does not start with 512 zero bytes for the header: use --pad-header",
      ],
      [
        [
          "sign",
          "--key",
          f("p256-a.pem"),
          "--version",
          "2",
          "--align",
          "3",
          "--pad-header",
          f("image.bin"),
          "b",
        ],
        "sota-pack: align must be 1, 2, 4, 8, 16 or 32, got 3",
      ],
      [
        [
          "sign",
          "--key",
          f("p256-a.pem"),
          "--version",
          "2",
          "--version-string",
          "V 2",
          "--pad-header",
          f("image.bin"),
          "b",
        ],
        "sota-pack: version string must be 1 to 64 printable ASCII characters without spaces",
      ],
      [["verify", f("imgtool-p256.bin")], "sota-pack: at least one --key is required"],
      [
        ["verify", "--key", f("p256-a.pub.pem"), "--min-security-counter", "x", f("imgtool-p256.bin")],
        'sota-pack: --min-security-counter expects a number, got "x"',
      ],
    ];
    for (const [args, expected] of cases) {
      const r = await cli(...args);
      assert.equal(r.code, EXIT.error, args.join(" "));
      assert.equal(r.err, `${expected}\n${USAGE}\n`, args.join(" "));
    }
    const io = await cli("verify", "--key", d("missing.pem"), f("imgtool-p256.bin"));
    assert.equal(io.code, EXIT.error);
    assert.match(io.err, /^sota-pack: error: ENOENT: no such file or directory, open '.*missing\.pem'\n$/);
    const notKey = await cli("verify", "--key", f("image.bin"), f("imgtool-p256.bin"));
    assert.equal(notKey.err, `sota-pack: error: ${f("image.bin")}: not a PEM private or public key\n`);
  });
});
