// The SOTA engine on the ESP32 backend against the virtual module and the simulated ESP-IDF otadata/bootloader:
// a plain app image confirmed, one that dies before JavaScript rolled back and reported, a signed package (its
// body an ESP-IDF image) installed, a package signed by an unknown key refused with nothing activated, and a
// differential package applied from the running partition (and one for another base refused at its header).

import { readFileSync } from "node:fs";
import { equal, ok } from "../../../lib/assert.js";
import { toHex } from "../../../../hal/digest.js";
import { NobleDigestFactory } from "../../../../hal/sim/digest.js";
import {
  APP_ELF_SHA256_AT,
  PowerSwitch,
  PoweredKeyValueStore,
  SimEspIdf,
} from "../../../../hal/sim/esp-idf-otadata.js";
import { NobleSignatureVerifier } from "../../../../hal/sim/noble-signature.js";
import { createSerialLink } from "../../../../hal/sim/serial-link.js";
import type { SystemPort } from "../../../../hal/system.js";
import { VirtualClock } from "../../../../hal/sim/virtual-clock.js";
import { Esp32BootControl } from "../../../../src/boot/esp32/esp32-boot.js";
import type { BootReport } from "../../../../src/boot/types.js";
import { TrustList } from "../../../../src/package/trust.js";
import { PackageVerifier } from "../../../../src/package/verifier.js";
import { ModuleClient } from "../../../../src/quecthing/client.js";
import { SotaEngine } from "../../../../src/sota/engine.js";
import { parsePlan } from "../../../../tools/module/plan.js";
import { VirtualModule } from "../../../../tools/module/virtual-module.js";
import { loadKeyPem } from "../../../../tools/pack/keys.js";
import { pack } from "../../../../tools/pack/pack.js";
import { makeDeltaPackage } from "../../../../tools/delta/create.js";
import { decodeBase64 } from "../../../../src/package/keys.js";
import { packages, publicKeys } from "../../../fixtures/signed/fixtures.js";
import { makeImage } from "../fixtures.js";

const MINUTE = 60_000;
const BLOCK = 4096;
const digests = new NobleDigestFactory();

function appImage(size: number, seed: number): Uint8Array {
  const bytes = makeImage(size, seed);
  bytes[0] = 0xe9;
  bytes.fill(seed, APP_ELF_SHA256_AT, APP_ELF_SHA256_AT + 32);
  return bytes;
}
const OLD = appImage(3000, 71);
const NEW = appImage(2 * BLOCK + 321, 72);
const idOf = (image: Uint8Array) => toHex(image.subarray(APP_ELF_SHA256_AT, APP_ELF_SHA256_AT + 32));

function verifier(): PackageVerifier {
  const trust = TrustList.fromConfig(digests, [publicKeys["p256-a.pub.pem"]!], []);
  return new PackageVerifier({
    digests,
    signatures: new NobleSignatureVerifier(),
    trust,
    maxImageSize: 8 * BLOCK,
  });
}

interface Run {
  boots: BootReport[];
  notices: string[];
  has(event: string): boolean;
  sim: SimEspIdf;
  activations: number;
}

async function run(served: Uint8Array, dies: boolean, signed: boolean, delta = false): Promise<Run> {
  const clock = new VirtualClock();
  const link = createSerialLink({ clock, baud: 115200 });
  const power = new PowerSwitch();
  const sim = new SimEspIdf(
    { partitionSize: 8 * BLOCK, blockLength: BLOCK, bootloaderRollback: true, appRollback: true, power },
    OLD,
  );
  const kv = new PoweredKeyValueStore(power);
  const module = new VirtualModule({
    serial: link.b,
    clock,
    digests,
    plan: parsePlan({
      product: "pTest",
      components: [
        {
          id: "app",
          ...(delta ? { type: "diff", sourceVersion: "1.0.0" } : { type: "full" }),
          targetVersion: "2.0.0",
          package: "pkg.bin",
          minBattery: 10,
          minSignal: -110,
        },
      ],
      settings: {
        deviceId: "esp32-device",
        productKey: "pTest",
        productSecret: "secret",
        downloadBytesPerSecond: 1_000_000,
      },
      faults: [],
    }),
    packages: () => served,
  });
  module.powerOn();
  const result: Run = {
    boots: [],
    notices: [],
    has: (event) => module.monitor.entries.some((e) => e.component === "app" && e.event === event),
    sim,
    activations: 0,
  };
  let restartPending = false;
  let engine: SotaEngine | undefined;
  const boot = (): void => {
    // A reset: the bootloader decides, and an image that dies before JavaScript resets again at once.
    for (let resets = 0; ; resets++) {
      const index = sim.boot();
      if (!(dies && sim.appId(index) === idOf(NEW))) break;
      ok(resets < 4, "the bootloader rolls the dead image back");
    }
    const isNew = sim.appId(sim.running) === idOf(NEW);
    const ota = sim.port();
    const select = ota.selectNext;
    ota.selectNext = (first) => {
      result.activations++;
      select(first);
    };
    const control = new Esp32BootControl(
      { flash: sim.appFlash(), ota, digests, kv, running: sim.runningFlash() },
      { component: "app", version: isNew ? "2.0.0" : "1.0.0" },
    );
    // A copy: confirm() updates the live report.
    result.boots.push({ ...control.report, running: { ...control.report.running } });
    result.notices.push(...control.notices);
    const system: SystemPort = {
      restart: () => {
        restartPending = true;
      },
      batteryPercent: () => 100,
      deviceId: () => "esp32-device",
      log: () => {},
    };
    const current = new SotaEngine(
      {
        client: new ModuleClient(link.a, clock, { baud: 115200 }),
        clock,
        boot: control,
        system,
        kv,
        packages: signed ? verifier() : undefined,
        digests,
      },
      {
        component: "app",
        slotSize: 8 * BLOCK + 0x1000,
        healthCheck: () => true,
        acceptDifferential: delta,
      },
    );
    engine = current;
    void current.start().then(() => {
      if (restartPending && engine === current) {
        restartPending = false;
        boot();
      }
    });
  };
  boot();
  ok(
    await clock.runUntil(() => result.has("success") || result.has("failure"), 30 * MINUTE),
    "the OTA ended",
  );
  await clock.run(2000);
  engine?.stop();
  return result;
}

function signedPackage(body: Uint8Array): Uint8Array {
  const key = loadKeyPem(readFileSync("test/fixtures/signed/p256-a.pem", "utf8"), "key");
  return pack(
    {
      image: body,
      version: { major: 2, minor: 0, revision: 0, build: 0 },
      headerSize: 0x200,
      padHeader: true,
      align: 4,
      securityCounter: 1,
      signer: { algorithm: key.algorithm, spki: key.spki, sign: key.sign! },
    },
    digests,
  );
}

describe("SOTA engine on the ESP32 backend (simulated ESP-IDF)", () => {
  it("a plain app image: downloaded, selected, trial boot PENDING_VERIFY, confirmed VALID, 10705", async () => {
    const r = await run(NEW, false, false);
    ok(r.has("success"), "module saw 10705");
    const trial = r.boots[1]!;
    equal(trial.trial, true);
    equal(trial.running.version, "2.0.0");
    equal(r.sim.appId(r.sim.running), idOf(NEW));
    equal(r.sim.stateOf(r.sim.running), 2, "VALID after confirm");
    equal(r.activations, 1);
  });

  it("an image that dies before JavaScript: the bootloader aborts it, start-up reports the rollback, no second activation", async () => {
    const r = await run(NEW, true, false);
    ok(r.has("failure"), "module saw the OTA fail");
    const after = r.boots[1]!;
    equal(after.running.version, "1.0.0");
    equal(after.rollbackReason, "trial not confirmed");
    equal(r.activations, 1);
    equal(r.sim.stateOf(1), 4, "ota_1 ABORTED");
  });

  it("a signed package whose body is the app image: body at partition offset 0, verified, installed", async () => {
    const r = await run(signedPackage(NEW), false, true);
    ok(r.has("success"), "module saw 10705");
    equal(r.sim.appId(r.sim.running), idOf(NEW));
    ok(
      r.sim.partitions[1].inspect(0, NEW.length).every((b, i) => b === NEW[i]),
      "the partition holds the body, not the package",
    );
  });

  it("a package signed by an unknown key: refused before activation, the old image keeps running", async () => {
    const r = await run(decodeBase64(packages["imgtool-p256-stranger.bin"]!)!, false, true);
    ok(r.has("failure"));
    equal(r.activations, 0);
    equal(r.boots.length, 1);
    equal(r.sim.running, 0);
  });

  it("a differential package: applied from the running partition into the next one, byte for byte, confirmed", async () => {
    const r = await run(makeDeltaPackage(OLD, NEW), false, false, true);
    ok(r.has("success"), "module saw 10705");
    equal(r.sim.running, 1);
    equal(r.sim.stateOf(1), 2, "VALID after confirm");
    ok(
      r.sim.partitions[1].inspect(0, NEW.length).every((b, i) => b === NEW[i]),
      "the next partition holds the target image the patch built",
    );
  });

  it("a differential package for another base: refused at its header, nothing erased or activated", async () => {
    const other = appImage(3000, 99);
    const r = await run(makeDeltaPackage(other, NEW), false, false, true);
    ok(r.has("failure"));
    equal(r.activations, 0);
    equal(r.sim.running, 0);
    ok(
      r.sim.partitions[1].inspect(0, BLOCK).every((b) => b === 0xff),
      "ota_1 untouched (still erased)",
    );
  });
});
