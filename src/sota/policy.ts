// Policy gates: decide whether a 10700 plan is confirmed or refused, with a reason the app can read.

import type { QuecEvent } from "../quecthing/events.js";
import { compareVersions } from "./version.js";

/** The fields of a 10700 offer. */
export type PlanOffer = Omit<Extract<QuecEvent, { kind: "plan" }>, "kind">;

export interface PolicyContext {
  component: string;
  runningVersion: string;
  allowDowngrade: boolean;
  batteryPercent: number;
  /** Signal from AT+CSQ in dBm, or undefined when the module does not know it. */
  signalDbm: number | undefined;
  slotSize: number;
  /** Differential packages are images for one source version that this device installs as they come. */
  acceptDifferential: boolean;
  /** What this device knows of the offered version: a rejected trial, or failed downloads. */
  history?: { rejectedReason: string; failures: number };
  /** Failed downloads of one version after which it is refused. */
  maxFailures: number;
}

export type RefusalCode =
  | "component"
  | "version"
  | "rejected"
  | "failures"
  | "differential"
  | "source-version"
  | "not-newer"
  | "battery"
  | "signal"
  | "space";

export type PolicyDecision =
  { accept: true; reason: string } | { accept: false; code: RefusalCode; reason: string };

export function decidePlan(plan: PlanOffer, context: PolicyContext): PolicyDecision {
  if (plan.component !== context.component) {
    return {
      accept: false,
      code: "component",
      reason: `component "${plan.component}" is not ours ("${context.component}")`,
    };
  }
  // Reporting "" would delete the component in the module (docs/protocol.md §2), and "" orders before every version.
  if (plan.targetVersion === "" || context.runningVersion === "") {
    return {
      accept: false,
      code: "version",
      reason: plan.targetVersion === "" ? "the plan has no target version" : "the running version is unknown",
    };
  }
  if (context.history?.rejectedReason) {
    return {
      accept: false,
      code: "rejected",
      reason: `${plan.targetVersion} was rolled back on this device (${context.history.rejectedReason})`,
    };
  }
  if (context.history && context.history.failures >= context.maxFailures) {
    return {
      accept: false,
      code: "failures",
      reason: `${plan.targetVersion} failed ${context.history.failures} times on this device`,
    };
  }
  // Nothing here patches a delta: a differential package is taken only as a whole image for its source version.
  if (plan.sourceVersion !== "" && !context.acceptDifferential) {
    return {
      accept: false,
      code: "differential",
      reason: `differential package from ${plan.sourceVersion}: this device installs full images only`,
    };
  }
  // A differential package only applies on top of the exact version it was built from.
  if (plan.sourceVersion !== "" && plan.sourceVersion !== context.runningVersion) {
    return {
      accept: false,
      code: "source-version",
      reason: `differential package for ${plan.sourceVersion}, running ${context.runningVersion}`,
    };
  }
  const order = compareVersions(plan.targetVersion, context.runningVersion);
  if (order === 0 || (order < 0 && !context.allowDowngrade)) {
    return {
      accept: false,
      code: "not-newer",
      reason:
        order === 0
          ? `already running ${plan.targetVersion}`
          : `downgrade to ${plan.targetVersion} from ${context.runningVersion} not allowed`,
    };
  }
  if (context.batteryPercent < plan.batteryMin) {
    return {
      accept: false,
      code: "battery",
      reason: `battery ${context.batteryPercent}% below the plan's minimum ${plan.batteryMin}%`,
    };
  }
  // A missing number prints as 0 (docs/protocol.md §9a), and real minimums are negative dBm: >= 0 means "no minimum".
  if (plan.signalMin < 0) {
    if (context.signalDbm === undefined) {
      return {
        accept: false,
        code: "signal",
        reason: `signal unknown, the plan needs ${plan.signalMin} dBm`,
      };
    }
    if (context.signalDbm < plan.signalMin) {
      return {
        accept: false,
        code: "signal",
        reason: `signal ${context.signalDbm} dBm below the plan's minimum ${plan.signalMin} dBm`,
      };
    }
  }
  if (plan.space > context.slotSize) {
    return {
      accept: false,
      code: "space",
      reason: `image of ${plan.space} bytes does not fit the ${context.slotSize}-byte slot`,
    };
  }
  return { accept: true, reason: `update ${context.runningVersion} -> ${plan.targetVersion}` };
}
