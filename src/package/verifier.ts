// Streaming verifier of an MCUboot-format package: fed the bytes in order, it hashes and collects the TLVs, then
// judges the hash, the signature against the trust list, the target version and the security counter.
import type { Digest, DigestFactory } from "../../hal/digest.js";
import type { SignatureAlgorithm, SignatureVerifier } from "../../hal/signature.js";
import {
  IMAGE_HEADER_SIZE,
  IMAGE_MAGIC,
  TLV,
  TLV_INFO_MAGIC,
  TLV_INFO_SIZE,
  TLV_PROT_INFO_MAGIC,
  formatImageVersion,
  parseHeader,
  readU16,
  readU32,
  walkTlvArea,
  type ImageHeader,
  type ImageVersion,
} from "./format.js";
import { TrustList, sameBytes, sha256 } from "./trust.js";
import { MAX_VERSION_STRING, isVersionStringByte, versionMatches } from "./version.js";

export type RefusalReason =
  | "malformed-header"
  | "bad-hash"
  | "bad-signature"
  | "unknown-key"
  | "revoked-key"
  | "unsigned"
  | "rollback"
  | "version-mismatch";

export type Verdict =
  | {
      ok: true;
      /** The header's version. */
      version: ImageVersion;
      /** The signed version string TLV, when the package has one. */
      versionString: string | undefined;
      /** The protected SEC_CNT TLV; 0 when the package has none. */
      securityCounter: number;
      /** Hash of the key whose signature verified. */
      keyHash: Uint8Array;
      /** Where the image body starts in the package (the header size) and its length. */
      imageOffset: number;
      imageSize: number;
    }
  | { ok: false; reason: RefusalReason; detail: string };

export interface VerifierOptions {
  digests: DigestFactory;
  signatures: SignatureVerifier;
  trust: TrustList;
  /** Largest image body accepted: the slot's size. */
  maxImageSize: number;
  /** Largest header, padding included (imgtool `--header-size`); default 0x1000. */
  maxHeaderSize?: number;
  /** Room for the protected and unprotected TLV areas together; default 1024 bytes. */
  maxTlvBytes?: number;
}

export interface Expectation {
  /** The plan's target version; null only for tools that show what a package holds. */
  targetVersion: string | null;
  /** The stored security counter: a package's counter must be at least this. */
  minSecurityCounter: number;
}

/** At most this many (key, signature) pairs are looked at; MCUboot's imgtool writes one. */
const MAX_SIGNATURES = 4;

const signatureTlvOf: Record<SignatureAlgorithm, number> = {
  "ecdsa-p256": TLV.ECDSA_SIG,
  ed25519: TLV.ED25519,
};

export class PackageVerifier {
  readonly #options: VerifierOptions;
  readonly #digest: Digest;
  readonly #headerBytes = new Uint8Array(IMAGE_HEADER_SIZE);
  readonly #tlv: Uint8Array;
  #expect: Expectation = { targetVersion: "", minSecurityCounter: 0 };
  #offset = 0;
  #header: ImageHeader | undefined;
  #hashEnd = 0;
  #tlvStart = 0;
  /** Package length, known once the unprotected TLV info is in. */
  #end = 0;
  #tlvFill = 0;
  #failure: { reason: RefusalReason; detail: string } | undefined;
  #started = false;

  constructor(options: VerifierOptions) {
    this.#options = options;
    this.#digest = options.digests.create("SHA256");
    this.#tlv = new Uint8Array(options.maxTlvBytes ?? 1024);
  }

  /** Starts a new package (the same object serves every update: its buffers are reused). */
  begin(expect: Expectation): void {
    this.#expect = expect;
    this.#digest.reset();
    this.#headerBytes.fill(0);
    this.#offset = 0;
    this.#header = undefined;
    this.#hashEnd = this.#tlvStart = this.#end = this.#tlvFill = 0;
    this.#failure = undefined;
    this.#started = true;
  }

  /** The parsed header once its 32 bytes are in (for routing the body on ESP32), else undefined. */
  get header(): ImageHeader | undefined {
    return this.#header;
  }

  /** Bytes taken so far. */
  get offset(): number {
    return this.#offset;
  }

  /** The first 32 header bytes and the TLV areas as received (to keep beside an ESP32 image). */
  headerBytes(): Uint8Array {
    return this.#headerBytes;
  }

  tlvBytes(): Uint8Array {
    return this.#tlv.subarray(0, this.#tlvFill);
  }

  #fail(reason: RefusalReason, detail: string): void {
    this.#failure ??= { reason, detail };
  }

  /** Takes the next bytes of the package. Never throws; a fault is kept for finish(). No allocation per call. */
  write(chunk: Uint8Array): void {
    if (!this.#started) throw new Error("PackageVerifier.write() before begin()");
    if (this.#failure || chunk.length === 0) return;
    const start = this.#offset;
    const n = chunk.length;
    let i = 0;
    // The header: copied into the fixed buffer, parsed at its 32nd byte.
    while (start + i < IMAGE_HEADER_SIZE && i < n) {
      this.#headerBytes[start + i] = chunk[i]!;
      i++;
    }
    if (!this.#header && start + i === IMAGE_HEADER_SIZE) {
      const o = this.#options;
      this.#header = parseHeader(this.#headerBytes, {
        maxImageSize: o.maxImageSize,
        maxHeaderSize: o.maxHeaderSize ?? 0x1000,
        maxProtectedTlvSize: this.#tlv.length - TLV_INFO_SIZE,
      });
      if (!this.#header) {
        this.#fail("malformed-header", headerProblem(this.#headerBytes, o));
        return;
      }
      this.#tlvStart = this.#header.headerSize + this.#header.imageSize;
      this.#hashEnd = this.#tlvStart + this.#header.protectedTlvSize;
    }
    // Hash: every byte before the end of the protected TLVs (the header bounds it from below by 32).
    const hashed = this.#header ? Math.max(0, Math.min(n, this.#hashEnd - start)) : n;
    if (hashed === n) this.#digest.write(chunk);
    else if (hashed > 0) this.#digest.write(chunk.subarray(0, hashed)); // once per package
    // TLV areas: copied into the bounded buffer.
    if (this.#header && start + n > this.#tlvStart) {
      for (let at = Math.max(i, this.#tlvStart - start); at < n; at++) {
        if (!this.#takeTlvByte(chunk[at]!)) {
          this.#offset = start + at;
          return;
        }
      }
    }
    this.#offset = start + n;
  }

  #takeTlvByte(byte: number): boolean {
    const header = this.#header!;
    if (this.#end !== 0 && this.#tlvStart + this.#tlvFill >= this.#end) {
      this.#fail("malformed-header", `bytes after the TLV area's end at offset ${this.#end}`);
      return false;
    }
    if (this.#tlvFill >= this.#tlv.length) {
      this.#fail("malformed-header", `TLV areas larger than ${this.#tlv.length} bytes`);
      return false;
    }
    this.#tlv[this.#tlvFill++] = byte;
    const infoEnd = header.protectedTlvSize + TLV_INFO_SIZE;
    if (this.#tlvFill === infoEnd) {
      const total = readU16(this.#tlv, header.protectedTlvSize + 2);
      if (readU16(this.#tlv, header.protectedTlvSize) !== TLV_INFO_MAGIC || total < TLV_INFO_SIZE) {
        this.#fail("malformed-header", "no TLV area (magic 0x6907) after the image and protected TLVs");
        return false;
      }
      if (header.protectedTlvSize + total > this.#tlv.length) {
        this.#fail("malformed-header", `TLV areas larger than ${this.#tlv.length} bytes`);
        return false;
      }
      this.#end = this.#tlvStart + header.protectedTlvSize + total;
    }
    return true;
  }

  /** Judges the package once every byte is in. */
  finish(): Verdict {
    if (!this.#started) throw new Error("PackageVerifier.finish() before begin()");
    this.#started = false;
    if (this.#failure) return { ok: false, ...this.#failure };
    const header = this.#header;
    if (!header) return refuse("malformed-header", `package of ${this.#offset} bytes ends inside the header`);
    if (this.#end === 0 || this.#offset < this.#end)
      return refuse("malformed-header", `package of ${this.#offset} bytes ends before its TLV area does`);

    // Protected TLVs: the security counter and the version string, each at most once.
    const tlv = this.#tlv;
    let securityCounter: number | undefined;
    let versionString: string | undefined;
    let protectedProblem = "";
    if (header.protectedTlvSize > 0) {
      const fine = walkTlvArea(tlv, 0, header.protectedTlvSize, TLV_PROT_INFO_MAGIC, (type, at, length) => {
        if (type === TLV.SEC_CNT) {
          if (securityCounter !== undefined || length !== 4) return !(protectedProblem = "bad SEC_CNT TLV");
          securityCounter = readU32(tlv, at);
        } else if (type === TLV.VERSION_STRING) {
          if (versionString !== undefined || length === 0 || length > MAX_VERSION_STRING)
            return !(protectedProblem = "bad version string TLV");
          let text = "";
          for (let i = at; i < at + length; i++) {
            if (!isVersionStringByte(tlv[i]!)) return !(protectedProblem = "bad version string TLV");
            text += String.fromCharCode(tlv[i]!);
          }
          versionString = text;
        }
        return true;
      });
      if (!fine) return refuse("malformed-header", protectedProblem || "malformed protected TLV area");
    }

    // Unprotected TLVs: the image hash and (key, signature) pairs, a signature using the key named before it.
    let hashAt = -1;
    let unprotectedProblem = "";
    let keyAt = -1;
    let keyLength = 0;
    const pairs: { keyAt: number; keyLength: number; type: number; at: number; length: number }[] = [];
    const fine = walkTlvArea(
      tlv,
      header.protectedTlvSize,
      this.#end - this.#tlvStart - header.protectedTlvSize,
      TLV_INFO_MAGIC,
      (type, at, length) => {
        if (type === TLV.SHA256) {
          if (hashAt >= 0 || length !== 32) return !(unprotectedProblem = "bad SHA256 TLV");
          hashAt = at;
        } else if (type === TLV.KEYHASH || type === TLV.PUBKEY) {
          if (type === TLV.KEYHASH && length !== 32) return !(unprotectedProblem = "bad KEYHASH TLV");
          keyAt = type === TLV.KEYHASH ? at : -2 - at; // a PUBKEY is hashed later: marked negative
          keyLength = length;
        } else if (type === TLV.ECDSA_SIG || type === TLV.ED25519) {
          if (keyAt !== -1) {
            if (pairs.length >= MAX_SIGNATURES)
              return !(unprotectedProblem = `more than ${MAX_SIGNATURES} signatures`);
            pairs.push({ keyAt, keyLength, type, at, length });
          }
        }
        return true;
      },
    );
    if (!fine) return refuse("malformed-header", unprotectedProblem || "malformed TLV area");

    const digest = this.#digest.close();
    if (hashAt < 0) return refuse("bad-hash", "no SHA256 TLV");
    if (!sameBytes(digest, tlv.subarray(hashAt, hashAt + 32)))
      return refuse(
        "bad-hash",
        "the SHA-256 of header, image and protected TLVs differs from the SHA256 TLV",
      );
    if (pairs.length === 0) return refuse("unsigned", "no signature TLV with a key hash before it");

    const { trust, signatures, digests } = this.#options;
    let outcome: { reason: RefusalReason; detail: string } | undefined;
    const rank: Record<string, number> = { "unknown-key": 0, "revoked-key": 1, "bad-signature": 2 };
    const worse = (reason: RefusalReason, detail: string) => {
      if (!outcome || rank[reason]! > rank[outcome.reason]!) outcome = { reason, detail };
    };
    for (const pair of pairs) {
      const keyHash =
        pair.keyAt >= 0
          ? tlv.slice(pair.keyAt, pair.keyAt + 32)
          : sha256(digests, tlv.subarray(-2 - pair.keyAt, -2 - pair.keyAt + pair.keyLength));
      const entry = trust.find(keyHash);
      if (!entry) {
        worse("unknown-key", `key ${hex(keyHash)} is not in the trust list`);
        continue;
      }
      if (entry.revoked || !entry.key) {
        worse("revoked-key", `key ${entry.name} (${hex(keyHash)}) is revoked`);
        continue;
      }
      const algorithm = entry.key.algorithm;
      if (pair.type !== signatureTlvOf[algorithm]) {
        worse(
          "bad-signature",
          `key ${entry.name} is ${algorithm}, the signature TLV is 0x${pair.type.toString(16)}`,
        );
        continue;
      }
      if (!signatures.supports(algorithm)) {
        worse("bad-signature", `this device cannot check ${algorithm} signatures`);
        continue;
      }
      if (
        !signatures.verify(algorithm, entry.key.raw, digest, tlv.subarray(pair.at, pair.at + pair.length))
      ) {
        worse("bad-signature", `the ${algorithm} signature by key ${entry.name} does not verify`);
        continue;
      }
      const target = this.#expect.targetVersion;
      if (target !== null && !versionMatches(target, header.version, versionString)) {
        const signed =
          versionString !== undefined
            ? `version string "${versionString}"`
            : formatImageVersion(header.version);
        return refuse(
          "version-mismatch",
          `the package is signed as ${signed}, the plan's target is "${target}"`,
        );
      }
      const counter = securityCounter ?? 0;
      if (counter < this.#expect.minSecurityCounter)
        return refuse(
          "rollback",
          `security counter ${counter} is below the stored ${this.#expect.minSecurityCounter}`,
        );
      return {
        ok: true,
        version: { ...header.version },
        versionString,
        securityCounter: counter,
        keyHash,
        imageOffset: header.headerSize,
        imageSize: header.imageSize,
      };
    }
    return { ok: false, ...outcome! };
  }
}

function refuse(reason: RefusalReason, detail: string): Verdict {
  return { ok: false, reason, detail };
}

function hex(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i++) text += (bytes[i]! < 16 ? "0" : "") + bytes[i]!.toString(16);
  return text;
}

function headerProblem(b: Uint8Array, o: VerifierOptions): string {
  if (readU32(b, 0) !== IMAGE_MAGIC) return `bad magic 0x${readU32(b, 0).toString(16)}`;
  const headerSize = readU16(b, 8);
  if (headerSize < IMAGE_HEADER_SIZE || headerSize > (o.maxHeaderSize ?? 0x1000))
    return `header size ${headerSize}`;
  if (readU32(b, 12) > o.maxImageSize)
    return `image size ${readU32(b, 12)} larger than the slot's ${o.maxImageSize}`;
  const flags = readU32(b, 16);
  const prot = readU16(b, 10);
  if (prot !== 0 && (prot < TLV_INFO_SIZE || prot > (o.maxTlvBytes ?? 1024) - TLV_INFO_SIZE))
    return `protected TLV size ${prot}`;
  return `unsupported flags 0x${flags.toString(16)} (encrypted or compressed)`;
}
