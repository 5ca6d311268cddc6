#!/bin/sh
':' //; exec node --max-semi-space-size=4 "$0" "$@"
'use strict';
// The two lines above are read by sh, which starts node with the flags it needs; node reads the
// second as a string and a comment. (Not `#!/usr/bin/env -S node ...`: BusyBox's env, as on Alpine,
// has no -S.) --max-semi-space-size=4: V8's young generation at most 4 MB a half (the default grows
// to 16). The analysis makes short-lived objects by the million; with the larger young generation
// the peak RSS grew with the size of the input (166 MB at 1 GiB, 197 MB on one thread), with this
// one it stays near 135 MB at the same speed (docs/performance.md). V8 reads it only at start-up;
// `node bin/mntrace.js` runs without it, NODE_OPTIONS can give it.
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
