// The SOTA engine end to end on the MCUboot backend: virtual module, simulated UART and flash, and the MCUboot model
// at every restart (portable). Shows the backend is a drop-in BootControl: 10705 after a good trial, a revert after
// a failed health check.
import { equal, ok } from "../../../lib/assert.js";
import { MemoryKeyValueStore } from "../../../../hal/sim/memory-kv.js";
import type { SystemPort } from "../../../../hal/system.js";
import { NobleDigestFactory } from "../../../../hal/sim/digest.js";
import { SimNorFlash } from "../../../../hal/sim/nor-flash.js";
import { createSerialLink } from "../../../../hal/sim/serial-link.js";
import { VirtualClock } from "../../../../hal/sim/virtual-clock.js";
import { planLayout } from "../../../../src/flash-format/layout.js";
import {
  formatMcuboot,
  makeTrailer,
  openMcuboot,
  type McubootBootReport,
} from "../../../../src/boot/mcuboot/mcuboot-boot.js";
import { SwapType, type SwapMode } from "../../../../src/boot/mcuboot/trailer.js";
import { ModuleClient } from "../../../../src/quecthing/client.js";
import { SotaEngine } from "../../../../src/sota/engine.js";
import { parsePlan } from "../../../../tools/module/plan.js";
import { VirtualModule } from "../../../../tools/module/virtual-module.js";
import { makeImage } from "../fixtures.js";
import { makeDeltaPackage } from "../../../../tools/delta/create.js";
import { mcubootReset } from "./mcuboot-sim.js";

const MINUTE = 60_000;
const OLD = makeImage(3000, 61);
const NEW = makeImage(3 * 4096 + 321, 62);

async function run(mode: SwapMode, healthy: boolean, delta = false) {
  const clock = new VirtualClock();
  const digests = new NobleDigestFactory();
  const link = createSerialLink({ clock, baud: 115200 });
  const flash = new SimNorFlash({ size: 20 * 4096, blockLength: 4096, writeAlign: 8, clock });
  const layout = planLayout(flash.status(), { slotLength: 8 * 4096 });
  const options = { mode };
  const trailer = makeTrailer(layout, options);
  formatMcuboot(flash, layout, digests, { component: "app", version: "1.0.0", bytes: OLD });
  const module = new VirtualModule({
    serial: link.b,
    clock,
    digests,
    plan: parsePlan({
      product: "pTest",
      components: [
        {
          id: "app",
          type: delta ? "diff" : "full",
          ...(delta ? { sourceVersion: "1.0.0" } : {}),
          targetVersion: "1.1.0",
          package: "pkg.bin",
          minBattery: 10,
          minSignal: -110,
        },
      ],
      settings: {
        deviceId: "mcuboot-device",
        productKey: "pTest",
        productSecret: "secret",
        downloadBytesPerSecond: 1_000_000,
      },
      faults: [],
    }),
    packages: () => (delta ? makeDeltaPackage(OLD, NEW) : NEW),
  });
  module.powerOn();
  const kv = new MemoryKeyValueStore();
  const boots: McubootBootReport[] = [];
  const decisions: number[] = [];
  let restartPending = false;
  let engine: SotaEngine | undefined;
  const boot = (): void => {
    const control = openMcuboot(flash, layout, digests, options);
    boots.push(control.report);
    const system: SystemPort = {
      restart: () => {
        restartPending = true;
      },
      batteryPercent: () => 100,
      deviceId: () => "mcuboot-device",
      log: () => {},
    };
    const current = new SotaEngine(
      {
        client: new ModuleClient(link.a, clock, { baud: 115200 }),
        clock,
        boot: control,
        system,
        kv,
        digests,
      },
      {
        component: "app",
        slotSize: control.maxImageSize,
        healthCheck: () => healthy,
        acceptDifferential: delta,
      },
    );
    engine = current;
    void current.start().then(() => {
      if (restartPending && engine === current) {
        restartPending = false;
        // The reset goes through MCUboot, which swaps, reverts or does nothing before the app starts again.
        decisions.push(mcubootReset(flash, layout, trailer).swapType);
        boot();
      }
    });
  };
  boot();
  const has = (event: string): boolean =>
    module.monitor.entries.some((e) => e.component === "app" && e.event === event);
  ok(await clock.runUntil(() => has("success") || has("failure"), 30 * MINUTE), "the OTA ended");
  await clock.run(2000);
  engine?.stop();
  return { boots, decisions, has, flash, layout };
}

describe("SOTA engine on the MCUboot backend", () => {
  for (const mode of ["offset", "move"] as const) {
    it(`${mode}: download into slot 1, test swap, trial confirmed with image_ok, 10705 with the new version`, async () => {
      const r = await run(mode, true);
      ok(r.has("success"), "module saw 10705");
      equal(r.decisions[0], SwapType.test, "MCUboot swapped the new image in as a test");
      const trial = r.boots[1]!;
      equal(trial.trial, true);
      equal(trial.running.version, "1.1.0");
      const bytes = r.flash.inspect(r.layout.slots[0].offset, NEW.length);
      ok(
        bytes.every((b, i) => b === NEW[i]),
        "slot 0 holds the new image",
      );
      // After the engine's confirm, MCUboot keeps the image at the next reset.
      equal(mcubootReset(r.flash, r.layout, makeTrailer(r.layout, { mode })).swapType, SwapType.none);
      const after = openMcuboot(r.flash, r.layout, new NobleDigestFactory(), { mode });
      equal(after.report.running.version, "1.1.0");
      equal(after.report.trial, false);
    });
  }

  for (const mode of ["offset", "move"] as const) {
    it(`${mode}: a delta package against the primary slot builds the new image in slot 1; MCUboot swaps it in`, async () => {
      const r = await run(mode, true, true);
      ok(r.has("success"), "module saw 10705");
      equal(r.decisions[0], SwapType.test);
      const bytes = r.flash.inspect(r.layout.slots[0].offset, NEW.length);
      ok(
        bytes.every((b, i) => b === NEW[i]),
        "slot 0 holds the new image",
      );
    });
  }

  it("offset: a failed health check leaves image_ok unset; the restart reverts and the module hears the old version", async () => {
    const r = await run("offset", false);
    ok(r.has("failure"), "module saw the OTA fail");
    equal(r.decisions[0], SwapType.test);
    equal(r.decisions[1], SwapType.revert, "MCUboot reverted at the restart after the rejection");
    const last = r.boots[r.boots.length - 1]!;
    equal(last.running.version, "1.0.0");
    equal(last.trial, false);
    const bytes = r.flash.inspect(r.layout.slots[0].offset, OLD.length);
    ok(
      bytes.every((b, i) => b === OLD[i]),
      "slot 0 holds the old image again",
    );
  });
});
