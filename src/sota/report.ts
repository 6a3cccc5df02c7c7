// The version report (AT+QIOTMCUVER for our component), shared by every phase that owes the module one.

import type { EngineContext } from "./context.js";

/** Reports `version` of `component` (default: the one in work); an unknown (empty) version is never reported. */
export async function reportVersion(
  ctx: EngineContext,
  version: string,
  component = ctx.config.component,
): Promise<boolean> {
  if (version === "") {
    // An empty version deletes the component in the module (docs/protocol.md §2): then no plan would ever match.
    ctx.progress.log("running version unknown (no boot record): not reported");
    return false;
  }
  ctx.progress.emit("reporting", `AT+QIOTMCUVER ${component} ${version}`);
  const reported = await ctx.client.reportVersion(component, version);
  // Unknown to the module, the component matches no plan: try again before asking for one.
  if (component === ctx.config.component) ctx.session.unreported = reported ? "" : version;
  return reported;
}

/** What runs of the component in work: a set knows each member's (the image's from boot control), else boot control. */
export function runningVersion(ctx: EngineContext): string {
  return ctx.set ? ctx.set.committed(ctx.config.component) : ctx.boot.report.running.version;
}
