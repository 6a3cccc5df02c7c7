// Mocha reporter for test/run-all.mjs: the usual spec output, plus the counts written to a JSON file.
/* eslint-disable @typescript-eslint/no-require-imports */
const fs = require("node:fs");
const Mocha = require("mocha");

class SpecWithCounts extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    const countsFile = options?.reporterOption?.countsFile;
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      if (!countsFile) return;
      const { passes, failures, pending, tests } = runner.stats;
      fs.writeFileSync(countsFile, JSON.stringify({ passed: passes, failed: failures, pending, tests }));
    });
  }
}

module.exports = SpecWithCounts;
