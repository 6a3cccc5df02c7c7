// reportVersion and runningVersion on a stand-in context: what reaches the module, and the owed report it leaves.
import { deepEqual, equal } from "../../lib/assert.js";
import type { EngineContext } from "../../../src/sota/context.js";
import { reportVersion, runningVersion } from "../../../src/sota/report.js";

function context(answer: boolean, set?: { committed(id: string): string }) {
  const sent: string[] = [];
  const logs: string[] = [];
  const ctx = {
    config: { component: "app" },
    session: { unreported: "" },
    boot: { report: { running: { version: "1.0.0" } } },
    set,
    progress: { log: (m: string) => logs.push(m), emit: (s: string, r: string) => logs.push(`${s}: ${r}`) },
    client: {
      reportVersion: (component: string, version: string) => {
        sent.push(`${component} ${version}`);
        return Promise.resolve(answer);
      },
    },
  } as unknown as EngineContext;
  return { ctx, sent, logs };
}

describe("src/sota report", () => {
  it("an empty version is never sent (it would delete the component in the module)", async () => {
    const { ctx, sent, logs } = context(true);
    equal(await reportVersion(ctx, ""), false);
    deepEqual(sent, []);
    deepEqual(logs, ["running version unknown (no boot record): not reported"]);
  });

  it("the component in work: a refused report is owed again, an accepted one clears it", async () => {
    const { ctx, sent, logs } = context(false);
    equal(await reportVersion(ctx, "1.0.0"), false);
    equal(ctx.session.unreported, "1.0.0");
    deepEqual(sent, ["app 1.0.0"]);
    deepEqual(logs, ["reporting: AT+QIOTMCUVER app 1.0.0"]);
    const ok = context(true);
    ok.ctx.session.unreported = "1.0.0";
    equal(await reportVersion(ok.ctx, "1.0.0"), true);
    equal(ok.ctx.session.unreported, "");
  });

  it("another component's report leaves the owed report of the one in work alone", async () => {
    const { ctx, sent } = context(false);
    equal(await reportVersion(ctx, "2.0", "cfg"), false);
    deepEqual(sent, ["cfg 2.0"]);
    equal(ctx.session.unreported, "");
  });

  it("runningVersion: boot control's without a set, the set's view of the component in work with one", () => {
    equal(runningVersion(context(true).ctx), "1.0.0");
    const { ctx } = context(true, { committed: (id) => `${id}-stored` });
    equal(runningVersion(ctx), "app-stored");
  });
});
