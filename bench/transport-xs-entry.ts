// Entry bundled for the XS measurement: exposes the portable workload to the xsnap evaluator.

import { runLexer, runTransport } from "./transport-workload.js";

const g = globalThis as Record<string, unknown>;
g.benchLexer = runLexer;
g.benchTransport = (reads: number) => {
  void runTransport(reads).then((n) => {
    g.benchTransportResult = n;
  });
};
