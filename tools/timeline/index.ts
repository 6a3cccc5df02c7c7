// The timeline's entry points for the CLIs and the demo: record a run's events, draw them, write the SVG file.

import fs from "node:fs";
import type { TimelineEvent } from "./events.js";
import { timelineSvg } from "./svg.js";

export { TimelineRecorder, observeFlash } from "./events.js";
export type { TimelineEvent } from "./events.js";
export { buildTimeline } from "./model.js";
export { renderTimeline, timelineSvg } from "./svg.js";

/** Writes the timeline of `events` to `file` (SVG). */
export function writeTimeline(file: string, events: readonly TimelineEvent[]): void {
  fs.writeFileSync(file, timelineSvg(events));
}
