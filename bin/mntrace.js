#!/usr/bin/env node
'use strict';
// Thin launcher: the CLI is compiled from TypeScript into dist/ by `npm ci` (prepare script).
let main;
try {
  main = require('../dist/src/cli/main.js').main;
} catch (err) {
  if (err && err.code === 'MODULE_NOT_FOUND') {
    process.stderr.write('mntrace: not built yet: run `npm ci` (or `npm run build`) in the mntrace checkout first\n');
    process.exit(2);
  }
  throw err;
}
main(process.argv).then((code) => { process.exitCode = code; }, (err) => {
  process.stderr.write(`mntrace: internal error: ${err && err.stack ? err.stack : err}\n`);
  process.exitCode = 2;
});
